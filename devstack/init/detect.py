"""Inputs -> Result: the services the app needs (with modes and options) and a decision per variable."""

from __future__ import annotations

import json
import re
import urllib.parse

from devstack.init import classify, kinds, rules
from devstack.init.classify import Claim
from devstack.init.model import CONFIG, OFF, SECRET, SERVICE, SKIPPED, Cue, Decision, Inputs, Result, Secret, Service, Variable
from devstack.services.minio import BUCKET_NAME

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NOT_A_NAME = {"user", "username", "database", "dbname", "db", "db_name", "mydb", "name", "bucket", "bucket-name", "my-bucket", "host"}


def detect(inputs: Inputs, project: str) -> Result:
    result = Result(project=project, inputs=inputs)
    chosen, dropped = _dedupe(inputs.variables)
    prefix = classify.app_prefix([v for v in chosen if not v.commented])
    blocked = _blocked_families(chosen, prefix)
    outcomes = {id(v): classify.classify(v, prefix, blocked) for v in chosen}
    claims = [o for o in outcomes.values() if isinstance(o, Claim) and o.role]
    evidence = {c.kind for c in claims if c.strong and not c.var.commented} | {h.kind for h in inputs.hints}
    _settle_weak(claims, evidence, outcomes, prefix)

    providers = _email_providers(claims)
    services = _services(inputs, claims, evidence, providers, project)
    result.services = list(services.values())
    by_kind = {}
    for svc in result.services:
        by_kind.setdefault(svc.kind, svc)

    port_families = {c.family for c in claims if c.role == "port"}
    secrets: dict[str, Secret] = {}
    for var in chosen:
        outcome = outcomes[id(var)]
        if isinstance(outcome, Claim) and not outcome.role:
            decision = Decision(var, CONFIG, var.value, f"a setting of {outcome.kind} that devstack has no value for: kept as written")
        elif isinstance(outcome, Claim):
            decision = _decide(outcome, by_kind, services, providers, port_families)
        else:
            decision = outcome
        if decision.category == SECRET:
            decision = _secret(decision, secrets, inputs)
        elif decision.var.commented and decision.category != SERVICE:
            decision = Decision(var, SKIPPED, "", f"commented out in the example ({decision.label}: {decision.reason}); left out", written=False)
        result.decisions.append(decision)
    _follow_references(result.decisions)
    result.decisions += dropped
    result.secrets = list(secrets.values())
    result.env_file = _env_file(chosen)
    result.notes = _notes(result)
    return result


# -- variables --------------------------------------------------------------------------------

def _dedupe(variables: list[Variable]) -> tuple[list[Variable], list[Decision]]:
    """One variable per name: an active line beats a commented one, a value beats none."""
    best: dict[str, Variable] = {}
    for var in variables:
        held = best.get(var.name)
        if held is None or (held.commented and not var.commented) or (held.commented == var.commented and not held.value and var.value):
            best[var.name] = var
    dropped = []
    for var in variables:
        held = best[var.name]
        if var is not held and var.commented and not held.commented:
            dropped.append(Decision(var, SKIPPED, "", f"commented out; the active line at {held.where} wins", written=False))
    order = {id(v): i for i, v in enumerate(variables)}
    return sorted(best.values(), key=lambda v: order[id(v)]), dropped


def _blocked_families(variables: list[Variable], prefix: str | None) -> dict[str, str]:
    """DB_CONNECTION=mysql: every DB_* setting is MySQL's, not Postgres's."""
    blocked = {}
    for var in variables:
        parts = rules.strip_prefixes(rules.tokens(var.name), prefix)
        tech = rules.DRIVER_VALUES.get(var.value.strip().lower())
        if not tech or var.commented:
            continue
        if parts and parts[-1] in rules.DRIVER_ROLES:
            blocked["_".join(parts[:-1])] = f"{tech} ({var.name}={var.value.strip()})"
        elif len(parts) == 1:
            blocked[parts[0]] = f"{tech} ({var.name}={var.value.strip()})"
    return blocked


def _settle_weak(claims: list[Claim], evidence: set[str], outcomes: dict, prefix: str | None) -> None:
    """A weak claim counts when the app needs the kind anyway, else it is not a service."""
    for claim in list(claims):
        if claim.strong:
            continue
        if claim.kind in evidence:
            claim.reason += f"; the app's other {claim.kind} settings make it one"
            continue
        alt = next((k for k in claim.alternatives if k in evidence), None)
        if alt:
            claim.kind = alt
            claim.reason += f"; goes with the app's {alt} settings"
            continue
        claims.remove(claim)
        parts = rules.strip_prefixes(rules.tokens(claim.var.name), prefix)
        outcomes[id(claim.var)] = classify._not_a_service(claim.var, parts, set(parts))
        if claim.role == rules.ENABLED and claim.kind == "posthog":
            outcomes[id(claim.var)] = Decision(claim.var, OFF, classify.switch_off(claim.var), "analytics switch: off in development")


def _email_providers(claims: list[Claim]) -> dict[int, str]:
    """Which API each email_api claim speaks: its name (SENDGRID_...), else EMAIL_PROVIDER's value."""
    named = [c for c in claims if c.kind == "email_api"]
    stated = next((c.var.value.strip().lower() for c in named if c.role == "provider" and c.var.value.strip()), None)
    vendors = []
    result = {}
    for claim in named:
        vendor = next((rules.EMAIL_PROVIDERS[t] for t in rules.tokens(claim.var.name) if t in rules.EMAIL_PROVIDERS), None)
        if vendor and vendor not in vendors:
            vendors.append(vendor)
        result[id(claim)] = vendor
    generic = stated if stated in rules.EMAIL_PROVIDERS.values() else (vendors[0] if len(vendors) == 1 else "sendgrid")
    return {key: value or generic for key, value in result.items()}


# -- services -----------------------------------------------------------------------------------

def _services(inputs: Inputs, claims: list[Claim], evidence: set[str], providers: dict[int, str], project: str) -> dict[str, Service]:
    order = [c.kind for c in claims if c.kind in evidence] + [h.kind for h in inputs.hints]
    services: dict[str, Service] = {}
    supported = set(kinds.choices("email_api", "provider")) or {"sendgrid"}
    for kind in dict.fromkeys(order):
        if kind == "email_api":
            for provider in dict.fromkeys(providers[id(c)] for c in claims if c.kind == "email_api" and not c.var.commented):
                if provider not in supported:
                    continue
                name = "email" if "email" not in services else f"email_{provider}"
                services[name] = Service(name, kind, "stub", {"provider": provider},
                                         f"the {provider.title()} API the app calls, answered by devstack's stand-in; mail lands in the local inbox")
            continue
        rule = rules.RULES[kind]
        mode, why = _mode(kind, _cues_for(kind, inputs, claims))
        services[rule.service] = Service(rule.service, kind, mode, _options(kind, inputs, claims, project), why)
    inbox = next((s for s in services.values() if s.kind == "mailpit"), None)
    emails = [s for s in services.values() if s.kind == "email_api"]
    if emails and inbox is None:
        inbox = Service("mail", "mailpit", "stub", {}, "the local inbox the email API stand-in delivers to (its web UI shows the mail)")
        services["mail"] = inbox
    for svc in emails:
        svc.options["inbox"] = inbox.name
    return services


def _cues_for(kind: str, inputs: Inputs, claims: list[Claim]) -> list[Cue]:
    cues = [c for c in inputs.cues if c.kind == kind]
    for claim in claims:
        if claim.kind == kind and claim.var.context:  # `ANALYTICS_ENABLED=false  # Disabled by default`
            cues.append(Cue(kind, claim.var.context, claim.var.source, claim.var.line))
    return cues


def _mode(kind: str, cues: list[Cue]) -> tuple[str, str]:
    def said(cue_name):
        return [c.text for c in cues if rules.CUES[cue_name].search(c.text)]

    skip, stub, off, run = said("skip"), said("stub"), said("off"), said("run")
    quote = lambda texts: f' ("{texts[0][:70]}")' if texts else ""  # noqa: E731
    modes = kinds.modes(kind)
    if kind in ("posthog", "sentry"):
        if off or skip:
            return "off", f"off: the text turns it off in development{quote(off or skip)}"
        return "stub", "devstack's sink records what the SDK sends (tests can read it)"
    if kind in ("flags", "email_api"):
        return "stub", "devstack's stand-in"
    if kind in ("mailpit", "livekit") and (skip or stub or off):
        return "stub", f"devstack's stand-in: the text skips or stubs it in development{quote(stub or skip or off)}"
    if kind == "coturn" and len(skip) + len(off) > len(run):
        return "off", f"off: the text says development does without it{quote(skip or off)}; `mode: run` starts coturn"
    mode = "run" if "run" in modes else modes[0]
    return mode, "runs locally" + quote(run)


def _options(kind: str, inputs: Inputs, claims: list[Claim], project: str) -> dict:
    mine = [c for c in claims if c.kind == kind and not c.var.commented]
    hints = [h for h in inputs.hints if h.kind == kind]
    options: dict = {}
    version = next((h.version for h in hints if h.version), None) or _version_in_text(kind, inputs, mine)
    if version and "version" in kinds.options(kind):
        options["version"] = int(version)
    if kind == "postgres":
        database, user = _main_database(mine, hints)
        main = database or _slug(project, "_")
        extra = [name for name in (_second_database(c, main) for c in mine) if name and name != main]
        if database or extra:
            options["database"] = main  # named when a second database hangs off it
        if user:
            options["user"] = user
        if extra:
            options["databases"] = list(dict.fromkeys(extra))
    elif kind == "minio":
        buckets = [b for b in (_bucket_name(c.var.value) for c in mine if c.role == "bucket") if b]
        if not buckets:  # an S3 with no bucket is of no use to the app
            buckets = [_slug(project, "-") + "-uploads"]
        if buckets:
            options["buckets"] = list(dict.fromkeys(buckets))
    elif kind == "flags":
        config = _flags_config(inputs, mine)
        if config is not None:
            options["flags"] = config
    return options


def _version_in_text(kind: str, inputs: Inputs, mine: list[Claim]) -> str | None:
    texts = [f"{h}\n{t}" for h, t in inputs.prose] + [c.var.context for c in mine]
    return next((v for v in (rules.version_in(kind, t) for t in texts) if v), None)


def _url_parts(value: str):
    if "://" not in value:
        return None
    try:
        return urllib.parse.urlsplit(value.strip())
    except ValueError:
        return None


def _main_database(claims: list[Claim], hints) -> tuple[str | None, str | None]:
    database = user = None
    for claim in claims:
        if claim.qualifiers and set(claim.qualifiers) & rules.OTHER_DATABASE:
            continue
        parts = _url_parts(claim.var.value) if claim.role == "url" else None
        if parts:
            database = database or _ident(parts.path.lstrip("/"))
            user = user or _ident(urllib.parse.unquote(parts.username or ""))
        elif claim.role == "database":
            database = database or _ident(claim.var.value)
        elif claim.role == "user":
            user = user or _ident(claim.var.value)
    for hint in hints:
        database = database or _ident(hint.env.get("POSTGRES_DB", ""))
        user = user or _ident(hint.env.get("POSTGRES_USER", ""))
    return database, user


def _second_database(claim: Claim, main: str) -> str | None:
    """SHADOW_DATABASE_URL, DATABASE_URL_TEST: another database on the same server."""
    if claim.role not in ("url", "database"):
        return None
    named = None
    parts = _url_parts(claim.var.value) if claim.role == "url" else None
    if parts:
        named = _ident(parts.path.lstrip("/"))
    elif claim.role == "database":
        named = _ident(claim.var.value)
    others = [q for q in claim.qualifiers if q in rules.OTHER_DATABASE]
    if others and (not named or named == main):
        return f"{main}_{others[0].lower()}"
    if others:
        return named
    return None


def _ident(text: str) -> str | None:
    text = text.strip()
    if not text or not IDENT.match(text) or text.lower() in NOT_A_NAME or rules.is_placeholder(text):
        return None
    return text


def _bucket_name(value: str) -> str | None:
    value = value.strip()
    if not BUCKET_NAME.match(value) or value in NOT_A_NAME or rules.is_placeholder(value):
        return None
    return value


def _slug(project: str, sep: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", sep, project.lower()).strip(sep)
    return slug or "app"


def _flags_config(inputs: Inputs, claims: list[Claim]) -> dict | None:
    sections = {c.var.section for c in claims if c.var.section}
    for heading, lang, text in inputs.blocks:
        if heading in sections and lang == "json":
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    return None


# -- decisions ----------------------------------------------------------------------------------

def _decide(claim: Claim, by_kind: dict, services: dict, providers: dict, port_families: set[str]) -> Decision:
    var = claim.var
    if claim.kind == "email_api":
        provider = providers.get(id(claim))
        svc = next((s for s in services.values() if s.kind == "email_api" and s.options.get("provider") == provider), None)
        if svc is None:
            return Decision(var, OFF, "", f"{provider}: devstack's email stand-in speaks {', '.join(kinds.choices('email_api', 'provider'))}, "
                            "not this API; mail sent through it goes nowhere")
    else:
        svc = by_kind.get(claim.kind)
    if svc is None:  # a commented-out line of a kind nothing else needs
        return Decision(var, SKIPPED, "", f"commented out in the example, and nothing else needs {claim.kind}", claim.kind, written=False)
    if claim.role == rules.EMPTY:
        return Decision(var, OFF, "", f"{claim.kind}'s cloud token (used at build time): empty locally")
    if claim.role.startswith(rules.KEEP + ":config"):
        return Decision(var, CONFIG, var.value, f"{claim.kind} has no such setting: kept with the example value")
    value, output, note = _value(claim, svc, port_families)
    reason = claim.reason + (f"; {note}" if note else "")
    if svc.mode == "off":
        reason += f"; {svc.name} is off, so it reads as empty"
    if var.commented:
        reason += "; commented out in the example, filled anyway"
    return Decision(var, SERVICE, value, reason, claim.kind, output, svc.name)


def _value(claim: Claim, svc: Service, port_families: set[str]) -> tuple[str, str | None, str]:
    """(env value, the output it reads, a note) for a claim on service svc."""
    role, var, name = claim.role, claim.var, svc.name
    value = var.value.strip()
    ref = lambda output: "{{ " + f"{name}.{output}" + " }}"  # noqa: E731
    available = kinds.outputs(svc.kind)
    if role == rules.TLS:
        return classify.tls_off(var), None, "TLS off: the local server speaks plain TCP"
    if role == rules.ENABLED:
        return ref("enabled"), "enabled", "true while the service runs"
    if role == rules.DEFAULT_USER:
        return "default", None, "Redis's ACL user for the password"
    if role == rules.KEEP and svc.kind == "coturn":
        return var.value, None, "coturn here takes REST-API credentials made from its secret, no static user: kept as written"
    if role == rules.KEEP:
        return var.value, None, "kept with the example value"
    if role == rules.BLANK:
        return "", None, "empty: the SDK then builds file URLs from the local endpoint"
    if role.startswith(rules.KEEP + ":default"):
        return kinds.default_literal(svc.kind, var.name) or var.value, None, "the kind's default value"
    host, port = ("smtp_host", "smtp_port") if svc.kind == "mailpit" else ("host", "port")
    if role == rules.ADDR:
        return f"{ref(host)}:{ref(port)}", f"{host}:{port}", "host:port, as the example writes it"
    if role == rules.PUBLIC:
        if value and "://" not in value:
            return f"{ref('host')}:{ref('port')}/{ref('bucket')}", "host:port/bucket", "the bucket's address, as the example writes it (no scheme)"
        return f"{ref('endpoint')}/{ref('bucket')}", "endpoint/bucket", "files served from the local bucket"
    if svc.kind == "postgres" and role in ("url", "database"):
        return _postgres_value(claim, svc, ref)
    if svc.kind == "redis" and role == "url":
        parts = _url_parts(value)
        db = parts.path.strip("/") if parts else ""
        if db.isdigit() and db != str(svc.options.get("db", 0)):
            return f"redis://:{ref('password')}@{ref('host')}:{ref('port')}/{db}", "url", f"Redis db {db}, as the example uses"
    if svc.kind == "redis" and role == "db" and value.strip('"').isdigit() and value.strip('"') != str(svc.options.get("db", 0)):
        return value.strip('"'), "db", f"Redis db {value.strip(chr(34))}, as the example uses"
    if svc.kind == "minio" and role == "bucket":
        buckets = svc.options.get("buckets") or []
        mine = _bucket_name(value)
        if mine and buckets and mine != buckets[0]:
            return mine, "bucket", "a second bucket, created at start"
    if svc.kind == "minio" and role == "endpoint" and value and "://" not in value:
        if claim.family in port_families:  # MINIO_ENDPOINT + MINIO_PORT: the host alone
            return ref("host"), "host", "a host name, as the example writes it (the port has its own variable)"
        return f"{ref('host')}:{ref('port')}", "host:port", "host:port: the example has no scheme, and the local port is not the default"
    if role in ("url", "api_base", "http_url") and value and not classify.scheme_of(value) and not value.startswith("/") and svc.kind != "postgres":
        return f"{ref(host)}:{ref(port)}", f"{host}:{port}", "host:port: the example has no scheme (MAILGUN_ENDPOINT=api.mailgun.net)"
    if role not in available:
        return var.value, None, f"the catalog's {svc.kind} has no `{role}` output: kept as written"
    return ref(role), role, ""


def _postgres_value(claim: Claim, svc: Service, ref) -> tuple[str, str | None, str]:
    second = _second_database(claim, svc.options.get("database") or "")
    if claim.role == "database":
        if second and second in svc.options.get("databases", []):
            return second, "database", "a second database on the same server"
        return ref("database"), "database", ""
    parts = _url_parts(claim.var.value)
    query = _query(parts.query if parts else "")
    if second and second in svc.options.get("databases", []):
        return f"{ref('base_url')}/{second}{query}", "base_url", "a second database on the same server"
    return ref("url") + query, "url", ("keeps the example's " + query) if query else ""


def _query(query: str) -> str:
    """The example URL's parameters the app relies on (?schema=public), minus TLS and poolers."""
    kept = []
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if key.lower() == "sslmode":
            value = "disable"
        elif key.lower() in ("pgbouncer", "ssl", "sslrootcert", "sslcert", "sslkey"):
            continue
        kept.append((key, value))
    return "?" + urllib.parse.urlencode(kept) if kept else ""


def _secret(decision: Decision, secrets: dict[str, Secret], inputs: Inputs) -> Decision:
    var = decision.var
    if var.commented:
        return Decision(var, SKIPPED, "", "commented out in the example (an app secret); left out", written=False)
    name = re.sub(r"^[^a-z]+", "", re.sub(r"[^a-z0-9_]", "_", var.name.lower())) or "secret"
    section_text = "\n".join(t for h, t in inputs.prose if h and h == var.section)
    spec, why = rules.secret_spec(var.name, var.value, f"{var.context}\n{section_text}")
    example = "the example's value is a placeholder" if rules.is_placeholder(var.value) else "example values are public, so a fresh one is made"
    secrets.setdefault(name, Secret(name, spec, f"{var.name}: {why}"))
    expr = "{{ secrets." + name + (".private_pem" if spec == "ed25519" else "") + " }}"
    if spec == "ed25519" and "PUBLIC" in var.name.upper():
        expr = "{{ secrets." + name + ".public_pem }}"
    if var.name.upper().endswith("APP_KEY") and spec.startswith("base64"):
        expr = "base64:" + expr  # Laravel reads `base64:` keys
    return Decision(var, SECRET, expr, f"app secret, generated per project ({spec}; {example})", output=spec, service="secrets")


def _follow_references(decisions: list[Decision]) -> None:
    """VITE_PUSHER_APP_KEY="${PUSHER_APP_KEY}": the same value as the variable it names."""
    by_name = {d.var.name: d for d in decisions if d.written}
    for d in decisions:
        match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", d.var.value.strip())
        target = by_name.get(match.group(1)) if match and d.category == CONFIG else None
        if target is not None and target is not d:
            d.value = target.value
            d.reason = f"the example sets it to ${{{target.var.name}}}: the same value"


def _env_file(variables: list[Variable]) -> str:
    dirs = {v.source.rsplit("/", 1)[0] if "/" in v.source else "" for v in variables if _is_dotenv(v.source)}
    if len(dirs) == 1 and (d := dirs.pop()):
        return f"{d}/.env"
    return ".env"


def _is_dotenv(source: str) -> bool:
    base = source.rsplit("/", 1)[-1]
    return base.startswith(".env") or base.endswith(".env")


def _notes(result: Result) -> list[str]:
    notes = []
    missing: dict[str, list[str]] = {}
    for d in result.decisions:
        if d.category == CONFIG and "no such kind" in d.reason:
            missing.setdefault(d.reason.split(":")[0], []).append(d.var.name)
    for tech, names in missing.items():
        notes.append(f"not run by devstack: {tech} ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}); its settings are kept as written")
    return notes
