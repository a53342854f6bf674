"""Detection rules one at a time, traps first: each case is a small .env.example read in memory."""

from __future__ import annotations

import pytest

from devstack.init import detect, sources


def decide(text: str, filename: str = ".env.example"):
    result = detect.detect(sources.parse(text, filename, filename), "shop")
    return result, {d.var.name: d for d in result.decisions if d.written or d.category == "skipped"}


def labels(text: str, filename: str = ".env.example") -> dict[str, str]:
    result, _ = decide(text, filename)
    out: dict[str, str] = {}
    for d in result.decisions:
        out.setdefault(d.var.name, d.label)
    return out


def kinds_of(text: str) -> set[str]:
    return {s.kind for s in decide(text)[0].services}


def test_cloudflare_turnstile_is_a_captcha_with_test_keys_not_turn():
    result, d = decide("NEXT_PUBLIC_TURNSTILE_SITE_KEY=\nTURNSTILE_SECRET_KEY=\n")
    assert "coturn" not in {s.kind for s in result.services}
    assert d["NEXT_PUBLIC_TURNSTILE_SITE_KEY"].value == "1x00000000000000000000AA"
    assert d["TURNSTILE_SECRET_KEY"].value == "1x0000000000000000000000000000000AA"
    assert {d["TURNSTILE_SECRET_KEY"].category, d["NEXT_PUBLIC_TURNSTILE_SITE_KEY"].category} == {"off"}


@pytest.mark.parametrize("line", ["GITHUB_CLIENT_SECRET=sk_test_abc", "AUTH_GOOGLE_CLIENT_SECRET=", "OPENAI_API_KEY=sk-proj-123",
                                  "CLERK_SECRET_KEY=sk_test_123", "CLERK_WEBHOOK_SECRET=whsec_123"])
def test_other_services_secrets_are_not_stripe(line):
    name = line.split("=")[0]
    assert labels(line + "\n")[name] == "config"
    assert "stripe" not in kinds_of(line + "\n")


def test_stripe_keys_by_name_and_by_value_shape():
    got = labels("STRIPE_KEY=pk_test_x\nSTRIPE_SECRET=sk_test_x\nSTRIPE_ENDPOINT_SECRET=whsec_x\nSTRIPE_PRO_PRICE=price_123\n"
                 "BILLING_WEBHOOK_KEY=whsec_abc\n")
    assert got == {"STRIPE_KEY": "stripe.publishable_key", "STRIPE_SECRET": "stripe.secret_key",
                   "STRIPE_ENDPOINT_SECRET": "stripe.webhook_secret", "STRIPE_PRO_PRICE": "stripe",
                   "BILLING_WEBHOOK_KEY": "stripe.webhook_secret"}


def test_a_commented_out_mysql_url_is_not_postgres():
    result, d = decide("# DATABASE_URL=mysql://root:root@localhost:3306/shop\nREDIS_URL=redis://localhost\n")
    assert "postgres" not in {s.kind for s in result.services}
    assert d["DATABASE_URL"].category == "skipped" and not d["DATABASE_URL"].written


def test_the_active_line_beats_its_commented_alternative():
    result, _ = decide("DATABASE_URL=postgresql://localhost/shop\n# DATABASE_URL=mysql://localhost/shop\n")
    chosen, dropped = result.decisions[0], result.decisions[1]
    assert chosen.label == "postgres.url" and chosen.value == "{{ db.url }}"
    assert dropped.category == "skipped" and "active line" in dropped.reason


def test_a_mysql_driver_makes_the_whole_db_family_mysql():
    got = labels("DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\nDB_DATABASE=shop\nREDIS_HOST=localhost\n")
    assert got["DB_HOST"] == got["DB_DATABASE"] == "config"
    assert "postgres" not in kinds_of("DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\n")


def test_clickhouse_and_sqlite_database_urls_are_not_postgres():
    got = labels("CLICKHOUSE_DATABASE_URL=http://localhost:8123/events\nDATABASE_URL=file:./dev.db\n")
    assert got == {"CLICKHOUSE_DATABASE_URL": "config", "DATABASE_URL": "config"}


def test_a_contact_sync_key_is_not_mail_sending():
    result, d = decide("SENDGRID_SYNC_API_KEY=\nMAILCHIMP_API_KEY=\n")
    assert result.services == []
    assert d["SENDGRID_SYNC_API_KEY"].category == "config"


def test_nextauth_secret_is_a_generated_app_secret_sized_by_the_comment():
    result, d = decide("# make one with `openssl rand -base64 32`\nNEXTAUTH_SECRET=\n")
    assert result.services == []
    assert d["NEXTAUTH_SECRET"].value == "{{ secrets.nextauth_secret }}"
    assert [(s.name, s.spec) for s in result.secrets] == [("nextauth_secret", "base64:32")]


@pytest.mark.parametrize(("text", "spec"), [
    ("# openssl rand -hex 16\nSESSION_SECRET=\n", "hex:16"),
    ("SECRET_KEY_BASE=\n", "hex:64"),
    ("JWT_SECRET=changeme\n", "hex:32"),
    ("APP_SECRET=3f5c0e0a9b1d2c4e6f8a0b1c2d3e4f50\n", "hex:16"),
    ("# an Ed25519 private key\nLICENSE_SIGNING_KEY=\n", "ed25519"),
])
def test_secret_sizes(text, spec):
    result, _ = decide(text)
    assert [s.spec for s in result.secrets] == [spec]


def test_laravel_app_key_gets_the_base64_prefix():
    _, d = decide("APP_KEY=\n")
    assert d["APP_KEY"].value == "base64:{{ secrets.app_key }}"


def test_split_postgres_settings_in_every_family():
    for prefix in ("DB", "DATABASE", "POSTGRES", "PG"):
        got = labels(f"{prefix}_HOST=localhost\n{prefix}_PORT=5432\n{prefix}_USER=app\n{prefix}_PASSWORD=pw\n{prefix}_NAME=shop\n")
        assert got == {f"{prefix}_HOST": "postgres.host", f"{prefix}_PORT": "postgres.port", f"{prefix}_USER": "postgres.user",
                       f"{prefix}_PASSWORD": "postgres.password", f"{prefix}_NAME": "postgres.database"}, prefix
    assert labels("PGHOST=\nPGUSER=\nPGSSLMODE=require\n") == {"PGHOST": "postgres.host", "PGUSER": "postgres.user", "PGSSLMODE": "postgres"}


def test_prefixed_and_direct_urls_share_the_database_and_a_shadow_one_is_a_second_database():
    result, d = decide("NEXT_PRIVATE_DATABASE_URL=postgres://u:p@localhost/shop?schema=public&sslmode=require\n"
                       "DATABASE_DIRECT_URL=postgres://u:p@localhost/shop\n"
                       "SHADOW_DATABASE_URL=\n")
    (db,) = result.services
    assert db.options["database"] == "shop" and db.options["databases"] == ["shop_shadow"]
    assert d["NEXT_PRIVATE_DATABASE_URL"].value == "{{ db.url }}?schema=public&sslmode=disable"
    assert d["DATABASE_DIRECT_URL"].value == "{{ db.url }}"
    assert d["SHADOW_DATABASE_URL"].value == "{{ db.base_url }}/shop_shadow"


def test_redis_host_and_port_queue_urls_and_db_numbers():
    _, d = decide("REDIS_HOST=localhost\nREDIS_PORT=6379\nBULL_REDIS_URL=\nCELERY_BROKER_URL=redis://localhost:6379/2\n"
                  "QUEUE_URL=redis://localhost:6379\nREDIS_ADDR=localhost:6379\n")
    assert d["REDIS_HOST"].value == "{{ redis.host }}" and d["REDIS_PORT"].value == "{{ redis.port }}"
    assert d["BULL_REDIS_URL"].value == "{{ redis.url }}" and d["QUEUE_URL"].value == "{{ redis.url }}"
    assert d["CELERY_BROKER_URL"].value == "redis://:{{ redis.password }}@{{ redis.host }}:{{ redis.port }}/2"
    assert d["REDIS_ADDR"].value == "{{ redis.host }}:{{ redis.port }}"


def test_a_rabbitmq_broker_is_not_redis():
    assert labels("CELERY_BROKER_URL=amqp://guest@localhost//\n") == {"CELERY_BROKER_URL": "config"}


@pytest.mark.parametrize("names", [
    "AWS_S3_BUCKET=files\nAWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\nAWS_REGION=\n",
    "S3_BUCKET=files\nS3_ACCESS_KEY=\nS3_SECRET_KEY=\nS3_REGION=\n",
    "SPACES_BUCKET=files\nSPACES_KEY=\nSPACES_SECRET=\nSPACES_REGION=\n",
    "UPLOAD_BUCKET=files\nUPLOAD_ACCESS_KEY_ID=\nUPLOAD_SECRET_ACCESS_KEY=\nUPLOAD_REGION=\n",
])
def test_s3_families(names):
    got = labels(names)
    assert sorted(got.values()) == ["minio.access_key", "minio.bucket", "minio.region", "minio.secret_key"], got
    assert decide(names)[0].services[0].options["buckets"] == ["files"]


def test_aws_keys_alone_are_not_s3():
    result, d = decide("AWS_ACCESS_KEY_ID=\nAWS_SECRET_ACCESS_KEY=\nAWS_SES_REGION=us-east-1\n")
    assert result.services == [] and d["AWS_ACCESS_KEY_ID"].category == "config"


@pytest.mark.parametrize(("text", "want"), [
    ("SMTP_HOST=\nSMTP_PORT=\nSMTP_USER=\nSMTP_PASS=\n", {"SMTP_HOST": "mailpit.smtp_host", "SMTP_PORT": "mailpit.smtp_port",
                                                           "SMTP_USER": "mailpit.smtp_user", "SMTP_PASS": "mailpit.smtp_password"}),
    ("EMAIL_SERVER=smtp://user:pw@smtp.example:587\nEMAIL_FROM=a@b.c\n", {"EMAIL_SERVER": "mailpit.smtp_url", "EMAIL_FROM": "mailpit.from"}),
    ("MAIL_URL=smtp://localhost:25\n", {"MAIL_URL": "mailpit.smtp_url"}),
    ("EMAIL_HOST=\nEMAIL_HOST_USER=\nEMAIL_HOST_PASSWORD=\nEMAIL_USE_TLS=True\n",
     {"EMAIL_HOST": "mailpit.smtp_host", "EMAIL_HOST_USER": "mailpit.smtp_user", "EMAIL_HOST_PASSWORD": "mailpit.smtp_password",
      "EMAIL_USE_TLS": "mailpit"}),
])
def test_smtp_families(text, want):
    assert labels(text) == want


def test_tls_switches_are_turned_off_in_the_examples_own_style():
    _, d = decide("EMAIL_HOST=\nEMAIL_USE_TLS=True\nSMTP_SECURE=true\nMAIL_HOST=\nMAIL_ENCRYPTION=tls\nDB_HOST=\nDB_SSLMODE=require\n")
    assert [d[n].value for n in ("EMAIL_USE_TLS", "SMTP_SECURE", "MAIL_ENCRYPTION", "DB_SSLMODE")] == ["False", "false", "null", "disable"]


@pytest.mark.parametrize(("line", "provider"), [("SENDGRID_API_KEY=", "sendgrid"), ("RESEND_API_KEY=", "resend"),
                                                ("POSTMARK_SERVER_TOKEN=", "postmark"), ("MAILGUN_API_KEY=", "mailgun")])
def test_email_apis_become_the_stub_delivering_into_an_inbox(line, provider):
    result, d = decide(line + "\n")
    by_kind = {s.kind: s for s in result.services}
    assert by_kind["email_api"].options == {"provider": provider, "inbox": "mail"}
    assert by_kind["mailpit"].mode == "stub"
    assert d[line.rstrip("=")].value == "{{ email.api_key }}"


def test_turn_stun_and_livekit():
    got = labels("TURN_URL=turn:turn.example:3478\nSTUN_URL=stun:stun.example:3478\nTURN_STATIC_AUTH_SECRET=\n"
                 "LIVEKIT_URL=wss://x.livekit.cloud\nLIVEKIT_HOST=https://x.livekit.cloud\nLIVEKIT_API_KEY=\nLIVEKIT_API_SECRET=\n")
    assert got == {"TURN_URL": "coturn.url", "STUN_URL": "coturn.stun_url", "TURN_STATIC_AUTH_SECRET": "coturn.secret",
                   "LIVEKIT_URL": "livekit.url", "LIVEKIT_HOST": "livekit.http_url", "LIVEKIT_API_KEY": "livekit.api_key",
                   "LIVEKIT_API_SECRET": "livekit.api_secret"}


def test_what_is_stubbed_or_turned_off():
    result, d = decide("SENTRY_DSN=https://abc@o1.ingest.sentry.io/2\nSENTRY_AUTH_TOKEN=x\nNEXT_PUBLIC_POSTHOG_KEY=phc_x\n"
                       "NEW_RELIC_LICENSE_KEY=x\nSEGMENT_WRITE_KEY=x\nNEXT_TELEMETRY_DISABLED=1\nDO_NOT_TRACK=\n"
                       "LAUNCHDARKLY_SDK_KEY=x\nVAULT_ADDR=https://vault:8200\nCDN_URL=https://cdn.example\n"
                       "# feature flags\nFEATURE_FLAGS_URL=https://flags.example\n")
    assert {s.kind: s.mode for s in result.services} == {"sentry": "stub", "posthog": "stub", "flags": "stub"}
    assert d["SENTRY_DSN"].value == "{{ sentry.dsn }}" and d["FEATURE_FLAGS_URL"].value == "{{ flags.url }}"
    for name, value in {"SENTRY_AUTH_TOKEN": "", "NEW_RELIC_LICENSE_KEY": "", "SEGMENT_WRITE_KEY": "", "NEXT_TELEMETRY_DISABLED": "1",
                        "DO_NOT_TRACK": "1", "LAUNCHDARKLY_SDK_KEY": "", "VAULT_ADDR": "", "CDN_URL": ""}.items():
        assert (d[name].category, d[name].value) == ("off", value), name


def test_prose_cues_pick_modes():
    doc = ("## Email\n\n```env\nSMTP_HOST=smtp.example\n```\n\n**Local Development:** emails are logged to the console.\n\n"
           "## Analytics\n\n```env\nPOSTHOG_API_KEY=\n```\n\nDisabled by default in development.\n\n"
           "## TURN\n\n```env\nTURN_HOST=\n```\n\nLocal development: not needed on localhost.\n")
    result, _ = decide(doc, "DEPENDENCIES.md")
    assert {s.kind: s.mode for s in result.services} == {"mailpit": "stub", "posthog": "off", "coturn": "off"}


def test_a_variable_that_names_another_gets_its_value():
    _, d = decide("PUSHER_APP_KEY=\nVITE_PUSHER_APP_KEY=\"${PUSHER_APP_KEY}\"\nREDIS_URL=\nCACHE_REDIS=${REDIS_URL}\n")
    assert d["VITE_PUSHER_APP_KEY"].value == ""
    assert d["CACHE_REDIS"].value == "{{ redis.url }}"


def test_an_app_prefix_is_looked_through():
    got = labels("ACME_DATABASE_HOST=\nACME_DATABASE_PASSWORD=\nACME_REDIS_URL=\nACME_SMTP_HOST=\nACME_JWT_SECRET=\n")
    assert got == {"ACME_DATABASE_HOST": "postgres.host", "ACME_DATABASE_PASSWORD": "postgres.password",
                   "ACME_REDIS_URL": "redis.url", "ACME_SMTP_HOST": "mailpit.smtp_host", "ACME_JWT_SECRET": "secret"}


def test_every_role_the_rules_name_is_an_output_the_catalog_declares():
    from devstack.init import kinds, rules

    assert set(rules.RULES) <= set(kinds.names())
    for kind, rule in rules.RULES.items():
        unknown = [role for role, _ in rule.roles if not role.startswith("@") and role not in kinds.outputs(kind)]
        assert not unknown, f"{kind}: {unknown} are not outputs of the kind"
