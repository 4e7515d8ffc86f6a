"""WSGI entry point: ``gunicorn model_flask.wsgi:app``.

A bad setting or a model that fails its checks stops the process with one
clear line and a non-zero exit, so gunicorn and systemd report the failure.
"""

from __future__ import annotations

import sys

from model_core.errors import ArtifactError, ConfigError

from .app import create_app

try:
    app = create_app()
except ConfigError as exc:
    print(f"stackgen: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
except ArtifactError as exc:
    print(f"stackgen: model not loaded: {exc}", file=sys.stderr)
    raise SystemExit(3) from None
