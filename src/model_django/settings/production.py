"""Production: every secret and host name from the environment file the role writes (0640).

nginx terminates TLS and sets X-Forwarded-Proto; `manage.py check --deploy --fail-level WARNING`
passes with these settings.
"""

from __future__ import annotations

from pathlib import Path

from .base import *  # noqa: F403
from .env import database, env, env_bool, env_list

DEBUG = False
SECRET_KEY = env("STACKGEN_SECRET_KEY")
ALLOWED_HOSTS = env_list("STACKGEN_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("STACKGEN_CSRF_TRUSTED_ORIGINS", ",".join(f"https://{h}" for h in ALLOWED_HOSTS))
DATABASES = {"default": database(Path(env("STACKGEN_STATE_DIR", "/var/lib/stackgen")) / "db.sqlite3")}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
# Off only for the local Docker stack, which has no TLS; check --deploy then warns, rightly.
HTTPS = env_bool("STACKGEN_HTTPS", "on")
SECURE_SSL_REDIRECT = HTTPS
# Health checks reach gunicorn's unix socket directly, without TLS or a proxy.
SECURE_REDIRECT_EXEMPT = [r"^v2/health/"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# nginx owns the security headers of every response it serves (roles/nginx: HSTS, X-Frame-Options,
# X-Content-Type-Options, Referrer-Policy, CSP per location) and drops an app's own copies; Django
# sending them as well would only conflict, so it sends none and its checks for them are silenced.
SECURE_HSTS_SECONDS = 0
SECURE_CONTENT_TYPE_NOSNIFF = False
SECURE_REFERRER_POLICY = None
MIDDLEWARE = [m for m in MIDDLEWARE if m != "django.middleware.clickjacking.XFrameOptionsMiddleware"]  # noqa: F405
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W004", "security.W006", "security.W022"]
# Throttle counters must be shared by every worker and app host: keep them in the database.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "stackgen_cache"}}
