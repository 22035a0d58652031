"""The one settings module. Every difference between environments comes from the environment."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# Optional; variables already in the environment win. A `# comment` after a value is dropped,
# so a line of .env.example copied with its comment still parses.
env.read_env(BASE_DIR / ".env", parse_comments=True)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_bool(name: str, *, default: bool) -> bool:
    """A boolean setting: true/false/1/0/yes/no; anything else stops start-up."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false; got {raw!r}")


def env_number(
    name: str, *, default: float, low: float, high: float, integer: bool = True
) -> float:
    """A bounded number; a typo or an out-of-range value fails at start-up, naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ImproperlyConfigured(f"{name} must be {kind}; got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low:g} and {high:g}; got {raw!r}")
    return value


def env_choice(name: str, *, choices: tuple[str, ...], default: str) -> str:
    """An enumerated setting; a typo fails at start-up, not at the first booking."""
    value = env.str(name, default=default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def env_list(name: str, *, default: str) -> list[str]:
    return [item.strip() for item in env.str(name, default=default).split(",") if item.strip()]


def dev_server_url(service: str) -> str:
    """The URL of the development server (devserver/embedded.py) of `service`, the default when
    DATABASE_URL or REDIS_URL is unset. Imported only then: production never loads it."""
    try:
        from devserver import embedded
    except ImportError:  # an image without the development servers
        variable = "DATABASE_URL" if service == "postgres" else "REDIS_URL"
        raise ImproperlyConfigured(f"{variable} must be set") from None
    return embedded.database_url() if service == "postgres" else embedded.redis_url()


# CORE -----------------------------------------------------------------------------------------
# The embedded servers' data, and the generated secret key of development.
SLOTBOOKING_DATA_DIR = Path(os.environ.get("SLOTBOOKING_DATA_DIR") or BASE_DIR / "var").resolve()
VERSION = "1.0.0"


# development: a checkout on one machine (the default while DATABASE_URL is unset, i.e. on the
# embedded servers); production: anything else. Production refuses to start without its own
# DJANGO_SECRET_KEY, so that every process of a deployment signs with the same key.
DJANGO_ENV = env_choice(
    "DJANGO_ENV",
    choices=("development", "production"),
    default="production" if os.environ.get("DATABASE_URL") else "development",
)


def _secret_key() -> str:
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    if DJANGO_ENV != "development":
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_ENV is production (the default when "
            "DATABASE_URL is set): generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        )
    # Development: generated once per data dir, so sessions survive restarts.
    key_file = SLOTBOOKING_DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default="localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", default="")
PORT = int(env_number("PORT", default=3000, low=1, high=65535))
WEB_CONCURRENCY = int(env_number("WEB_CONCURRENCY", default=os.cpu_count() or 1, low=1, high=256))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "pgtrigger",
    "slotbooking",
    "core.idempotency",
    "accounts",
    "slots",
    "bookings",
    "analytics",
    "webhooks",
    "calendars",
]

MIDDLEWARE = [
    "core.metrics.registry.MetricsMiddleware",  # first: it times everything below it
    "core.api.middleware.RequestIdMiddleware",
    "core.api.http_limits.RequestLimitsMiddleware",  # 414/431 envelopes before any work
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "slotbooking.urls"
WSGI_APPLICATION = "slotbooking.wsgi.application"
APPEND_SLASH = False  # every API path is routed with and without its slash; no redirects

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE -------------------------------------------------------------------------------------
# Default: the private cluster that `make run` and `make test` start (devserver/embedded.py).
DATABASES = {
    "default": env.db_url_config(os.environ.get("DATABASE_URL") or dev_server_url("postgres"))
}
DATABASES["default"]["CONN_MAX_AGE"] = int(
    env_number("DATABASE_CONN_MAX_AGE", default=60, low=0, high=86400)
)
# Server-side binding lets psycopg prepare a statement the connection has run
# DATABASE_PREPARE_THRESHOLD times: PostgreSQL then skips parsing and planning it, which on the
# booking and read paths is most of the database's work per query. 0 turns preparing off (a
# pooler in transaction mode that cannot track prepared statements).
_prepare_threshold = int(env_number("DATABASE_PREPARE_THRESHOLD", default=2, low=0, high=1000))
DATABASES["default"].setdefault("OPTIONS", {}).update(
    server_side_binding=True,
    prepare_threshold=_prepare_threshold or None,
)
# No CONN_HEALTH_CHECKS: it costs a `SELECT 1` round trip on every request. Our backend instead
# drops, before each request, a kept connection that the server hung up on (a database restart),
# with one non-blocking poll of its socket; the request then connects afresh.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.db.pgbackend"
# pytest runs in parallel checkouts may share one server: each can name its own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}
# No ATOMIC_REQUESTS: services open durable transactions, which a request-wide one would nest.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Email is unique ignoring case through a unique index on lower(email), which Django's
# check for a plain unique USERNAME_FIELD does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# I18N AND TIME --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # the server's own zone never affects a result
USE_I18N = False
USE_TZ = True
# The admin shows dates as 2026-12-02 09:00 UTC (slotbooking/formats/en/formats.py).
FORMAT_MODULE_PATH = "slotbooking.formats"

# STATIC FILES ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# SECURITY -------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind TLS (`manage.py check --deploy` is clean with all of these on). Off by default, since
# `make run` serves plain HTTP on localhost.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = int(env_number("DJANGO_SECURE_HSTS_SECONDS", default=0, low=0, high=63072000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=False)
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    # The proxy in front sets X-Forwarded-Proto: only then may Django trust it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # larger bodies get 413 PAYLOAD_TOO_LARGE
# A form post that fails the CSRF check (the admin's) gets the JSON envelope, not an HTML page.
CSRF_FAILURE_VIEW = "core.api.views.csrf_failure"

CORS_ALLOWED_ORIGINS_RAW = env_list("CORS_ALLOWED_ORIGINS", default="*")
if CORS_ALLOWED_ORIGINS_RAW == ["*"]:
    CORS_ALLOW_ALL_ORIGINS = True
else:
    CORS_ALLOWED_ORIGINS = CORS_ALLOWED_ORIGINS_RAW
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-request-id",
    "x-user-id",
]
CORS_EXPOSE_HEADERS = [
    "X-Request-Id",
    "Retry-After",
    "Idempotent-Replayed",
    "Idempotency-Key",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]

# AUTHENTICATION ---------------------------------------------------------------------------------
AUTH_ALLOW_USER_ID_HEADER = env_bool("AUTH_ALLOW_USER_ID_HEADER", default=True)
AUTH_STAFF_REQUIRES_TOKEN = env_bool("AUTH_STAFF_REQUIRES_TOKEN", default=True)
AUTH_OPEN_REGISTRATION = env_bool("AUTH_OPEN_REGISTRATION", default=True)

# BOOKINGS ---------------------------------------------------------------------------------------
BOOKING_LOCK_TIMEOUT = env_number(
    "BOOKING_LOCK_TIMEOUT", default=3, low=0.1, high=60, integer=False
)
MAX_ACTIVE_BOOKINGS = int(env_number("MAX_ACTIVE_BOOKINGS", default=5, low=1, high=10000))
CANCELLATION_WINDOW_HOURS = int(
    env_number("CANCELLATION_WINDOW_HOURS", default=1, low=0, high=8760)
)
# Test-only switches for the control tests that prove the concurrency tests can fail. They are
# never read from the environment: only a test's `settings` fixture can turn them on.
BOOKING_TEST_SKIP_LOCKS = False
BOOKING_TEST_DELAY_BEFORE_WRITE = 0.0
if os.environ.get("SLOTBOOKING_TEST_WORKER") == "1":
    # The one exception: a Celery worker that the queued-mode tests start as a subprocess, where
    # no fixture reaches. The SIGKILL test needs its worker to pause inside the transaction.
    BOOKING_TEST_DELAY_BEFORE_WRITE = env_number(
        "BOOKING_TEST_DELAY_BEFORE_WRITE", default=0, low=0, high=60, integer=False
    )

# Holds and the waitlist: how long a place is held for a checkout, and for a waitlist offer.
HOLD_TTL_SECONDS = int(env_number("HOLD_TTL_SECONDS", default=300, low=30, high=86400))
HOLD_MAX_TTL_SECONDS = int(env_number("HOLD_MAX_TTL_SECONDS", default=1800, low=30, high=86400))
if HOLD_TTL_SECONDS > HOLD_MAX_TTL_SECONDS:
    raise ImproperlyConfigured(
        f"HOLD_TTL_SECONDS ({HOLD_TTL_SECONDS}) must not exceed "
        f"HOLD_MAX_TTL_SECONDS ({HOLD_MAX_TTL_SECONDS})"
    )
WAITLIST_OFFER_TTL_SECONDS = env_number(
    "WAITLIST_OFFER_TTL_SECONDS", default=900, low=1, high=86400, integer=False
)
# How often beat marks lapsed holds EXPIRED and passes lapsed offers on (seconds).
HOLD_SWEEP_INTERVAL = 30.0

# Queued mode. Only bookings/dispatch.py reads BOOKING_MODE.
_use_booking_queue = env_bool("USE_BOOKING_QUEUE", default=False)
if os.environ.get("BOOKING_MODE", "").strip():
    BOOKING_MODE = env_choice("BOOKING_MODE", choices=("sync", "queued"), default="sync")
    if "USE_BOOKING_QUEUE" in os.environ and _use_booking_queue != (BOOKING_MODE == "queued"):
        # Settings run before LOGGING applies; Python's last-resort handler prints this to stderr.
        logging.getLogger("slotbooking.settings").warning(
            "BOOKING_MODE=%s and USE_BOOKING_QUEUE=%s disagree; BOOKING_MODE wins",
            BOOKING_MODE,
            os.environ["USE_BOOKING_QUEUE"],
        )
else:
    BOOKING_MODE = "queued" if _use_booking_queue else "sync"
BOOKING_QUEUE_WAIT = env_number("BOOKING_QUEUE_WAIT", default=10, low=0.5, high=60, integer=False)
BOOKING_QUEUE_PARTITIONS = int(env_number("BOOKING_QUEUE_PARTITIONS", default=4, low=1, high=64))
BOOKING_QUEUE_PUBLISH_TIMEOUT = env_number(
    "BOOKING_QUEUE_PUBLISH_TIMEOUT", default=2, low=0.1, high=60, integer=False
)

# Idempotency keys.
IDEMPOTENCY_KEY_TTL_HOURS = env_number(
    "IDEMPOTENCY_KEY_TTL_HOURS", default=24, low=0.01, high=8760, integer=False
)
IDEMPOTENCY_CLAIM_TTL = env_number(
    "IDEMPOTENCY_CLAIM_TTL", default=120, low=1, high=86400, integer=False
)
# A claim must outlive the longest legitimate run (queue wait plus the lock waits of the
# transaction), or a second request could take over a claim whose owner is still working.
if IDEMPOTENCY_CLAIM_TTL <= BOOKING_QUEUE_WAIT + 2 * BOOKING_LOCK_TIMEOUT:
    raise ImproperlyConfigured(
        f"IDEMPOTENCY_CLAIM_TTL ({IDEMPOTENCY_CLAIM_TTL:g}) must exceed BOOKING_QUEUE_WAIT + "
        f"2 x BOOKING_LOCK_TIMEOUT ({BOOKING_QUEUE_WAIT + 2 * BOOKING_LOCK_TIMEOUT:g})"
    )

# CELERY -----------------------------------------------------------------------------------------
# Broker and result backend of queued mode. Default: the private Redis that `make run` and
# `make test` start (devserver/embedded.py). Nothing here connects: connections open on first use.
REDIS_URL = env.str("REDIS_URL", default="") or dev_server_url("redis")
CELERY_VISIBILITY_TIMEOUT = env_number(
    "CELERY_VISIBILITY_TIMEOUT", default=300, low=1, high=86400, integer=False
)
# An unacknowledged task is redelivered after the visibility timeout: it must not come back
# while its claim is still considered alive, or two deliveries could race for one claim.
if CELERY_VISIBILITY_TIMEOUT <= IDEMPOTENCY_CLAIM_TTL:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT:g}) must exceed "
        f"IDEMPOTENCY_CLAIM_TTL ({IDEMPOTENCY_CLAIM_TTL:g})"
    )
# The cache: Redis, so that anything counted per user is shared by every web and worker process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default="") or REDIS_URL,
        "KEY_PREFIX": "slotbooking",
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task is acknowledged only once it has run, and comes back if its worker dies;
# each worker holds one message at a time, so a partition's tasks run in queue order.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
# seconds; a result nobody collected goes away. Queued bookings store none: they are published
# with ignore_result and answer through a reply list (bookings/tasks.py).
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_DB_REUSE_MAX = 1000  # workers keep their database connection between tasks
CELERY_BEAT_SCHEDULE = {
    "idempotency-prune": {"task": "bookings.idempotency_prune", "schedule": 3600.0},
    "holds-expire": {"task": "bookings.holds_expire", "schedule": HOLD_SWEEP_INTERVAL},
}

# RATE LIMITING AND METRICS ----------------------------------------------------------------------
# POST /api/bookings per user per fixed window, counted in Redis (REDIS_URL); 0 turns it off.
BOOKING_RATE_LIMIT = int(env_number("BOOKING_RATE_LIMIT", default=10, low=0, high=10**9))
BOOKING_RATE_LIMIT_WINDOW = int(
    env_number("BOOKING_RATE_LIMIT_WINDOW", default=60, low=1, high=86400)
)
METRICS_ENABLED = env_bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")  # when set, /metrics wants it as a bearer

# ANALYTICS --------------------------------------------------------------------------------------
ANALYTICS_MAX_RANGE_DAYS = int(
    env_number("ANALYTICS_MAX_RANGE_DAYS", default=366, low=1, high=36600)
)
ANALYTICS_STATEMENT_TIMEOUT = env_number(
    "ANALYTICS_STATEMENT_TIMEOUT", default=10, low=0.1, high=3600, integer=False
)

# WEBHOOKS AND CALENDARS -------------------------------------------------------------------------
# Delivered by the default-queue worker; its beat runs the sweep every 30 s and the prune hourly.
WEBHOOK_TIMEOUT = env_number("WEBHOOK_TIMEOUT", default=10, low=0.5, high=60, integer=False)
WEBHOOK_MAX_ATTEMPTS = int(env_number("WEBHOOK_MAX_ATTEMPTS", default=20, low=1, high=100))
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
CELERY_BEAT_SCHEDULE.update(
    {
        "webhooks-sweep": {"task": "webhooks.sweep", "schedule": 30.0},
        "webhooks-prune": {"task": "webhooks.prune", "schedule": 3600.0},
    }
)

# DJANGO REST FRAMEWORK --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.ApiAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JsonParser", "core.api.parsers.FormParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.JsonRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.api.renderers.FirstRendererNegotiation",
    "EXCEPTION_HANDLER": "core.api.exception_handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Slot Booking API",
    "DESCRIPTION": (
        "Hosts publish time slots, guests book them, nobody is ever double-booked. "
        "Every error uses one envelope: `{success: false, error: {code, reason, message}}`."
    ),
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "UserIdHeader": {"type": "apiKey", "in": "header", "name": "x-user-id"},
            "BearerAuth": {"type": "http", "scheme": "bearer"},
        }
    },
    "SECURITY": [{"BearerAuth": []}, {"UserIdHeader": []}],
    # Form bodies are accepted as before, but only JSON is offered to clients: a generated
    # client encodes arrays (roles) as repeated form keys, which the form reader does not join.
    "PARSER_WHITELIST": ["core.api.parsers.JsonParser"],
    "TAGS": [  # one per resource; operations get theirs in core.api.schema.ApiAutoSchema
        {"name": "users", "description": "Registration, the caller and API tokens."},
        {"name": "slots", "description": "Time slots that hosts publish."},
        {"name": "bookings", "description": "Booking, cancelling and a booking's history."},
        {"name": "analytics", "description": "Booking figures for staff."},
        {"name": "webhooks", "description": "Signed notifications of changes, sent to your URL."},
        {"name": "calendars", "description": "Bookings and a host's slots as iCalendar files."},
        {"name": "health", "description": "Service information and health checks."},
    ],
    "ENUM_NAME_OVERRIDES": {
        "SlotStatusEnum": "slots.models.SlotStatus",
        "BookingStatusEnum": "bookings.models.BookingStatus",
        "WebhookEventTypeEnum": "webhooks.models.EventType",
    },
}

# LOGGING ----------------------------------------------------------------------------------------
LOG_LEVEL = env_choice(
    "LOG_LEVEL", choices=("debug", "info", "warning", "error", "critical"), default="info"
).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", choices=("json", "text"), default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "core.logging.formatters.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    # Every line logged while serving a request or queued task names its request id.
    "filters": {"request_id": {"()": "core.logging.filters.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our own request log replaces Django's; it never prints bodies or Authorization.
        "django.request": {"level": "CRITICAL"},
        "django.server": {"level": "WARNING"},
    },
}
