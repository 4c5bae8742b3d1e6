"""Django settings for Quire; every value that differs between deployments comes from the environment."""

from __future__ import annotations

from typing import Any

from notebooks.limits import MAX_REQUEST_BYTES
from quire.config import REPO_ROOT, load_config
from quire.headers import CONTENT_SECURITY_POLICY

CONFIG = load_config()
# The SQLite file (embedded mode), kernel work directories and collected static files live here.
(CONFIG.var_dir / "static").mkdir(parents=True, exist_ok=True)

BASE_DIR = REPO_ROOT
QUIRE_MODE = CONFIG.mode
QUIRE_VAR_DIR = CONFIG.var_dir
QUIRE_KERNEL_HOST = CONFIG.kernel_host
QUIRE_KERNEL_SANDBOX = CONFIG.sandbox
QUIRE_FILE_REPOSITORY_ROOTS = CONFIG.file_repository_roots
QUIRE_DATA_ROOTS = CONFIG.data_roots
QUIRE_ALLOW_DIRECT_REFERENCES = CONFIG.allow_direct_references
QUIRE_KERNEL_NETWORK = CONFIG.kernel_network
QUIRE_OUTPUT_LIMIT_BYTES = CONFIG.output_limit
QUIRE_DIRECT_BIND = CONFIG.direct_bind
QUIRE_DIRECT_ADVERTISE = CONFIG.direct_advertise

SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
# Origins other than the site's own (scheme, host and port of the Host header) whose pages may write through a
# session: Django's CSRF check and the WebSocket handshake's Origin check (quire.accounts.origins) both read it.
CSRF_TRUSTED_ORIGINS = CONFIG.trusted_origins

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files served by the site itself: the API docs work offline and under the page policy.
    "drf_spectacular_sidecar",
    "channels",
    "quire.accounts",
    "quire.teams",
    "quire.quotas",
    "notebooks",
    "kernels",
    "runs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "quire.headers.ContentSecurityPolicyMiddleware",
    "quire.lib.middleware.RefuseNulInRequests",
    "quire.lib.api_slash.ServeApiWithoutTrailingSlash",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "quire.urls"
ASGI_APPLICATION = "quire.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Two channel layers. "default" carries commands to kernel hosts: Redis lists that keep a command until its host
# reads it (a run may be queued while the kernel starts). "live" carries everything to browsers' connections
# (notebook groups, replies): Redis pub/sub, one PUBLISH per event however many viewers a server process has.
if CONFIG.redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A command is kept until its host reads it, however long the session waits for a host: up to
            # kernels.services.START_TIMEOUT (120 s) when every kernel process is busy. 60 s dropped the runs of
            # a kernel that waited longer.
            "CONFIG": {"hosts": [CONFIG.redis_url], "capacity": 1500, "expiry": 180},
        },
        "live": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels ignore the database number: the prefix keeps installations sharing a Redis apart.
            "CONFIG": {"hosts": [CONFIG.redis_url], "prefix": f"quire.{CONFIG.redis_namespace}."},
        },
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        "live": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }

# The cache holds rate-limit counters (quire.lib.ratelimit): in production every server process must see the
# same counts, so it is Redis (the installation's database number, keys under "quire:"); embedded mode has one
# process and keeps them in memory.
if CONFIG.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "KEY_PREFIX": "quire",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "quire"}}
QUIRE_RATE_LIMITS = CONFIG.rate_limits

CELERY_BROKER_URL = CONFIG.redis_url or "memory://"
CELERY_RESULT_BACKEND = CONFIG.redis_url
# Three queues, each served by its own worker processes, routed here by task name (callers never name a queue):
# "kernels" holds a process per hosted kernel for the kernel's whole life; "builds" holds one per environment
# build for minutes; "maintenance" (the default: beat's reaping and culling) must never wait behind either.
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
# Task modules beyond the apps' tasks.py (which autodiscovery finds): kernels/pools.py sits above the hosts it starts.
CELERY_IMPORTS = ("kernels.pools",)
CELERY_TASK_ROUTES = {
    "kernels.host_kernel": {"queue": "kernels"},
    "kernels.host_pooled_kernel": {"queue": "kernels"},
    "kernels.build_environment": {"queue": "builds"},
    # A re-run holds a sandboxed kernel from start to end, as a kernel host does.
    "runs.run_version": {"queue": "kernels"},
}
# A kernel host task lives as long as its kernel: one at a time per worker process, acknowledged late so a
# lost worker's task is not silently dropped.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Often enough that a lost kernel host shows as dead within seconds.
    "reap-lost-kernel-sessions": {"task": "kernels.reap_lost_sessions", "schedule": 3.0},
    # Kernel pools refill within a round of a kernel being claimed or lost (kernels/pools.py).
    "fill-kernel-pools": {"task": "kernels.fill_pools", "schedule": 3.0},
    "cull-idle-kernels": {"task": "kernels.cull_idle_sessions", "schedule": 30.0},
    # Jobs' cron has a minute's resolution: a round every 10 s starts each within seconds of its minute.
    "fire-due-jobs": {"task": "runs.fire_due_jobs", "schedule": 10.0},
    # A run's worker beats every 2 s; one silent for 30 s is gone.
    "reap-lost-runs": {"task": "runs.reap_lost_runs", "schedule": 10.0},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = CONFIG.var_dir / "static"
STATICFILES_DIRS = [REPO_ROOT / "frontend" / "dist"]
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "quire.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["quire.accounts.throttling.CallerRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "quire.openapi.QuireAutoSchema",
    "EXCEPTION_HANDLER": "quire.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "quire.lib.parsers.CheckedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# A draft at its size limit must fit (Django's default, 2.5 MB, refused a draft of three 1 MB cells).
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
SPECTACULAR_SETTINGS = {
    "TITLE": "Quire API",
    "DESCRIPTION": "Notebooks, versions, sharing and kernels of the Quire notebook platform.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets are both called "role": a team membership's and a notebook grant's.
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "quire.teams.models.Membership.Role",
        "NotebookRoleEnum": "notebooks.roles.LABELS",
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the front end reads it to send X-CSRFToken
SESSION_COOKIE_SECURE = CONFIG.secure_cookies
CSRF_COOKIE_SECURE = CONFIG.secure_cookies
# Secure cookies mean the site is served over HTTPS only (behind deploy/nginx.conf, with Daphne's
# --proxy-headers telling Django the scheme): browsers are sent there and told to stay (HSTS).
SECURE_SSL_REDIRECT = CONFIG.secure_cookies
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.hsts_seconds > 0
# Preloading is a commitment made by submitting the domain to browsers' lists, which is the operator's act,
# not a default: the header does not claim it.
SECURE_HSTS_PRELOAD = False
SILENCED_SYSTEM_CHECKS = ["security.W021"]
QUIRE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
