"""WSGI entry point: ``gunicorn model_django.wsgi:application``.

Loads the model at import (gunicorn preloads it in the master); a bad setting or
model stops the process with one clear line and a non-zero exit.
"""

from __future__ import annotations

import os
import sys

from django.core.exceptions import ImproperlyConfigured

from model_core.errors import ArtifactError, ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "model_django.settings.production")

try:
    from django.core.wsgi import get_wsgi_application

    from .service import get_api

    application = get_wsgi_application()
    _api = get_api()
    _api.start()
except (ConfigError, ImproperlyConfigured) as exc:
    print(f"stackgen: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
except ArtifactError as exc:
    print(f"stackgen: model not loaded: {exc}", file=sys.stderr)
    raise SystemExit(3) from None

# gunicorn's post_fork hook (gunicorn.conf.py) calls this in each worker.
application.stackgen_after_fork = _api.service.reload_after_fork  # type: ignore[attr-defined]
