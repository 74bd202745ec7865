"""Settings, read from the environment.

With no variables set the engine runs on the embedded default: SQLite, a local-memory cache,
the in-memory channel layer, and tasks (including the beat schedule) run inside the serving
process. DATABASE_URL (PostgreSQL) and REDIS_URL switch to the production topology. Every value
is parsed by the typed readers in nexgent.env, which fail loudly on a bad value.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from nexgent.env import (
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_url,
)
from nexgent.secret_files import secret_file_read_or_create

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("NEXGENT_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
# `make demo` (NEXGENT_DEMO=1) runs on a database of its own, emptied at each start of the demo
# (`manage.py serve --demo` refuses any other): demo state never mixes with the real one.
DEMO = env_bool("NEXGENT_DEMO", False)
if DEMO and DATABASE_URL:
    raise ImproperlyConfigured("NEXGENT_DEMO runs on the embedded default: unset DATABASE_URL.")
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DATABASE_URL:
        # The embedded default keeps its key in VAR_DIR, made on first use (as the wallet
        # master key): any manage.py command works as is, and sessions survive a restart.
        SECRET_KEY, _ = secret_file_read_or_create(VAR_DIR / "secret_key")
    elif DEBUG:
        # Development on PostgreSQL: a per-process key, so nothing signed survives a restart.
        SECRET_KEY = secrets.token_urlsafe(50)
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off and DATABASE_URL is set (production)."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "corsheaders",
    "django_htmx",
    "channels",
    "django_prometheus",
    "agents",
    "wallets",
    "trading",
    "signals_app",
    "prices",
    "localnet",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "nexgent.urls"
ASGI_APPLICATION = "nexgent.asgi.application"
AUTH_USER_MODEL = "agents.User"
# Every password login (API, dashboard, admin) goes through the login guard (agents.login_guard,
# docs/security.md).
AUTHENTICATION_BACKENDS = ["agents.backends.GuardedModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
LOGIN_ATTEMPTS_PER_MINUTE = env_int("LOGIN_ATTEMPTS_PER_MINUTE", 5, minimum=1, maximum=1000)
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1, maximum=1000)
LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15, minimum=1, maximum=24 * 60)
LOGIN_ACCOUNT_MAX_FAILURES = env_int("LOGIN_ACCOUNT_MAX_FAILURES", 50, minimum=1, maximum=100000)
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=1, maximum=3650)
LOGIN_URL = "dashboard-login"
LOGIN_REDIRECT_URL = "dashboard-home"
LOGOUT_REDIRECT_URL = "dashboard-login"

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
                "nexgent.context_processors.engine_problems",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if DATABASE_URL:
    _db = environ.Env.db_url_config(DATABASE_URL)
    if _db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (PostgreSQL only).")
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    _db["CONN_HEALTH_CHECKS"] = True
    DATABASES = {"default": _db}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # SQLITE_PATH names the real database only: the demo's is always its own file.
            "NAME": str(VAR_DIR / "demo.sqlite3")
            if DEMO
            else env_str("SQLITE_PATH", str(VAR_DIR / "nexgent.sqlite3")),
            # IMMEDIATE makes every atomic block take the write lock at BEGIN, so two writers
            # serialise instead of failing on lock upgrade; the timeout makes them wait.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not shared-cache memory, so tests with server threads lock like production.
            # One file per test process, so concurrent runs never share a database.
            "TEST": {
                "NAME": env_str("SQLITE_TEST_PATH", str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ----------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "nexgent",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "nexgent"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# "embedded": tasks run on a thread pool inside the serving process and the beat schedule is
# driven by an in-process ticker. "celery": tasks go to the broker for Celery workers.
# "eager": tasks run synchronously in the caller (deterministic tests).
TASK_MODE = env_choice(
    "NEXGENT_TASK_MODE", "celery" if REDIS_URL else "embedded", {"embedded", "celery", "eager"}
)
if TASK_MODE == "celery" and not REDIS_URL:
    raise ImproperlyConfigured("NEXGENT_TASK_MODE=celery needs REDIS_URL for the broker.")
# Celery's own eager mode; nexgent.celery keeps it in step when a test changes TASK_MODE.
CELERY_TASK_ALWAYS_EAGER = TASK_MODE == "eager"
CELERY_TASK_EAGER_PROPAGATES = True
EMBEDDED_WORKERS = env_int("NEXGENT_EMBEDDED_WORKERS", 4, minimum=1, maximum=64)

PRICE_POLL_INTERVAL_SECONDS = env_decimal(
    "PRICE_POLL_INTERVAL_SECONDS", "1", minimum="0.5", maximum="60"
)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes a worker's database connection after every task unless this is
# set; nexgent.celery recycles connections by CONN_MAX_AGE instead, as a request does. The
# fixup still closes the connection of the thread that ends every 100,000th task.
CELERY_DB_REUSE_MAX = 100_000
# The one beat schedule. `expires` is just under the period so a backlog never piles up.
CELERY_BEAT_SCHEDULE = {
    "price-poll": {
        "task": "trading.tasks.price_poll",
        "schedule": float(PRICE_POLL_INTERVAL_SECONDS),
        "options": {"expires": float(PRICE_POLL_INTERVAL_SECONDS) * 0.9},
    },
}

CELERY_BEAT_SCHEDULE["auth-records-purge"] = {
    "task": "agents.tasks.auth_records_purge",
    "schedule": 3600.0,
    "options": {"expires": 1800.0},
}

# --- Market data and venues -------------------------------------------------------------------
JUPITER_BASE_URL = env_url("JUPITER_BASE_URL", "https://api.jup.ag/swap/v1")
JUPITER_PRICE_URL = env_url("JUPITER_PRICE_URL", "https://api.jup.ag/price/v3")
# Ultra's /order and /execute (the same contract at https://api.jup.ag/swap/v2).
JUPITER_ULTRA_URL = env_url("JUPITER_ULTRA_URL", "https://api.jup.ag/ultra/v1")
JUPITER_API_KEY = env_str("JUPITER_API_KEY")
DEXSCREENER_BASE_URL = env_url("DEXSCREENER_BASE_URL", "https://api.dexscreener.com")
HERMES_BASE_URL = env_url("HERMES_BASE_URL", "https://hermes.pyth.network")
PYTH_API_KEY = env_str("PYTH_API_KEY")
SOLANA_RPC_URL = env_url("SOLANA_RPC_URL", "https://api.mainnet-beta.solana.com")
HTTP_TIMEOUT_SECONDS = env_decimal("HTTP_TIMEOUT_SECONDS", "5", minimum="0.1", maximum="60")
PRICE_STALE_SECONDS = env_int("PRICE_STALE_SECONDS", 30, minimum=1)
SWAP_SLIPPAGE_BPS = env_int("SWAP_SLIPPAGE_BPS", 100, minimum=1, maximum=5000)
# A stop-loss exit must get out even when the price is falling fast: a sale refused for
# slippage leaves the position open while it falls further, so its tolerance is wider.
SWAP_SLIPPAGE_BPS_STOP_LOSS = env_int("SWAP_SLIPPAGE_BPS_STOP_LOSS", 500, minimum=1, maximum=5000)
# How a live wallet swaps (trading.venues.LIVE_VENUES): "metis" quotes, builds with /swap and
# sends through our RPC (trading.live); "ultra" takes Jupiter Ultra's /order and has /execute
# land it (trading.live_ultra). Ultra picks its own slippage (docs/decisions.md "Live swaps").
LIVE_SWAP_ROUTE = env_choice("LIVE_SWAP_ROUTE", "metis", {"metis", "ultra"})
# Live swaps (trading.live): the priority fee Jupiter sets in the swap transaction, capped.
SWAP_PRIORITY_LEVEL = env_choice("SWAP_PRIORITY_LEVEL", "veryHigh", {"medium", "high", "veryHigh"})
SWAP_PRIORITY_MAX_LAMPORTS = env_int(
    "SWAP_PRIORITY_MAX_LAMPORTS", 1_000_000, minimum=0, maximum=100_000_000
)
# Confirmation of a sent swap: signature statuses polled this often, the same signed bytes sent
# again this often until it lands or its blockhash expires (external-apis.md section 4.5), and
# an end to the wait when the RPC cannot tell (the swap stays pending, resolved on the next
# attempt: docs/decisions.md "Live swaps").
LIVE_CONFIRM_POLL_SECONDS = env_decimal(
    "LIVE_CONFIRM_POLL_SECONDS", "0.2", minimum="0.01", maximum="10"
)
LIVE_RESEND_SECONDS = env_decimal("LIVE_RESEND_SECONDS", "2", minimum="0.1", maximum="30")
LIVE_CONFIRM_TIMEOUT_SECONDS = env_decimal(
    "LIVE_CONFIRM_TIMEOUT_SECONDS", "90", minimum="1", maximum="600"
)
# A signal's buy not made within this long of the signal is skipped (`signal_expired`): a buy
# task redelivered after a crash (the broker's visibility timeout is an hour) or stuck behind
# a backlog must not buy on old news.
SIGNAL_BUY_MAX_AGE_SECONDS = env_int("SIGNAL_BUY_MAX_AGE_SECONDS", 60, minimum=1, maximum=86400)
# Committed work a crash lost (a signal whose fan-out never ran, buys left pending when a
# worker died) is dispatched again by signals_app.tasks.signals_resume once it has waited this
# long; signals older than the window are left as they are (docs/decisions.md).
SIGNAL_RESUME_INTERVAL_SECONDS = env_int(
    "SIGNAL_RESUME_INTERVAL_SECONDS", 10, minimum=1, maximum=3600
)
SIGNAL_RESUME_AFTER_SECONDS = env_int("SIGNAL_RESUME_AFTER_SECONDS", 15, minimum=1, maximum=3600)
SIGNAL_RESUME_WINDOW_SECONDS = env_int(
    "SIGNAL_RESUME_WINDOW_SECONDS", 86400, minimum=60, maximum=30 * 86400
)
# The tick's lock is a lease its watchdog renews while the tick runs (trading.tasks): after a
# worker dies mid-tick, the next tick runs within one lease; a tick stuck past the maximum is
# no longer renewed.
PRICE_POLL_LEASE_SECONDS = env_int("PRICE_POLL_LEASE_SECONDS", 5, minimum=1, maximum=300)
PRICE_POLL_MAX_SECONDS = env_int("PRICE_POLL_MAX_SECONDS", 120, minimum=5, maximum=3600)
# /health/ready fails when the last price tick finished longer ago than this.
HEALTH_TICK_LATE_SECONDS = env_int("HEALTH_TICK_LATE_SECONDS", 30, minimum=2, maximum=3600)
CELERY_BEAT_SCHEDULE["signals-resume"] = {
    "task": "signals_app.tasks.signals_resume",
    "schedule": float(SIGNAL_RESUME_INTERVAL_SECONDS),
    "options": {"expires": float(SIGNAL_RESUME_INTERVAL_SECONDS) * 0.9},
}
# AI strategist agents whose current period has no cycle yet are looked for this often
# (signals_app.tasks.strategist_cycles_dispatch); a cycle not started within
# STRATEGIST_CYCLE_EXPIRES_SECONDS of being sent is dropped (the next look sends it again).
STRATEGIST_DISPATCH_INTERVAL_SECONDS = env_int(
    "STRATEGIST_DISPATCH_INTERVAL_SECONDS", 20, minimum=1, maximum=3600
)
STRATEGIST_CYCLE_EXPIRES_SECONDS = env_int(
    "STRATEGIST_CYCLE_EXPIRES_SECONDS", 60, minimum=1, maximum=86400
)
# Finished strategist cycles (each with its prompt) are kept this long, then purged hourly.
STRATEGIST_CYCLE_RETENTION_DAYS = env_int(
    "STRATEGIST_CYCLE_RETENTION_DAYS", 30, minimum=1, maximum=3650
)
CELERY_BEAT_SCHEDULE["strategist-cycles-purge"] = {
    "task": "signals_app.tasks.strategist_cycles_purge_old",
    "schedule": 3600.0,
    "options": {"expires": 3300.0},
}
CELERY_BEAT_SCHEDULE["strategist-cycles"] = {
    "task": "signals_app.tasks.strategist_cycles_dispatch",
    "schedule": float(STRATEGIST_DISPATCH_INTERVAL_SECONDS),
    "options": {"expires": float(STRATEGIST_DISPATCH_INTERVAL_SECONDS) * 0.9},
}
# Live wallets are reconciled with the chain this often (trading.tasks.wallets_reconcile,
# docs/decisions.md "Reconcile").
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 60, minimum=5, maximum=3600)
CELERY_BEAT_SCHEDULE["wallets-reconcile"] = {
    "task": "trading.tasks.wallets_reconcile",
    "schedule": float(RECONCILE_INTERVAL_SECONDS),
    "options": {"expires": float(RECONCILE_INTERVAL_SECONDS) * 0.9},
}
# Every agent wallet's balance and equity are snapshotted this often for its balance history
# and performance figures (trading.tasks.balance_snapshots_record, docs/analytics.md); each
# position close adds a snapshot of its wallet as well.
BALANCE_SNAPSHOT_INTERVAL_SECONDS = env_int(
    "BALANCE_SNAPSHOT_INTERVAL_SECONDS", 3600, minimum=60, maximum=86400
)
CELERY_BEAT_SCHEDULE["balance-snapshots"] = {
    "task": "trading.tasks.balance_snapshots_record",
    "schedule": float(BALANCE_SNAPSHOT_INTERVAL_SECONDS),
    "options": {"expires": float(BALANCE_SNAPSHOT_INTERVAL_SECONDS) * 0.9},
}
# What a simulated fill charges, as a live Jupiter swap would (trading-rules.md section 7).
SIM_PROTOCOL_FEE_BPS = env_int("SIM_PROTOCOL_FEE_BPS", 10, minimum=0, maximum=1000)
SIM_SIGNATURE_FEE_LAMPORTS = env_int("SIM_SIGNATURE_FEE_LAMPORTS", 5000, minimum=0)
SIM_PRIORITY_FEE_LAMPORTS = env_int("SIM_PRIORITY_FEE_LAMPORTS", 100000, minimum=0)
SIM_RENT_FEE_LAMPORTS = env_int("SIM_RENT_FEE_LAMPORTS", 0, minimum=0)
RUG_LIQUIDITY_SOL_THRESHOLD = env_decimal("RUG_LIQUIDITY_SOL_THRESHOLD", "10", minimum="0")

# --- Wallets and keys (docs/security.md) -----------------------------------------------------
# Live wallets' private keys are encrypted with a key derived from this master secret
# (wallets/keystore.py). Either the secret itself or a file holding it; with neither, the
# embedded default (no DATABASE_URL) creates a key file in VAR_DIR on first use, while a
# production deployment refuses live-wallet operations rather than invent a key on one host.
WALLET_MASTER_KEY = env_str("WALLET_MASTER_KEY")
WALLET_MASTER_KEY_FILE = env_str("WALLET_MASTER_KEY_FILE")
if WALLET_MASTER_KEY and WALLET_MASTER_KEY_FILE:
    raise ImproperlyConfigured(
        "Set WALLET_MASTER_KEY or WALLET_MASTER_KEY_FILE, not both: which one encrypts the keys?"
    )

# --- Market data providers (issue 5) ----------------------------------------------------------
# Token prices: Jupiter Price v3 (USD, converted to SOL with Pyth's SOL/USD) or DexScreener
# (priceNative of the deepest wSOL pool, already in SOL). See docs/market-data.md.
PRICE_SOURCE = env_choice("PRICE_SOURCE", "jupiter", {"jupiter", "dexscreener"})
# Client-side request budgets, shared by every process through the cache. DexScreener and
# Hermes document theirs (300/min; 30 per 10 s on the public instance); Jupiter's depends on the
# key's tier and is shared with swap quotes, which are counted but never refused.
JUPITER_PRICE_REQUESTS_PER_MINUTE = env_int("JUPITER_PRICE_REQUESTS_PER_MINUTE", 300, minimum=1)
DEXSCREENER_REQUESTS_PER_MINUTE = env_int("DEXSCREENER_REQUESTS_PER_MINUTE", 300, minimum=1)
HERMES_REQUESTS_PER_10_SECONDS = env_int("HERMES_REQUESTS_PER_10_SECONDS", 30, minimum=1)
# How old (since received) the stream's SOL/USD may be before a tick fetches it over REST, and
# how often the stream consumer polls REST while the stream is down.
SOL_USD_REFRESH_SECONDS = env_decimal("SOL_USD_REFRESH_SECONDS", "2", minimum="0.1", maximum="60")
# `manage.py price_stream` reads the Hermes SSE stream; off, it polls Hermes REST instead.
HERMES_SSE_ENABLED = env_bool("HERMES_SSE_ENABLED", True)
# At most one price sample per token per interval is written from the tick, kept this long.
PRICE_HISTORY_MIN_INTERVAL_SECONDS = env_int("PRICE_HISTORY_MIN_INTERVAL_SECONDS", 10, minimum=1)
PRICE_HISTORY_RETENTION_DAYS = env_int("PRICE_HISTORY_RETENTION_DAYS", 30, minimum=1)
CELERY_BEAT_SCHEDULE["price-history-purge"] = {
    "task": "prices.tasks.price_history_purge",
    "schedule": 3600.0,
    "options": {"expires": 3300.0},
}

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agents.authentication.ApiKeyAuthentication",
        "agents.authentication.SessionJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "nexgent.schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "nexgent.parsers.DecimalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "nexgent.api.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "nexgent.negotiation.ContentNegotiation",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles key on the client address the ASGI server decided (uvicorn believes
    # X-Forwarded-For only from FORWARDED_ALLOW_IPS, 127.0.0.1 by default), never on a
    # forwarded header any client can write (docs/decisions.md).
    "NUM_PROXIES": 0,
    # Password logins are throttled by the login guard (agents.login_guard) on every door.
    "DEFAULT_THROTTLE_RATES": {
        "refresh": "10/min",
        "signals": "120/min",
        "wallet": "5/min",
    },
}
# Tokens belong to a login session (agents.auth_services): refresh rotates them, logout ends
# them all; no token is ever stored.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=24),
    "AUTH_HEADER_TYPES": ("Bearer",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Nexgent trading engine API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs are for operators: logged in (dashboard cookie or token).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI from the installed sidecar package: works offline and under the CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # 3.1 for JSON Schema's prefixItems: the agent config's [min, max] pairs.
    "OAS_VERSION": "3.1.0",
    # Request bodies get components of their own (no read-only fields), marked strict: the
    # API refuses unknown fields (nexgent.inputs, nexgent.schema).
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "KillSwitchModeEnum": "trading.models.KillSwitchMode",
        "TradingModeEnum": "agents.models.TradingMode",
        "LevelModeEnum": ["aggressive", "moderate", "conservative", "custom"],
        "SignalActionEnum": "signals_app.models.SignalAction",
        "DecisionActionEnum": "signals_app.models.DecisionAction",
        "CycleStatusEnum": "signals_app.models.CycleStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nexgent.schema.strict_request_bodies",
    ],
}

# --- Static files, i18n, logging -------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Every line the project writes passes the redaction filter (nexgent/logs.py).
    "filters": {"redact_secrets": {"()": "nexgent.logs.RedactSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
        "discard": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        **{
            app: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
            for app in (
                "nexgent",
                "agents",
                "trading",
                "signals_app",
                "prices",
                "wallets",
                "localnet",
            )
        },
        # Apprise names the URL it could not read, and a notification URL is a credential:
        # its lines are written nowhere. Each send's own warnings are read from its result,
        # cleaned of the URL, and kept on the channel (agents.notification_services).
        "apprise": {"handlers": ["discard"], "level": "WARNING", "propagate": False},
    },
}

# Who may scrape /metrics without logging in (operators who are staff always may).
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
# A Celery worker's own metrics (the tick, exits and buys count there): off unless a port is
# given; see nexgent/worker_metrics.py. Loopback only unless told otherwise, as the port has
# no login in front of it.
WORKER_METRICS_PORT = env_int("NEXGENT_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535) or None
WORKER_METRICS_ADDR = env_str("NEXGENT_WORKER_METRICS_ADDR", "127.0.0.1")

# --- HTTPS and browser security (docs/security.md) ---------------------------------------------
# HTTPS=true says the engine is served behind a TLS proxy: the proxy forwards
# X-Forwarded-Proto, and uvicorn believes it from FORWARDED_ALLOW_IPS only. Then cookies are
# Secure, plain HTTP is redirected (health and metrics excepted, for probes inside the network)
# and browsers are told to use HTTPS only (HSTS). Off by default: `make run` serves plain HTTP
# on 127.0.0.1, where a Secure cookie would never be sent back.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0, maximum=63072000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Everything the dashboard, the admin and the API docs load comes from this origin: no inline
# script or style, no CDN. WebSockets to the same host are 'self' too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Signals and risk (issue 4) ---
# Jupiter Tokens v2 search (token metrics for the eligibility bounds): requests go to
# {JUPITER_TOKENS_URL}/tokens/v2/search. Unset, the origin of JUPITER_BASE_URL is used, so
# pointing Jupiter at localnet points this there too.
JUPITER_TOKENS_URL = (
    env_url("JUPITER_TOKENS_URL", "https://api.jup.ag") if env_str("JUPITER_TOKENS_URL") else ""
)
# A signal waits at most this long for its token metrics; unknown metrics make the agents that
# set a bound ineligible (token_metrics_unknown), never the others.
TOKEN_METRICS_TIMEOUT_SECONDS = env_decimal(
    "TOKEN_METRICS_TIMEOUT_SECONDS", "3", minimum="0.1", maximum="30"
)
