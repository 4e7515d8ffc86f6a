"""Build time (collectstatic, check) inside a new release: no secrets, no database."""

from __future__ import annotations

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "build-only-" + "x" * 50  # never serves a request
ALLOWED_HOSTS: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
