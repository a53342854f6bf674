"""One variable at a time: which kind's output it wants, or what else it is.

A Claim says "this is <kind>'s <role>"; anything else comes back as a
finished Decision (secret, app config, off). Claims are settled in detect.py,
once every variable has been seen (a weak claim such as AWS_REGION needs the
app's other S3 settings to count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devstack.init import kinds, rules
from devstack.init.model import CONFIG, OFF, SECRET, Decision, Variable

SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.I)
OPAQUE_SCHEME = re.compile(r"^(turns?|stuns?):", re.I)
# Schemes that name a kind by themselves, whatever the variable is called (QUEUE_URL=redis://...).
TELLING_SCHEMES = {"postgres": "postgres", "postgresql": "postgres", "redis": "redis", "rediss": "redis",
                   "smtp": "mailpit", "smtps": "mailpit", "turn": "coturn", "turns": "coturn", "stun": "coturn", "stuns": "coturn"}
URL_ROLES = {"url", "host", "smtp_host", "smtp_url", "endpoint", rules.ADDR, "http_url", "stun_url", "dsn", "api_base"}


@dataclass
class Claim:
    var: Variable
    kind: str
    role: str  # an output name, or one of rules' @roles
    strong: bool  # enough by itself to need the kind
    reason: str
    qualifiers: list[str] = field(default_factory=list)  # SHADOW, TEST, DIRECT ... around the role
    family: str = ""  # the name's tokens up to its family token (DB, SMTP): settings that travel together
    alternatives: list[str] = field(default_factory=list)  # other kinds a weak claim could be (EMAIL_FROM)


def scheme_of(value: str) -> str | None:
    if value.strip().lower().startswith("file:"):
        return "file"  # SQLite's file:./dev.db
    match = SCHEME.match(value.strip()) or OPAQUE_SCHEME.match(value.strip())
    return match.group(1).lower() if match else None


def app_prefix(variables: list[Variable]) -> str | None:
    """The app's own prefix (VIKUNJA_, REDASH_) when most of its variables carry it."""
    firsts = [rules.tokens(v.name)[0] for v in variables if rules.tokens(v.name)]
    if len(firsts) < 3:
        return None
    best = max(set(firsts), key=firsts.count)
    known = set().union(*(r.families | r.weak for r in rules.RULES.values()), rules.VENDORS, rules.OTHER_TECH, {"NEXT", "VITE", "APP", "PUBLIC"})
    if firsts.count(best) >= max(3, 0.4 * len(firsts)) and best not in known:
        return best
    return None


def classify(var: Variable, prefix: str | None, blocked_families: dict[str, str]) -> Claim | Decision:
    parts = rules.strip_prefixes(rules.tokens(var.name), prefix)
    parts = _split_pg(parts)
    names = set(parts)
    stripped = "_".join(parts)
    value = var.value.strip()
    scheme = scheme_of(value)

    captcha = _captcha(var, names)
    if captcha:
        return captcha
    other = _other_tech(names, scheme, parts, blocked_families)
    if other:
        return Decision(var, CONFIG, var.value, f"{other}: devstack has no such kind; kept as written (run it yourself)")
    if names & rules.NOT_SENDING and names & (set(rules.EMAIL_PROVIDERS) | {"EMAIL", "MAIL", "MAILCHIMP", "LOOPS"}):
        return Decision(var, CONFIG, var.value, "contact sync / marketing list key: it sends no mail, kept as written")

    claim = _by_default_name(var, stripped) or _by_family(var, parts, scheme) or _by_value(var, names, scheme) or _by_prose(var, parts)
    if claim:
        return claim
    return _not_a_service(var, parts, names)


def _split_pg(parts: list[str]) -> list[str]:
    """PGHOST -> PG HOST (libpq's own names)."""
    if parts and rules.PG_SHORT.match(parts[0]):
        return ["PG", parts[0][2:], *parts[1:]]
    return parts


def _captcha(var: Variable, names: set[str]) -> Decision | None:
    for vendor, (site, secret, what) in rules.CAPTCHA_TEST_KEYS.items():
        if vendor in names or (vendor == "TURNSTILE" and "CLOUDFLARE" in names and names & {"SITEKEY", "SITE", "CAPTCHA"}):
            is_site = bool(names & {"SITEKEY", "SITE", "PUBLIC"})
            return Decision(var, OFF, site if is_site else secret, f"captcha, not a service: {what}")
    return None


def _other_tech(names: set[str], scheme: str | None, parts: list[str], blocked: dict[str, str]) -> str | None:
    hits = [rules.OTHER_TECH[n] for n in parts if n in rules.OTHER_TECH and not (n == "UPSTASH" and "REST" not in names)]
    if hits:
        return hits[0]
    if scheme in rules.OTHER_SCHEMES:
        return f"{rules.OTHER_SCHEMES[scheme]} ({scheme}:// example)"
    for family, tech in blocked.items():
        if "_".join(parts).startswith(family + "_") or "_".join(parts) == family:
            return tech
    return None


def _by_default_name(var: Variable, stripped: str) -> Claim | None:
    for kind, output in kinds.by_default_name(stripped):
        rule = rules.RULES.get(kind)
        strong = not (rule and set(rules.tokens(stripped)) & rule.evidence_only)
        role = output or rules.KEEP + ":default"
        claim = Claim(var, kind, role, strong, f"devstack's default name for {kind}'s {output or 'setting'}")
        return _shape(claim, scheme_of(var.value))
    return None


def _by_family(var: Variable, parts: list[str], scheme: str | None) -> Claim | None:
    best = None
    for rule in rules.RULES.values():
        idx = next((i for i, p in enumerate(parts) if p in rule.families or p in rule.weak), None)
        if idx is None:
            continue
        after, before = parts[idx + 1:], parts[:idx]
        qualifiers = [p for p in before + after if p in rules.SAME_TARGET | rules.OTHER_DATABASE]
        core = [p for p in after]
        while core and core[-1] in rules.SAME_TARGET | rules.OTHER_DATABASE:
            core.pop()
        role = _match_role(rule, core)
        if role is None and _match_role(rule, before) == "from":
            role = "from"  # DEFAULT_FROM_EMAIL: the role comes first
        if role not in (None, "url") and set(core) & rules.NOT_A_ROLE:
            role = None  # DB_POOL_MAX, DATABASE_CONNECTION_REPLICA_NAME: not a connection value
        if role is None and not after and scheme in rule.schemes:
            role = "url"  # REDIS=redis://..., DATABASE=postgres://...
        strong_family = any(p in rule.families for p in parts)
        if role is None:
            if strong_family and not best:
                best = (0, Claim(var, rule.kind, "", False, f"a {rule.kind} setting", family="_".join(parts[:idx + 1])))
            continue
        evidence_only = bool(set(parts) & rule.evidence_only) and not strong_family
        strong = (strong_family or role in rule.strong_roles) and not evidence_only
        score = 2 + strong + strong_family
        if role == "endpoint" and parts[idx] == "CDN":
            role = rules.PUBLIC  # CDN_URL: where the files are served from
        family = "_".join(parts[:idx + 1])
        claim = Claim(var, rule.kind, role, strong, f"named like {rule.kind}'s {role.lstrip('@')} ({family}_*)", qualifiers, family)
        if best is None or score > best[0]:
            best = (score, claim)
        elif score == best[0] and not strong:
            best[1].alternatives.append(rule.kind)
    if best is None:
        return None
    claim = best[1]
    if not claim.role:
        return claim
    return _shape(claim, scheme)


def _match_role(rule: rules.KindRule, core: list[str]) -> str | None:
    if not core:
        return None
    text = "_".join(core)
    squashed = text.replace("_", "")
    for role, words in rule.roles:
        for word in words:
            if text == word or text.endswith("_" + word) or squashed == word.replace("_", ""):
                return role
    return None


def _shape(claim: Claim, scheme: str | None) -> Claim | None:
    """The example value decides between look-alike roles (SERVER=smtp://... is a URL)."""
    rule = rules.RULES.get(claim.kind)
    value = claim.var.value.strip()
    if claim.kind == "stripe":
        for role, pattern in rules.STRIPE_ROLE_BY_VALUE:
            if pattern.match(value):
                claim.role, claim.reason = role, f"{claim.reason}; Stripe value shape ({value[:6]}…)"
    if scheme and rule and claim.role in URL_ROLES:
        if scheme not in rule.schemes:
            return None  # CLICKHOUSE_DATABASE_URL=http://..., not Postgres
        claim.role = _url_role(claim.kind, claim.role, scheme)
        claim.reason += f"; example is a {scheme}: URL"
    elif claim.role in ("host", "smtp_host", "endpoint") and re.fullmatch(r"[\w.-]+:\d+", value):
        claim.role = rules.ADDR  # REDIS_HOST=localhost:6379
    return claim


def _url_role(kind: str, role: str, scheme: str) -> str:
    if kind == "mailpit":
        return "smtp_url"
    if kind == "coturn":
        return "stun_url" if scheme.startswith("stun") else "url"
    if kind == "livekit":
        return "http_url" if scheme.startswith("http") else "url"
    if kind == "minio":
        return role if role == rules.PUBLIC else "endpoint"
    if kind == "sentry":
        return "dsn"
    if kind == "stripe":
        return "api_base"
    return "url" if role != rules.ADDR else role


def _by_value(var: Variable, names: set[str], scheme: str | None) -> Claim | None:
    value = var.value.strip()
    if scheme in TELLING_SCHEMES:
        kind = TELLING_SCHEMES[scheme]
        role = _url_role(kind, "url", scheme)
        return Claim(var, kind, role, True, f"example value is a {scheme}: URL")
    if rules.STRIPE_VALUE.match(value) and names & {"PAYMENT", "PAYMENTS", "BILLING", "CHECKOUT"}:
        role = next(r for r, p in rules.STRIPE_ROLE_BY_VALUE if p.match(value))
        return Claim(var, "stripe", role, True, f"Stripe value shape ({value[:6]}…) on a payment setting")
    if rules.SENTRY_DSN_VALUE.match(value):
        return Claim(var, "sentry", "dsn", True, "example value is a Sentry DSN")
    return None


def _by_prose(var: Variable, parts: list[str]) -> Claim | None:
    if parts and parts[-1] in ("URL", "ENDPOINT", "HOST") and rules.FEATURE_FLAG_TEXT.search(f"{var.section}\n{var.context}"):
        return Claim(var, "flags", "url", True, f"its text says feature flags / config server ({var.section or var.where})")
    return None


def _not_a_service(var: Variable, parts: list[str], names: set[str]) -> Decision:
    text = "_".join(parts)
    if names & rules.ANALYTICS_VENDORS or names & {"TELEMETRY", "DIAGNOSTICS"} or text.startswith("DO_NOT_TRACK"):
        return Decision(var, OFF, switch_off(var), "analytics / telemetry: off in development")
    if names & {"STATS", "TRACKING", "TRACKER", "PIXEL", "MEASUREMENT"} and rules.ANALYTICS_TEXT.search(var.context):
        return Decision(var, OFF, switch_off(var), "analytics (its comment says so): off in development")
    if names & rules.FLAG_VENDORS:
        return Decision(var, OFF, switch_off(var), "hosted feature flags: off (the app's defaults apply)")
    if parts and parts[0] in rules.SECRETS_MANAGERS or "SECRETSMANAGER" in text.replace("_", "") or "SECRET_MANAGER" in text:
        return Decision(var, OFF, "", "secrets manager: not used locally (.env holds the values)")
    if names & {"CDN", "CLOUDFRONT"} or text in ("ASSET_HOST", "ASSETS_HOST", "CDN_HOST"):
        return Decision(var, OFF, "", "CDN: off, the app serves its files itself")
    vendor = next((p for p in parts if p in rules.VENDORS), None)
    internal = bool(set(parts[:1]) & rules.INTERNAL_WORDS) and not vendor
    third_party = any(text == e or text.endswith("_" + e) for e in rules.THIRD_PARTY_ENDINGS)
    if vendor or (third_party and not internal):
        who = vendor.title() if vendor else "a third-party service"
        return Decision(var, CONFIG, var.value, f"credential of {who}: nobody can make one locally; kept as written (the feature stays unset)")
    if _is_app_secret(parts):
        return Decision(var, SECRET, "", "app secret: generated per project")
    if parts and parts[-1] in ("ID", "ARN", "NAME", "PATH") and rules.SECRETS_MANAGER_TEXT.search(var.context):
        return Decision(var, OFF, "", "only used with a secrets manager: empty locally")
    return Decision(var, CONFIG, var.value, "kept with the example value")


def _is_app_secret(parts: list[str]) -> bool:
    if not parts:
        return False
    last = parts[-1]
    if last in ("SECRET", "SALT", "PEPPER", "SECRETKEY", "JWTSECRET") or parts == ["KEY"]:
        return True
    return last in rules.SECRET_LAST and bool(set(parts) & rules.SECRET_WORDS)


BOOLS = {"true": "false", "false": "false", "True": "False", "False": "False", "TRUE": "FALSE", "FALSE": "FALSE",
         "1": "0", "0": "0", "yes": "no", "no": "no", "on": "off", "off": "off"}
TRUES = {"false": "true", "False": "True", "FALSE": "TRUE", "0": "1", "no": "yes", "off": "on"}


def switch_off(var: Variable) -> str:
    """The value that turns a feature off, in the example's own style."""
    name = var.name.upper()
    value = var.value.strip()
    if re.search(r"DISABLED?$|^DO_NOT_TRACK|DISABLE_", name):
        return {**{v: v for v in TRUES.values()}, **TRUES}.get(value, "1" if value in ("", "1", "0") else "true")
    if re.search(r"ENABLED?$|^ENABLE_", name):
        return BOOLS.get(value, "false")
    return ""


def tls_off(var: Variable) -> str:
    name = var.name.upper()
    value = var.value.strip()
    if "SSLMODE" in name.replace("_", "") or value.lower() in ("require", "prefer", "verify-full", "verify-ca", "allow", "disable"):
        return "disable"
    if name.endswith("ENCRYPTION"):
        return "null"  # Laravel's MAIL_ENCRYPTION: env() reads "null" as null
    return BOOLS.get(value, "false")
