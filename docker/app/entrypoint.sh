#!/bin/sh
# Start the service. For Django: apply migrations, create the cache table, record the model,
# and create the API user when its variables are set; then gunicorn.
set -eu
if [ -n "${DJANGO_SETTINGS_MODULE:-}" ]; then
    django-admin migrate --noinput
    django-admin createcachetable
    django-admin register_model "$STACKGEN_MODEL_DIR"
    if [ -n "${API_TOKEN:-}" ]; then django-admin ensure_api_token "${API_USER:-api}"; fi
fi
rm -rf /tmp/metrics && mkdir -p /tmp/metrics
exec gunicorn --config /etc/gunicorn/gunicorn.conf.py
