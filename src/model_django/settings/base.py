"""Settings every environment shares."""

from __future__ import annotations

from pathlib import Path

from .env import env, env_bool, env_float, env_int, env_rate

BASE_DIR = Path(__file__).resolve().parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "model_django.predictions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # POSTs to the inference routes end here (auth, throttle, core), past none of the rest.
    "model_django.api.fast_path.InferenceFastPath",
    # Before CSRF and sessions: an attempt counts even when it would fail those checks.
    "model_django.login_throttle.AdminLoginThrottleMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "model_django.urls"
WSGI_APPLICATION = "model_django.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

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
            ]
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = env("STACKGEN_STATIC_ROOT", str(BASE_DIR / "static"))

# The model service reads its own STACKGEN_* settings (model_core.config); these are Django's.
MAX_BODY_BYTES = int(env("STACKGEN_MAX_BODY_BYTES", str(8 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
# Share of inference requests written to the prediction log (1.0 = every one).
PREDICTION_LOG_SAMPLE_RATE = env_float("STACKGEN_PREDICTION_LOG_SAMPLE_RATE", "1.0", 0.0, 1.0)
# Where workers append prediction records for drain_prediction_spool to load (predictions/spool.py);
# empty: each record is inserted inside its request.
PREDICTION_LOG_SPOOL = env("STACKGEN_PREDICTION_SPOOL", "")
# Seconds a worker keeps a bearer token it has looked up (0: ask the database every request). A
# deleted token or deactivated user is refused at the latest this long afterwards.
API_TOKEN_CACHE_SECONDS = env_float("STACKGEN_TOKEN_CACHE_SECONDS", "10", 0.0, 300.0)
# Anonymous inference requests: off by default (production); dev turns it on.
ALLOW_ANONYMOUS_INFERENCE = env_bool("STACKGEN_ALLOW_ANONYMOUS", "off")

# Proxies in front of the app whose X-Forwarded-For entry is trusted: the Flask service's
# setting (ProxyFix), 1 behind nginx, 2 behind a load balancer and nginx, 0 for none (the
# socket's peer is the client). DRF's default (None) would take the whole client-written header
# as the throttle identity: a new value per request, a new budget.
PROXY_HOPS = env_int("STACKGEN_PROXY_HOPS", "0", 0)
# Admin login POSTs per client address; failed logins per (user name, address) over at least an
# hour (model_django.login_throttle).
ADMIN_LOGIN_RATE = env_rate("STACKGEN_ADMIN_LOGIN_RATE", "10/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["model_django.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_THROTTLE_RATES": {
        "inference_token": env_rate("STACKGEN_THROTTLE_RATE", "600/min"),
        "inference_anon": env_rate("STACKGEN_ANON_THROTTLE_RATE", "60/min"),
    },
    "NUM_PROXIES": PROXY_HOPS,
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "model_django.api.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "formatters": {"json": {"()": "model_core.jsonlog.JsonFormatter"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
}
