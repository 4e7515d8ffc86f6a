#!/bin/sh
# make serve: the model service under gunicorn on 127.0.0.1:$PORT for development.
# FRAMEWORK=flask (default) or django (SQLite in build/, migrations applied; with
# API_TOKEN set, user "api" owns that token and inference needs it).
set -eu
cd "$(dirname "$0")/.."
framework=${FRAMEWORK:-flask}
port=${PORT:-8000}
export STACKGEN_MODEL_DIR=${STACKGEN_MODEL_DIR:-build/model}
case "$framework" in
flask)
    wsgi=model_flask.wsgi:app
    ;;
django)
    wsgi=model_django.wsgi:application
    export DJANGO_SETTINGS_MODULE=model_django.settings.dev
    .venv/bin/stackgen-django migrate --noinput
    .venv/bin/stackgen-django register_model "$STACKGEN_MODEL_DIR"
    if [ -n "${API_TOKEN:-}" ]; then
        .venv/bin/stackgen-django ensure_api_token api
    fi
    ;;
*)
    echo "serve: FRAMEWORK=$framework is not allowed (expected flask or django)" >&2
    exit 2
    ;;
esac
echo "==> $framework service on http://127.0.0.1:$port (Ctrl-C stops it)"
exec .venv/bin/gunicorn --bind "127.0.0.1:$port" --workers 2 --preload --no-control-socket "$wsgi"
