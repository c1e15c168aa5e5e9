"""Settings of the Hex arena, read from the environment only.

Every knob is an environment variable with a safe default (see the
configuration table in the README); no setting needs a file edit.
django-environ parses types and database URLs so we don't hand-roll it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# -- production mode ---------------------------------------------------------
PRODUCTION = env.bool("HEX_PRODUCTION", default=False)
# Off unless asked for: debug pages would show settings to any visitor, and
# per-query logging costs time on every move.
DEBUG = env.bool("HEX_DEBUG", default=False) and not PRODUCTION

if PRODUCTION:
    SECRET_KEY = env.str("HEX_SECRET_KEY", default="")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("HEX_PRODUCTION=1 requires HEX_SECRET_KEY (at least 32 characters).")
    ALLOWED_HOSTS = env.list("HEX_ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("HEX_PRODUCTION=1 requires HEX_ALLOWED_HOSTS (comma-separated host names).")
else:
    SECRET_KEY = env.str("HEX_SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production-0123456789")
    ALLOWED_HOSTS = env.list("HEX_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("HEX_CSRF_TRUSTED_ORIGINS", default=[])
BEHIND_TLS_PROXY = env.bool("HEX_BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION and SECURE_PROXY_SSL_HEADER is not None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# -- applications --------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "games",
    "matchmaking",
    "stats",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "hexsite.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hexsite.urls"
ASGI_APPLICATION = "hexsite.asgi.application"
APPEND_SLASH = False

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

# -- database ------------------------------------------------------------------
DATA_DIR = Path(env.str("HEX_DATA_DIR", default=str(BASE_DIR / "var")))


# SQLite: seconds between the WAL checkpoints a server process runs on a thread
# of its own (matchmaking/sqlite_checkpoints.py); 0 leaves them to the
# committing connection, SQLite's default. With the thread, the committing
# connection's own checkpoints only bound the log, so they come less often.
HEX_SQLITE_CHECKPOINT_INTERVAL = env.float("HEX_SQLITE_CHECKPOINT_INTERVAL", default=0.05)
if not 0 <= HEX_SQLITE_CHECKPOINT_INTERVAL <= 60:
    raise ImproperlyConfigured("HEX_SQLITE_CHECKPOINT_INTERVAL must be between 0 and 60 seconds")
WAL_AUTOCHECKPOINT_PAGES = 4000 if HEX_SQLITE_CHECKPOINT_INTERVAL else 1000

# PostgreSQL: seconds a connection may go without an answer from the network
# before it counts as broken; 0 leaves it to the operating system. A
# PostgreSQL that vanishes without resetting its connections (a partition, a
# host that froze) would otherwise hold every move of a worker until TCP gives
# up, many minutes later (tests/services/test_faults.py).
HEX_DB_NETWORK_TIMEOUT = env.float("HEX_DB_NETWORK_TIMEOUT", default=10.0)
if not (HEX_DB_NETWORK_TIMEOUT == 0 or 1 <= HEX_DB_NETWORK_TIMEOUT <= 3600):
    raise ImproperlyConfigured("HEX_DB_NETWORK_TIMEOUT must be 0 or between 1 and 3600 seconds")


def postgres_network_options(timeout: float) -> dict[str, int]:
    """libpq connection options that give up on an unresponsive network after
    about ``timeout`` seconds: unacknowledged data (``tcp_user_timeout``), a
    connection that waits for an answer that never comes (keepalive probes
    from half the timeout on) and a connection attempt (``connect_timeout``,
    whose least effective value is 2)."""
    if not timeout:
        return {}
    return {
        "connect_timeout": max(2, math.ceil(timeout)),
        "tcp_user_timeout": round(timeout * 1000),
        "keepalives": 1,
        "keepalives_idle": max(1, math.ceil(timeout / 2)),
        "keepalives_interval": max(1, math.ceil(timeout / 6)),
        "keepalives_count": 3,
    }


def database_from_url(url: str) -> dict:
    """Django database settings from a URL.

    Accepts the reference's SQLAlchemy form ``postgresql+psycopg://`` as well
    as ``postgres://``, ``postgresql://`` and ``sqlite:///path``.
    """
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres+psycopg://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix):]
    config = environ.Env.db_url_config(url)
    # Keep connections between calls: database_sync_to_async closes expired
    # ones around every call, and reopening per move dominated its cost.
    config["CONN_MAX_AGE"] = env.int("HEX_DB_CONN_MAX_AGE", default=60)
    # A health check is a SELECT 1 before the first query of every call, a
    # round trip per move on PostgreSQL. Without it a connection that died
    # fails one call (a protocol error for that client) and Django replaces it
    # before the next.
    config["CONN_HEALTH_CHECKS"] = env.bool("HEX_DB_HEALTH_CHECKS", default=False)
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Options in the URL's query string win.
        config["OPTIONS"] = {**postgres_network_options(HEX_DB_NETWORK_TIMEOUT), **config.get("OPTIONS", {})}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Serialise writers up front instead of failing with "database is locked"
        # when two transactions upgrade their read locks at once.
        # WAL + synchronous=NORMAL survives a killed process without an fsync per move.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};"),
        }
    return config


DATABASE_URL = env.str("HEX_DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'hexarena.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Run the WebSocket edge's database work on the event loop (see matchmaking/db_calls.py):
# on by default for SQLite, where a query is a local function call, off for PostgreSQL.
HEX_DB_INLINE = env.bool("HEX_DB_INLINE", default=DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3")
# Otherwise: threads (each with its own connection) doing the edge's database work.
HEX_DB_THREADS = env.int("HEX_DB_THREADS", default=16)
if not 1 <= HEX_DB_THREADS <= 256:
    raise ImproperlyConfigured("HEX_DB_THREADS must be between 1 and 256.")

# -- channel layer ---------------------------------------------------------------
# Messages one connection may have waiting (in the channel layer, or in its outgoing
# queue) before it is treated as too slow.
HEX_CHANNEL_CAPACITY = env.int("HEX_CHANNEL_CAPACITY", default=1000)
if HEX_CHANNEL_CAPACITY < 1:
    raise ImproperlyConfigured("HEX_CHANNEL_CAPACITY must be positive.")
REDIS_URL = env.str("HEX_REDIS_URL", default="")
# Redis: seconds a command (or a connection attempt) may wait on a silent network
# before its connection counts as broken. A worker notices a Redis gone silent (a
# partition) after this plus one blocking read (at most half of it, and 5 s),
# ends the connections it serves, and tries its messages for other workers
# again for three times this (``process_mail``). There is no "0": a blocking
# read on a silent network would otherwise wait forever, since it sends nothing
# TCP could time out.
HEX_REDIS_NETWORK_TIMEOUT = env.float("HEX_REDIS_NETWORK_TIMEOUT", default=10.0)
if not 2 <= HEX_REDIS_NETWORK_TIMEOUT <= 3600:
    raise ImproperlyConfigured("HEX_REDIS_NETWORK_TIMEOUT must be between 2 and 3600 seconds")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis, its connections queued for when a burst needs more than the pool has.
            "BACKEND": "matchmaking.layers.ArenaRedisChannelLayer",
            "CONFIG": {
                # health_check_interval: a pooled connection idle that long is pinged (and
                # replaced if Redis restarted meanwhile) before use, instead of failing the
                # first call that picks it up with a reset.
                # socket_timeout (redis-py also takes it as the connect timeout): how long a
                # command waits for Redis. The layer's blocking reads wait at most half of it
                # (``ArenaRedisChannelLayer``), so a quiet layer never times out.
                "hosts": [{"address": REDIS_URL, "health_check_interval": 2,
                           "socket_timeout": HEX_REDIS_NETWORK_TIMEOUT,
                           "max_connections": env.int("HEX_REDIS_MAX_CONNECTIONS", default=100)}],
                "prefix": env.str("HEX_REDIS_KEY_PREFIX", default="hexarena"),
                # channels-redis drops sends past a channel's capacity (default 100):
                # leave room for bursts of fast bots and slow readers.
                "capacity": HEX_CHANNEL_CAPACITY,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            # Channels' in-memory layer without its per-message O(connections) sweep.
            "BACKEND": "matchmaking.layers.ArenaInMemoryChannelLayer",
            "CONFIG": {"capacity": HEX_CHANNEL_CAPACITY, "expiry": 60},
        }
    }

# -- arena ---------------------------------------------------------------------------
HEX_MAX_SLOTS = env.int("HEX_MAX_SLOTS", default=env.int("MAX_SLOTS", default=6))
if not 1 <= HEX_MAX_SLOTS <= 10_000:
    raise ImproperlyConfigured("HEX_MAX_SLOTS must be between 1 and 10000.")
HEX_RECONNECT_TIMEOUT = env.float("HEX_RECONNECT_TIMEOUT", default=30.0)
if HEX_RECONNECT_TIMEOUT <= 0:
    raise ImproperlyConfigured("HEX_RECONNECT_TIMEOUT must be positive.")
# Open /ws/matchmake seats allowed per client address; 0 disables the cap.
HEX_MAX_CONNECTIONS_PER_IP = env.int("HEX_MAX_CONNECTIONS_PER_IP", default=HEX_MAX_SLOTS)
# Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For we believe.
HEX_TRUSTED_PROXIES = env.list("HEX_TRUSTED_PROXIES", default=[])
HEX_MAX_MESSAGE_CHARS = env.int("HEX_MAX_MESSAGE_CHARS", default=4096)
# Token bucket per connection: sustained messages per second and burst size.
HEX_RATE_LIMIT_PER_SECOND = env.float("HEX_RATE_LIMIT_PER_SECOND", default=50.0)
HEX_RATE_LIMIT_BURST = env.int("HEX_RATE_LIMIT_BURST", default=200)
HEX_SWEEP_INTERVAL = env.float("HEX_SWEEP_INTERVAL", default=1.0)
# Several workers: seconds a newcomer may be held back so that it pairs with a
# newcomer on its own process rather than a waiter on another (0: never).
HEX_MATCHMAKING_LOCAL_WAIT = env.float("HEX_MATCHMAKING_LOCAL_WAIT", default=0.1)
if not 0 <= HEX_MATCHMAKING_LOCAL_WAIT <= 10:
    raise ImproperlyConfigured("HEX_MATCHMAKING_LOCAL_WAIT must be between 0 and 10 seconds.")
HEX_HEARTBEAT_INTERVAL = env.float("HEX_HEARTBEAT_INTERVAL", default=5.0)
# Server-wide limit on one move in every game, clock or not (0: off, as in the
# reference): a stalled bot then loses the game on time instead of holding a slot.
HEX_MAX_MOVE_SECONDS = env.float("HEX_MAX_MOVE_SECONDS", default=0.0)
if HEX_MAX_MOVE_SECONDS < 0:
    raise ImproperlyConfigured("HEX_MAX_MOVE_SECONDS must be 0 (off) or positive.")
# 1: a game clock stops while the player to move is disconnected (default: it runs on).
HEX_CLOCK_PAUSE_ON_DISCONNECT = env.bool("HEX_CLOCK_PAUSE_ON_DISCONNECT", default=False)
# public | staff | off
HEX_OVERVIEW = env.str("HEX_OVERVIEW", default="public").lower()
if HEX_OVERVIEW not in ("public", "staff", "off"):
    raise ImproperlyConfigured("HEX_OVERVIEW must be one of: public, staff, off.")

# House bots started by `hexgame-server`: comma-separated MODEL:BOARD_SIZE[:SERIES_LENGTH],
# e.g. "model_mcts:7:1,model_mcts:11:3" (empty: none). Pages list waiting bots of HEX_HOUSE_USERNAME.
HEX_HOUSE_BOTS = env.str("HEX_HOUSE_BOTS", default="")
HEX_HOUSE_USERNAME = env.str("HEX_HOUSE_USERNAME", default="house")

# -- auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("HEX_STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles")))
# Whitenoise serves collected files from here (optional: finders cover the rest).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders in development so no collectstatic is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hex arena API",
    "DESCRIPTION": "HTTP API of the Hex arena. Games are played over the WebSocket protocol described at /docs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("HEX_LOG_LEVEL", default="INFO").upper()},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

if os.environ.get("HEX_TESTING") == "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
