"""init's own knowledge: how real apps name their services' variables, what example values
look like, and which words in prose say how a service is used in development.

What each kind outputs, its default env names and its modes come from the
catalog (devstack.init.kinds); this module only links the app's words to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- names ----------------------------------------------------------------------------

# Framework prefixes in front of the real name (NEXT_PRIVATE_DATABASE_URL is a DATABASE_URL).
FRAMEWORK_PREFIXES = (("NEXT", "PUBLIC"), ("NEXT", "PRIVATE"), ("NUXT", "PUBLIC"), ("EXPO", "PUBLIC"),
                      ("VITE",), ("REACT", "APP"), ("GATSBY",), ("PUBLIC",), ("NUXT",))

# Qualifiers around a role that name another copy of the same thing (DATABASE_DIRECT_URL).
SAME_TARGET = {"DIRECT", "POOLED", "UNPOOLED", "NON", "POOLING", "PRISMA", "REPLICA", "READ", "PRIMARY", "MAIN",
               "DEFAULT", "MIGRATE", "MIGRATION", "MIGRATIONS", "WRITE", "LOCAL", "DEV", "PRIVATE", "INTERNAL"}
# ... and qualifiers that name a second database on the same server (SHADOW_DATABASE_URL).
OTHER_DATABASE = {"SHADOW", "TEST", "CACHE", "QUEUE", "CABLE", "ANALYTICS", "AUDIT", "JOBS", "EVENTS", "REPORTING"}


def tokens(name: str) -> list[str]:
    return [t for t in name.upper().split("_") if t]


def strip_prefixes(parts: list[str], app_prefix: str | None = None) -> list[str]:
    if app_prefix and parts[:1] == [app_prefix] and len(parts) > 1:
        parts = parts[1:]
    for prefix in FRAMEWORK_PREFIXES:
        if tuple(parts[:len(prefix)]) == prefix and len(parts) > len(prefix):
            return parts[len(prefix):]
    return parts


PG_SHORT = re.compile(r"^PG(HOST|PORT|USER|PASSWORD|DATABASE|SSLMODE|APPNAME|PASSFILE|SERVICE)$")


def looks_like_env_name(name: str) -> bool:
    """A backticked word in prose that is an env variable, not an acronym (JSON, HTTPS)."""
    if "_" in name:
        return len(name) > 3
    return bool(PG_SHORT.match(name)) or name in ("DSN", "REDIS", "DATABASE")


# -- kinds: families, roles ----------------------------------------------------------------

# Role names that are not outputs: values init writes itself.
TLS = "@tls"  # TLS/SSL switches: off (the local servers speak plain TCP)
ENABLED = "@enabled"  # feature switches: `{{ svc.enabled }}`
ADDR = "@addr"  # host:port in one value
PUBLIC = "@public"  # a public/CDN base URL of the bucket: endpoint/bucket
KEEP = "@keep"  # the kind's own setting with no output (price ids, static TURN users): example value
DEFAULT_USER = "@default_user"  # Redis ACL user: `default`
EMPTY = "@empty"  # a credential only the cloud service has (SENTRY_AUTH_TOKEN): empty
BLANK = "@blank"  # the kind's setting best left empty locally (S3_ALIAS_HOST: SDKs then use the endpoint)
# Words that make a family's setting something devstack does not fill (DB_POOL_MAX, DB_CONNECTION).
NOT_A_ROLE = {"CONNECTION", "CONN", "POOL", "TIMEOUT", "MAX", "MIN", "LIMIT", "PREFIX", "SCHEMA", "LOGGING", "SENTINEL",
              "SENTINELS", "STATEMENT", "AGE", "ATTRS", "RETRIES", "CLUSTER", "NAMESPACE", "VERIFY", "CIPHERS", "TTL"}


@dataclass(frozen=True)
class KindRule:
    kind: str
    service: str  # the manifest's service name for it
    families: frozenset  # name tokens that name this service (REDIS, SMTP)
    weak: frozenset = frozenset()  # tokens that name it only with a strong role or other evidence (AWS, EMAIL)
    strong_roles: frozenset = frozenset()  # roles that make a weak family enough by themselves
    evidence_only: frozenset = frozenset()  # weak tokens that never count alone (AWS_ACCESS_KEY_ID may be for SES)
    schemes: tuple = ()  # URL schemes of its values
    roles: tuple = ()  # (role, words) in match order: a name's role part equals or ends with a word


def _roles(*pairs):
    return tuple((role, tuple(words.split())) for role, words in pairs)


TLS_WORDS = "SSLMODE SSL_MODE SSL TLS USE_TLS USE_SSL SSL_ENABLED TLS_ENABLED SECURE STARTTLS ENABLE_STARTTLS_AUTO FORCESSL FORCE_SSL REQUIRE_SSL SSL_REQUIRED ENCRYPTION"
ENABLE_WORDS = "ENABLED ENABLE"

RULES: dict[str, KindRule] = {r.kind: r for r in [
    KindRule("postgres", "db", frozenset({"DATABASE", "DB", "POSTGRES", "POSTGRESQL", "PG", "PGSQL", "PSQL"}),
             schemes=("postgres", "postgresql", "ecto", "pgsql"),
             roles=_roles(("url", "URL URI DSN DATASOURCE CONNECTION_STRING CONNECTION_URL CONN_STRING"),
                          (TLS, TLS_WORDS),
                          ("password", "PASSWORD PASS PWD PASSWD"),
                          ("user", "USER USERNAME LOGIN USER_NAME ROLE"),
                          ("host", "HOST HOSTNAME SERVER ADDR ADDRESS"),
                          ("port", "PORT"),
                          ("database", "NAME DATABASE DB DBNAME"))),
    KindRule("redis", "redis", frozenset({"REDIS", "VALKEY", "KEYDB", "DRAGONFLY"}), schemes=("redis", "rediss"),
             roles=_roles(("url", "URL URI DSN CONNECTION_STRING"),
                          (TLS, TLS_WORDS),
                          (ENABLED, ENABLE_WORDS),
                          ("password", "PASSWORD PASS PWD AUTH SECRET"),
                          (DEFAULT_USER, "USER USERNAME"),
                          (ADDR, "ADDR ADDRESS ENDPOINT SERVER"),
                          ("host", "HOST HOSTNAME"),
                          ("port", "PORT"),
                          ("db", "DB DATABASE DB_INDEX INDEX DB_NUMBER"))),
    KindRule("minio", "s3", frozenset({"S3", "MINIO", "SPACES", "R2", "BUCKET", "AMAZONS3"}),
             weak=frozenset({"AWS", "STORAGE", "UPLOAD", "UPLOADS", "FILE", "FILES", "CDN", "OBJECT", "BLOB"}),
             strong_roles=frozenset({"bucket", "endpoint", "access_key", "secret_key", "path_style"}),
             evidence_only=frozenset({"AWS", "CDN"}), schemes=("http", "https", "s3"),
             roles=_roles((BLANK, "ALIAS_HOST CUSTOM_DOMAIN PUBLIC_HOST"),
                          (PUBLIC, "PUBLIC_URL CDN_URL CDN_BASE_URL BASE_URL ACCELERATE_URL PUBLIC_ENDPOINT ASSET_URL ASSETS_URL FILES_URL"),
                          ("secret_key", "SECRET_ACCESS_KEY SECRET_KEY KEY_SECRET ACCESS_SECRET SECRETACCESSKEY ACCESS_KEY_SECRET SECRET ROOT_PASSWORD"),
                          ("access_key", "ACCESS_KEY_ID ACCESS_KEY ACCESSKEYID KEY_ID ACCESS_ID KEY ROOT_USER"),
                          ("region", "REGION REGION_NAME DEFAULT_REGION"),
                          ("bucket", "BUCKET BUCKET_NAME BUCKETNAME NAME"),
                          ("path_style", "FORCE_PATH_STYLE PATH_STYLE USE_PATH_STYLE_ENDPOINT PATH_STYLE_ACCESS"),
                          (TLS, "USE_SSL SSL SECURE USE_HTTPS"),
                          (ENABLED, ENABLE_WORDS),
                          ("port", "PORT"),
                          ("endpoint", "ENDPOINT ENDPOINT_URL URL HOST SERVER API"))),
    KindRule("mailpit", "mail", frozenset({"SMTP", "MAIL", "MAILER"}), weak=frozenset({"EMAIL", "EMAILS"}),
             strong_roles=frozenset({"smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_url"}),
             schemes=("smtp", "smtps"),
             roles=_roles((KEEP + ":config", "REPLY_TO REPLY_EMAIL REPLYTO FROM_NAME SENDER_NAME"),
                          (TLS, TLS_WORDS + " HOST_SSL_ENABLED"),
                          ("from", "FROM FROM_ADDRESS FROM_EMAIL FROMEMAIL FROM_ADDR SENDER SENDER_EMAIL SENDER_ADDRESS DEFAULT_SENDER DEFAULT_FROM EMAIL"),
                          ("smtp_password", "PASSWORD PASS PWD PASSWD"),
                          ("smtp_user", "USER USERNAME LOGIN USER_NAME"),
                          ("smtp_port", "PORT"),
                          ("smtp_url", "URL URI DSN CONNECTION_URL"),
                          ("smtp_host", "HOST HOSTNAME SERVER ADDRESS ADDR SMTPSERVER"),
                          (ENABLED, ENABLE_WORDS))),
    KindRule("email_api", "email", frozenset({"SENDGRID", "RESEND", "POSTMARK", "MAILGUN"}),
             weak=frozenset({"EMAIL", "MAIL", "MAILER"}), strong_roles=frozenset({"api_key", "provider"}),
             schemes=("http", "https"),
             roles=_roles(("api_key", "API_KEY API_TOKEN SERVER_TOKEN SERVER_API_TOKEN KEY TOKEN SECRET"),
                          ("provider", "PROVIDER"),
                          ("url", "API_BASE API_URL BASE_URL ENDPOINT API_HOST"),
                          ("from", "FROM FROM_ADDRESS FROM_EMAIL FROMEMAIL SENDER SENDER_EMAIL EMAIL"))),
    KindRule("stripe", "stripe", frozenset({"STRIPE"}), schemes=("http", "https"),
             roles=_roles(("webhook_secret", "WEBHOOK_SECRET WEBHOOK_SIGNING_SECRET ENDPOINT_SECRET SIGNING_SECRET WEBHOOK_KEY WH_SECRET WEBHOOK"),
                          ("secret_key", "SECRET_KEY API_KEY PRIVATE_KEY SECRET SK API_SECRET RESTRICTED_KEY"),
                          ("publishable_key", "PUBLISHABLE_KEY PUBLIC_KEY PUBLISHABLE PK PUBLIC KEY"),
                          ("api_base", "API_BASE API_URL BASE_URL API_HOST HOST"),
                          (KEEP, "PRICE_ID PRICE PRODUCT_ID PRODUCT PLAN_ID PLAN PRICE_IDS"))),
    KindRule("coturn", "turn", frozenset({"TURN", "COTURN", "TURNSERVER", "STUN"}), schemes=("turn", "turns", "stun", "stuns"),
             roles=_roles(("secret", "SECRET STATIC_AUTH_SECRET SHARED_SECRET AUTH_SECRET KEY"),
                          ("realm", "REALM"),
                          (ENABLED, ENABLE_WORDS),
                          (KEEP, "USERNAME USER PASSWORD CREDENTIAL CREDENTIALS PASS"),
                          ("port", "PORT"),
                          ("url", "URL URLS URI URIS SERVER SERVERS SERVER_URL ENDPOINT"),
                          ("host", "HOST HOSTNAME DOMAIN"))),
    KindRule("livekit", "livekit", frozenset({"LIVEKIT", "SFU"}), schemes=("ws", "wss", "http", "https"),
             roles=_roles(("api_secret", "API_SECRET SECRET"),
                          ("api_key", "API_KEY KEY"),
                          ("http_url", "API_URL HTTP_URL API_HOST"),
                          ("url", "URL WS_URL WSURL ENDPOINT SERVER_URL SERVER HOST WEBSOCKET_URL"))),
    KindRule("posthog", "analytics", frozenset({"POSTHOG"}), weak=frozenset({"ANALYTICS"}),
             evidence_only=frozenset({"ANALYTICS"}), schemes=("http", "https"),
             roles=_roles((ENABLED, ENABLE_WORDS),
                          ("api_key", "API_KEY PROJECT_API_KEY PROJECT_KEY KEY TOKEN"),
                          ("url", "HOST API_HOST URL API_URL INGESTION_URL ENDPOINT"))),
    KindRule("sentry", "sentry", frozenset({"SENTRY"}), schemes=("http", "https"),
             roles=_roles(("dsn", "DSN"), (EMPTY, "AUTH_TOKEN"), (ENABLED, ENABLE_WORDS))),
    KindRule("flags", "flags", frozenset({"FLAGS", "FLAG", "FEATUREFLAGS"}), schemes=("http", "https"),
             roles=_roles(("url", "URL CONFIG_URL ENDPOINT HOST API_URL SERVER BASE_URL"))),
]}

# email_api providers by name token; a provider the stand-in does not speak is turned off.
EMAIL_PROVIDERS = {"SENDGRID": "sendgrid", "RESEND": "resend", "POSTMARK": "postmark", "MAILGUN": "mailgun"}

# Value shapes that name a kind by themselves.
STRIPE_VALUE = re.compile(r"^(sk|rk)_(test|live)_|^pk_(test|live)_|^whsec_|^price_|^prod_")
SENTRY_DSN_VALUE = re.compile(r"^https?://[^@/]+@[^/]*(sentry\.io|ingest)[^/]*/\d+")
STRIPE_ROLE_BY_VALUE = (("secret_key", re.compile(r"^(sk|rk)_(test|live)_")), ("publishable_key", re.compile(r"^pk_(test|live)_")),
                        ("webhook_secret", re.compile(r"^whsec_")), (KEEP, re.compile(r"^(price|prod)_")))

# -- what devstack does not run ---------------------------------------------------------------

# Services with no kind in the catalog: their variables are kept as written.
OTHER_TECH = {
    "MYSQL": "MySQL", "MARIADB": "MariaDB", "MONGO": "MongoDB", "MONGODB": "MongoDB", "MONGOOSE": "MongoDB",
    "CLICKHOUSE": "ClickHouse", "SQLITE": "SQLite", "ELASTIC": "Elasticsearch", "ELASTICSEARCH": "Elasticsearch",
    "ES": "Elasticsearch", "OPENSEARCH": "OpenSearch", "MEILI": "Meilisearch", "MEILISEARCH": "Meilisearch",
    "TYPESENSE": "Typesense", "RABBITMQ": "RabbitMQ", "AMQP": "RabbitMQ", "KAFKA": "Kafka", "NATS": "NATS",
    "MEMCACHED": "memcached", "MEMCACHE": "memcached", "CASSANDRA": "Cassandra", "NEO4J": "Neo4j",
    "DYNAMODB": "DynamoDB", "DYNAMO": "DynamoDB", "INFLUX": "InfluxDB", "INFLUXDB": "InfluxDB", "COUCHDB": "CouchDB",
    "FIRESTORE": "Firestore", "FIREBASE": "Firebase", "SUPABASE": "Supabase", "MSSQL": "SQL Server", "SES": "Amazon SES",
    "SQS": "Amazon SQS", "SNS": "Amazon SNS", "UPSTASH": "Upstash's REST API", "QDRANT": "Qdrant", "WEAVIATE": "Weaviate",
    "GCS": "Google Cloud Storage", "B2": "Backblaze B2", "LDAP": "LDAP", "SOLR": "Solr", "IPFS": "IPFS", "GOTENBERG": "Gotenberg",
}
OTHER_SCHEMES = {"mysql": "MySQL", "mysql2": "MySQL", "mariadb": "MariaDB", "mongodb": "MongoDB", "mongodb+srv": "MongoDB",
                 "sqlite": "SQLite", "file": "SQLite", "clickhouse": "ClickHouse", "amqp": "RabbitMQ", "amqps": "RabbitMQ",
                 "kafka": "Kafka", "nats": "NATS", "memcached": "memcached", "sqlserver": "SQL Server"}
# Driver switches (DB_CONNECTION=mysql) that say a whole family is another technology.
DRIVER_ROLES = {"CONNECTION", "DRIVER", "TYPE", "ENGINE", "CLIENT", "DIALECT", "ADAPTER", "DRIVERNAME", "DRIVER_NAME"}
DRIVER_VALUES = {"mysql": "MySQL", "mysql2": "MySQL", "mariadb": "MariaDB", "sqlite": "SQLite", "sqlite3": "SQLite",
                 "mongodb": "MongoDB", "sqlsrv": "SQL Server", "mssql": "SQL Server"}

# Third-party services whose credentials nobody can make locally: kept as written (the feature stays unset).
VENDORS = set("""GOOGLE GITHUB GITLAB BITBUCKET FACEBOOK FB TWITTER APPLE MICROSOFT AZURE DISCORD SLACK OPENAI ANTHROPIC
TWILIO ALGOLIA MAPBOX CLOUDINARY ZOOM HUBSPOT SALESFORCE INTERCOM PUSHER LINKEDIN OKTA AUTH0 KEYCLOAK OIDC OAUTH OAUTH2
OPENID SAML TELEGRAM MATRIX PUSHOVER VONAGE MESSAGEBIRD PAYPAL LEMONSQUEEZY LEMON PADDLE DAILY GIPHY UNSPLASH MAXMIND
CLERK VERCEL NETLIFY HEROKU CLOUDFLARE CF SHOPIFY NOTION LINEAR JIRA ZAPIER CALENDLY DROPBOX DEEPL HUGGINGFACE HF
REPLICATE COHERE MISTRAL GROQ PINECONE TOGETHER GEMINI VAPID WEBPUSH ONESIGNAL EXPO APNS FCM SIGNAL WHATSAPP MAILCHIMP
LOOPS CUSTOMERIO BREVO SENDINBLUE SPARKPOST MANDRILL MAILCHANNELS MAILJET AWS_SES IFRAMELY EMBEDLY RECURLY CHARGEBEE
BRAINTREE ADYEN SQUARE RAZORPAY MOLLIE COINBASE PLAID SEGMENT ZENDESK FRESHDESK CRISP TAWK GORGIAS ASANA TRELLO
FIGMA SPOTIFY STRAVA KAKAO NAVER WECHAT YANDEX OKTA WORKOS STYTCH DESCOPE MAGIC PASSAGE HANKO MUX DAILYCO AGORA
VIMEO YOUTUBE WISTIA TRANSLOADIT UPLOADCARE FILESTACK IMGIX NGROK""".split())
# Credential endings that are someone else's (OAuth clients, SaaS API keys).
THIRD_PARTY_ENDINGS = ("CLIENT_SECRET", "CLIENT_ID", "CONSUMER_KEY", "CONSUMER_SECRET", "API_KEY", "API_TOKEN", "AUTH_TOKEN",
                       "ACCESS_TOKEN", "LICENSE_KEY", "WRITE_KEY", "SITE_KEY", "SITEKEY", "APP_ID", "APP_SECRET", "ACCOUNT_SID",
                       "SERVICE_ACCOUNT", "CREDENTIALS", "API_SECRET", "PRIVATE_KEY", "PUBLIC_KEY", "SECRET_ID", "TENANT_ID")
# ... unless the app owns them (CRON_API_KEY is a shared secret the app checks).
INTERNAL_WORDS = {"INTERNAL", "ADMIN", "CRON", "SERVICE", "SERVER", "WORKER", "MASTER", "SYSTEM", "JOBS", "WEBHOOK", "APP"}

# Mail-sending vendors' keys that do not send mail (contact sync, marketing lists).
NOT_SENDING = {"SYNC", "CONTACT", "CONTACTS", "MARKETING", "AUDIENCE", "LIST", "LISTS", "NEWSLETTER", "CAMPAIGN", "CAMPAIGNS", "SUBSCRIBERS"}

# -- app secrets -----------------------------------------------------------------------------

SECRET_LAST = {"SECRET", "KEY", "KEYS", "SALT", "PEPPER", "SECRETKEY", "JWTSECRET", "KEYBASE", "BASE", "TOKEN"}
SECRET_WORDS = {"SECRET", "ENCRYPTION", "ENCRYPT", "SIGNING", "SIGN", "CRYPTO", "CIPHER", "HMAC", "JWT", "SESSION", "COOKIE",
                "MASTER", "APP", "OTP", "TOTP", "VAULT", "PRIMARY", "DETERMINISTIC", "DERIVATION", "HASH", "NEXTAUTH", "AUTH",
                "UTILS", "CSRF", "TOKEN", "SECRETKEY", "JWTSECRET", "SECONDARY", "ED25519", "SALT", "PEPPER", "CRON"}
PLACEHOLDER = re.compile(r"^$|^(x+|\.\.\.|<.*>|\[.*\]|\{.*\}|change.?me.*|replace.?me.*|your[-_ ].*|my[-_].*|secret|supersecret.*|"
                         r"password|example.*|todo|placeholder|optional|required|test|dev|development|changeit|"
                         r"insert.*|put.*here|generate.*|random.*|.*[-_]here|.*xxx.*|.*\.\.\.)$", re.I)

SECRET_COMMANDS = (
    (re.compile(r"openssl\s+rand\s+-hex\s+(\d+)"), lambda m: f"hex:{m.group(1)}"),
    (re.compile(r"openssl\s+rand\s+-base64\s+(\d+)"), lambda m: f"base64:{m.group(1)}"),
    (re.compile(r"\b(rails|rake)\s+secret\b|bin/rails secret"), lambda m: "hex:64"),
    (re.compile(r"phx\.gen\.secret"), lambda m: "base64:48"),
    (re.compile(r"secrets\.token_urlsafe\((\d+)\)"), lambda m: f"token:{m.group(1)}"),
    (re.compile(r"secrets\.token_hex\((\d+)\)"), lambda m: f"hex:{m.group(1)}"),
    (re.compile(r"get_random_secret_key"), lambda m: "token:40"),
    (re.compile(r"(\d+)\+?\s*(?:random\s+)?bytes", re.I), lambda m: f"hex:{max(int(m.group(1)), 16)}"),
    (re.compile(r"(\d+)\+?\s*(?:random\s+)?(?:characters|chars)\b", re.I), lambda m: f"hex:{max(int(m.group(1)) // 2, 8)}"),
)
SECRET_BY_NAME = {"SECRET_KEY_BASE": "hex:64", "NEXTAUTH_SECRET": "base64:32", "AUTH_SECRET": "base64:32", "APP_KEY": "base64:32"}


def is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.match(value.strip()))


def secret_spec(name: str, value: str, context: str) -> tuple[str, str]:
    """(generator spec, why) for an app secret."""
    text = context or ""
    if "ED25519" in name.upper() or re.search(r"ed25519", text, re.I):
        return "ed25519", "an Ed25519 key pair (the text says Ed25519)"
    for pattern, spec in SECRET_COMMANDS:
        match = pattern.search(text)
        if match:
            return spec(match), f"sized as the text says (`{match.group(0)}`)"
    for suffix, spec in SECRET_BY_NAME.items():
        if name.upper() == suffix or name.upper().endswith("_" + suffix):
            return spec, f"{spec}, the usual size of {suffix}"
    plain = value.strip()
    if not is_placeholder(plain):
        if re.fullmatch(r"[0-9a-fA-F]{16,}", plain) and len(plain) % 2 == 0:
            return f"hex:{len(plain) // 2}", f"hex like the example ({len(plain)} characters)"
        if re.fullmatch(r"[A-Za-z0-9+/]{16,}={0,2}", plain) and len(plain) % 4 == 0:
            return f"base64:{len(plain) * 3 // 4}", f"base64 like the example ({len(plain)} characters)"
    if name.upper().endswith(("SALT", "PEPPER", "TOKEN")):
        return "hex:16", "hex:16 (32 characters)"
    return "hex:32", "hex:32 (256 bits)"


# -- switched off in development ----------------------------------------------------------------

ANALYTICS_VENDORS = set("""NEWRELIC RELIC DD DATADOG SEGMENT MIXPANEL AMPLITUDE GA GA4 GTM HOTJAR LOGROCKET FULLSTORY HEAP
HONEYCOMB AXIOM LOGTAIL BETTERSTACK BUGSNAG ROLLBAR HIGHLIGHT OTEL OPENTELEMETRY SPLUNK APPSIGNAL SKYLIGHT MATOMO PIWIK
CLARITY FATHOM PIRSCH UMAMI PLAUSIBLE GOOGLE_ANALYTICS ANALYTICS SIMPLEANALYTICS COUNTLY RUDDERSTACK JUNE""".split())
FLAG_VENDORS = {"LAUNCHDARKLY", "UNLEASH", "FLAGSMITH", "GROWTHBOOK", "STATSIG", "CONFIGCAT", "SPLITIO", "FLIPT", "OPENFEATURE"}
SECRETS_MANAGERS = {"VAULT", "DOPPLER", "INFISICAL", "SECRETSMANAGER", "AKEYLESS", "ONEPASSWORD", "OP"}
CAPTCHA_TEST_KEYS = {  # the providers' documented always-pass keys
    "TURNSTILE": ("1x00000000000000000000AA", "1x0000000000000000000000000000000AA", "Cloudflare's always-pass Turnstile test key"),
    "HCAPTCHA": ("10000000-ffff-ffff-ffff-000000000001", "0x0000000000000000000000000000000000000000", "hCaptcha's always-pass test key"),
}
SECRETS_MANAGER_TEXT = re.compile(r"secrets?[- ]manager|vault|1password|doppler|infisical", re.I)
ANALYTICS_TEXT = re.compile(r"\b(umami|plausible|matomo|google analytics|mixpanel|segment|amplitude|hotjar|analytics|telemetry)\b", re.I)
FEATURE_FLAG_TEXT = re.compile(r"feature[- ]?flags?|feature toggles?|kill switch|remote config|config(uration)? server", re.I)

# -- prose -----------------------------------------------------------------------------------

LOCAL_DEV = re.compile(r"\blocal(ly|host)?\b|\bin dev\b|\bdev(elopment)?\b|can run locally", re.I)
KIND_WORDS = {
    "postgres": r"postgre(s|sql)|\bpg\b|supabase|neon\b",
    "redis": r"\bredis\b|valkey|upstash",
    "minio": r"\bminio\b|\bs3\b|object storage|file storage|cloudflare r2|\bspaces\b|file uploads?",
    "mailpit": r"\bsmtp\b|\be-?mail\b|\bses\b|mailpit|mailhog",
    "email_api": r"sendgrid|postmark|resend|mailgun|transactional e-?mail",
    "stripe": r"\bstripe\b|payments?\b",
    "coturn": r"\bturn\b|coturn|nat traversal",
    "livekit": r"livekit|\bsfu\b|mediasoup",
    "posthog": r"posthog|analytics",
    "sentry": r"sentry|error (tracking|monitoring)",
    "flags": r"feature[- ]flags?|config server",
}
CUES = {  # what a sentence about local development says
    "skip": re.compile(r"\bskip\b|not needed|doesn'?t need|no need|not required|\bwithout\b|❌|can be disabled|\bnone\b", re.I),
    "stub": re.compile(r"\bstubs?\b|\bmock|logged to (the )?console|log to (the )?console|\bfake\b|stand-?in|console", re.I),
    "off": re.compile(r"disabled|opt-in|turned off|\bdisable\b", re.I),
    "run": re.compile(r"\bdocker\b|✅|use minio|\brun\b|test mode|\blocalhost:\d+", re.I),
}


def kinds_named(text: str) -> list[str]:
    return [kind for kind, pattern in KIND_WORDS.items() if re.search(pattern, text, re.I)]


VERSION_TEXT = {"postgres": re.compile(r"postgre(?:s|sql)[ :]*(?:version\s*)?(\d{2})\+?\b", re.I),
                "redis": re.compile(r"redis[ :]*(\d)(?:\.\d+)?\b", re.I)}
VERSION_RANGE = {"postgres": range(10, 19), "redis": range(5, 9)}


def version_in(kind: str, text: str) -> str | None:
    pattern = VERSION_TEXT.get(kind)
    match = pattern.search(text) if pattern else None
    if match and int(match.group(1)) in VERSION_RANGE[kind]:
        return match.group(1)
    return None


# -- images ----------------------------------------------------------------------------------

IMAGE_KINDS = (
    (re.compile(r"(^|/)(postgres|postgis|timescaledb|pgvector|postgresql)$"), "postgres"),
    (re.compile(r"(^|/)(redis|redis-stack|redis-stack-server|valkey|keydb|dragonfly)$"), "redis"),
    (re.compile(r"(^|/)minio$"), "minio"),
    (re.compile(r"(^|/)(mailpit|mailhog|maildev|mailcatcher|smtp4dev|inbucket|greenmail|mailcrab)$"), "mailpit"),
    (re.compile(r"(^|/)stripe-mock$"), "stripe"),
    (re.compile(r"(^|/)coturn$"), "coturn"),
    (re.compile(r"(^|/)livekit-server$"), "livekit"),
)


def _image_repo(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return name.lower(), tag


def kind_of_image(image: str) -> str | None:
    repo, _ = _image_repo(image)
    return next((kind for pattern, kind in IMAGE_KINDS if pattern.search(repo)), None)


def image_version(image: str) -> str | None:
    _, tag = _image_repo(image)
    match = re.match(r"^v?(\d+)", tag)
    return match.group(1) if match else None
