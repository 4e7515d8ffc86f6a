"""`make serve FRAMEWORK=django`: SQLite in build/, anonymous inference allowed unless API_TOKEN is set."""

from __future__ import annotations

import os
from pathlib import Path

from .base import *  # noqa: F403
from .env import env

DEBUG = False  # JSON errors as in production; the admin still works on runserver-less gunicorn
SECRET_KEY = "dev-only-" + "x" * 50
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("STACKGEN_SQLITE_PATH", str(Path("build/django.sqlite3").resolve())),
    }
}
ALLOW_ANONYMOUS_INFERENCE = not os.environ.get("API_TOKEN")
