"""`devstack init && devstack up` on the fixtures, natively, without edits.

For each dependency document: every variable it names is in .env, and every
service it says can run locally answers the client an app would use. For every
other fixture app: every service comes up ready and .env holds every variable
the manifest maps. Each stack is brought down with `down --volumes`.
"""

from __future__ import annotations

import json
import shutil
import smtplib
import urllib.request

import pytest
from dotenv import dotenv_values

from tests.init.cases import APPS, FIXTURES, SEEDS, expected
from tests.runtime.conftest import Stack, finish, needs_servers

pytestmark = needs_servers


@pytest.fixture
def project(tmp_path, devstack_home):
    """init_and_up(name) -> (stack, env): a copy of fixtures/init/<name>, initialised and up; always torn down."""
    stacks: list[Stack] = []

    def init_and_up(name: str):
        root = tmp_path / name
        shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("expected.yaml"))
        stack = Stack(root, devstack_home)
        stacks.append(stack)
        result = stack.cli("init")
        assert "wrote devstack.yaml" in result.stderr and "Traceback" not in result.stderr
        first = stack.up(timeout=180, check=False)
        if first.returncode != 0 and "is taken by another program" in first.stderr:
            stack.up(timeout=180)  # another program took a free port meanwhile; as the hint says, `up` again picks another
        elif first.returncode != 0:
            raise AssertionError(f"devstack up exited {first.returncode}:\n{first.stderr}")
        env_file = root / (json.loads(stack.cli("init", "--dry-run", "--json").stdout)["env_file"])
        return stack, dotenv_values(env_file)

    yield init_and_up
    errors = []
    for stack in stacks:
        try:
            finish(stack)
        except AssertionError as exc:
            errors.append(str(exc))
    assert not errors, "\n".join(errors)


def all_ready(stack: Stack) -> None:
    states = {name: s["state"] for name, s in stack.status().items() if s["mode"] != "off"}
    assert set(states.values()) == {"ready"}, states


def check_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS init_probe (id int)")
        conn.execute("INSERT INTO init_probe VALUES (1)")
        assert conn.execute("SELECT count(*) FROM init_probe").fetchone()[0] >= 1


def check_redis(**kwargs) -> None:
    import redis

    client = redis.Redis(socket_timeout=10, **kwargs) if "url" not in kwargs else redis.Redis.from_url(kwargs["url"], socket_timeout=10)
    assert client.ping()
    client.set("init:probe", "1")
    assert client.get("init:probe") == b"1"
    client.close()


def check_s3(endpoint: str, key: str, secret: str, region: str, bucket: str | None = None) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name=region or "us-east-1")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    bucket = bucket or buckets[0]
    assert bucket in buckets
    s3.put_object(Bucket=bucket, Key="init/probe.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="init/probe.txt")["Body"].read() == b"hello"


def check_stripe(secret_key: str, api_base: str) -> None:
    import stripe

    client = stripe.StripeClient(secret_key, base_addresses={"api": api_base})
    customer = client.v1.customers.create(params={"email": "init@example.com"})
    assert client.v1.customers.retrieve(customer.id).email == "init@example.com"


def inbox(mailpit_url: str) -> list[dict]:
    with urllib.request.urlopen(mailpit_url + "/api/v1/messages", timeout=10) as response:
        return json.load(response)["messages"]


def test_railgun_document(project):
    stack, env = project("railgun")
    missing = [v for v in expected("railgun")["variables"] if v not in env]
    assert not missing, f".env lacks {missing}"
    all_ready(stack)
    check_postgres(env["DATABASE_URL"])
    check_postgres(f"host={env['DATABASE_HOST']} port={env['DATABASE_PORT']} user={env['DATABASE_USER']} "
                   f"password={env['DATABASE_PASSWORD']} dbname={env['DATABASE_NAME']}")
    check_redis(url=env["REDIS_URL"])
    check_redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), password=env["REDIS_PASSWORD"])
    check_stripe(env["STRIPE_SECRET_KEY"], env["STRIPE_API_BASE"])
    assert env["STRIPE_PUBLISHABLE_KEY"].startswith("pk_test_") and env["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    check_s3(env["AWS_ENDPOINT_URL_S3"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_S3_REGION"], env["AWS_S3_BUCKET"])
    assert env["AWS_S3_BUCKET"] == "railgun-assets" and env["CDN_BASE_URL"] == f"{env['AWS_ENDPOINT_URL_S3']}/railgun-assets"
    # Email: "logged to the console" -> devstack's SMTP catcher, the mail readable over its API
    with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=10) as smtp:
        smtp.login(env["SMTP_USER"], env["SMTP_PASS"])
        smtp.sendmail(env["EMAIL_FROM"], ["hana@example.com"], f"From: {env['EMAIL_FROM']}\r\nSubject: reset\r\n\r\nlink")
    assert [m["Subject"] for m in inbox(env["MAILPIT_URL"])] == ["reset"]
    # The feature-flag server serves the document's own config
    with urllib.request.urlopen(env["RAILGUN_CONFIG_URL"], timeout=10) as response:
        assert json.load(response)["flags"]["voip_phone"]["enabled"] is True
    # Skipped in development: TURN off, analytics off; the SFU is the LiveKit stand-in
    assert env["ANALYTICS_ENABLED"] == "false" and env["POSTHOG_API_KEY"] == "" and env["TURN_HOST"] == ""
    assert env["SFU_ENDPOINT"].startswith("ws://127.0.0.1:") and env["SFU_API_KEY"]


def test_drone_school_document(project):
    stack, env = project("drone-school")
    missing = [v for v in expected("drone-school")["variables"] if v not in env]
    assert not missing, f".env lacks {missing}"
    all_ready(stack)
    check_postgres(env["DATABASE_URL"])
    assert env["PGSSLMODE"] == "disable"
    check_redis(url=env["REDIS_URL"])
    check_stripe(env["STRIPE_API_KEY"], env["STRIPE_API_BASE"])
    check_s3(env["AWS_ENDPOINT_URL_S3"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"], env["AWS_S3_BUCKET"])
    assert len(env["JWT_SECRET"]) == 64  # `openssl rand -hex 32`, as the document says
    # Transactional email: the SendGrid-shaped API delivers into the local inbox
    body = json.dumps({"personalizations": [{"to": [{"email": "student@example.com"}]}], "from": {"email": env["EMAIL_FROM_ADDRESS"]},
                       "subject": "Welcome aboard", "content": [{"type": "text/plain", "value": "Your course starts Monday."}]}).encode()
    request = urllib.request.Request(env["EMAIL_API_BASE"] + "/v3/mail/send", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {env['EMAIL_API_KEY']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    assert env["EMAIL_PROVIDER"] == "sendgrid"
    assert [m["Subject"] for m in inbox(env["MAILPIT_URL"])] == ["Welcome aboard"]
    assert env["SENTRY_DSN"].startswith("http://") and env["NEW_RELIC_LICENSE_KEY"] == ""


def test_between_sessions_document(project):
    stack, env = project("between-sessions")
    missing = [v for v in expected("between-sessions")["variables"] if v not in env]
    assert not missing, f".env lacks {missing}"
    all_ready(stack)
    check_postgres(env["DATABASE_URL"])
    check_redis(url=env["REDIS_URL"])
    check_s3(env["S3_ENDPOINT"], env["S3_ACCESS_KEY_ID"], env["S3_SECRET_ACCESS_KEY"], env["S3_REGION"])
    check_stripe(env["STRIPE_SECRET_KEY"], env["STRIPE_API_BASE"])
    assert len(env["JWT_SECRET"]) == 64


@pytest.mark.parametrize("name", [a for a in APPS if a not in SEEDS])
def test_app_comes_up_without_edits(project, name):
    stack, env = project(name)
    all_ready(stack)
    manifest = json.loads(stack.cli("init", "--dry-run", "--json").stdout)
    written = [v["name"] for v in manifest["variables"] if v["written"]]
    missing = [v for v in written if v not in env]
    assert not missing, f".env lacks {missing}"
    for var in manifest["variables"]:
        if var["decision"] == "postgres.url" and var["written"] and not var["commented"]:
            check_postgres(env[var["name"]])
            break
