"""Settings of the django-trax example project, read from the environment (django-environ)."""

import json
import os
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = Path(__file__).resolve().parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    DATABASE_URL=(str, f"sqlite:///{PROJECT_DIR / 'db.sqlite3'}"),
    TIME_ZONE=(str, "UTC"),
    LOG_LEVEL=(str, "INFO"),
)
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Fail closed: DEBUG is off and SECRET_KEY must be given unless the environment says otherwise
# (`make run` sets DEBUG=True and a development key; `make test` a key of its own).
DEBUG = env("DEBUG")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set: put a long random value in the SECRET_KEY environment variable "
        "(make run and make test set development values of their own)"
    )
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS: secure cookies unless DEBUG; redirects, HSTS and the proxy header as the deployment
# says (TLS is often ended at a proxy, which then sets X-Forwarded-Proto).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "dashboard",  # before the admin: its admin/base_site.html adds a link to the console
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "trax",
    "project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "project.asgi.application"

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


def _database(url: str) -> dict:
    """A DATABASES entry from a URL, tuned for trax: WAL-friendly SQLite, persistent PostgreSQL."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 10,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
        # Tests that start other processes need a file database they can share; one per test
        # run so concurrent runs never meet.
        config["TEST"] = {
            "NAME": os.path.join(tempfile.gettempdir(), f"trax-test-{os.getpid()}.sqlite3")
        }
    else:
        # Requests and the trains' own queries borrow from a pool and give the connection back
        # at the end of each request or run, so a process holds at most DB_POOL_MAX_SIZE of
        # them however many threads it runs (docs/workers.md, "Connections").
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
            "timeout": 30,
        }
        # With a pool, Django checks a connection when the pool lends it (one round trip), so
        # the pool outlives a database restart instead of lending out dead connections.
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": _database(env("DATABASE_URL"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Run records go through a connection of their own, so a rollback in user code never
    # erases a run (DESIGN.md §4). Same database, separate alias.
    # Its few long-lived users (a worker's claim loop, heartbeat, completer, cancel watcher;
    # a scheduler's loops) keep their connections: persistent, not pooled.
    DATABASES["trax"] = {
        **DATABASES["default"],
        "OPTIONS": {k: v for k, v in DATABASES["default"]["OPTIONS"].items() if k != "pool"},
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"MIRROR": "default"},
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL")},
}

TRAX = {
    "HOST_LABELS": {"project": "example"},
}

# TRAX_SETTINGS_JSON: a JSON dict merged into TRAX, for processes that tests and benchmarks
# start with their own intervals (an ops hook too).
TRAX.update(json.loads(env("TRAX_SETTINGS_JSON", default="{}")))

# Test hook: TRAX_TEST_APPS, comma-separated extra apps to install (the integration tests set
# "tests.integration", so the `manage.py` processes they start autodiscover its `trains`
# module). Unset in normal use.
INSTALLED_APPS += [
    app.strip() for app in os.environ.get("TRAX_TEST_APPS", "").split(",") if app.strip()
]
