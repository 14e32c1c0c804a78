"""superbook: the small Django app deploy's end-to-end tests deploy.

Everything that differs between a laptop and a server comes from the
environment, so one release directory serves every host.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SUPERBOOK_SECRET_KEY", "insecure-development-key")
DEBUG = os.environ.get("SUPERBOOK_DEBUG") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "books",
]
MIDDLEWARE = []
ROOT_URLCONF = "superbook.urls"
WSGI_APPLICATION = "superbook.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # deploy links a shared database into each release.
        "NAME": os.environ.get("SUPERBOOK_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
# A database server the app hosts share, instead:
# SUPERBOOK_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/NAME
if os.environ.get("SUPERBOOK_DATABASE_URL"):
    from urllib.parse import unquote, urlsplit

    from django.core.exceptions import ImproperlyConfigured

    _url = urlsplit(os.environ["SUPERBOOK_DATABASE_URL"])
    if _url.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured("SUPERBOOK_DATABASE_URL: only postgres:// URLs")
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_url.path.lstrip("/")),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
    }
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("SUPERBOOK_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# Hashed names (site.3f2a9c.css): a changed file gets a new name, so every
# static file can be cached forever.
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

USE_TZ = True
