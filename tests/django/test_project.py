"""Migrations are committed and the production settings pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command

PRODUCTION_ENV = {  # what roles/app_django writes to shared/app.env
    "DJANGO_SETTINGS_MODULE": "model_django.settings.production",
    "STACKGEN_SECRET_KEY": "k" * 20 + "Q7x!m2#pL9vR4$zT8wN1yB6@cF3hJ5s",
    "STACKGEN_ALLOWED_HOSTS": "model.example.com,localhost",
    "STACKGEN_DB_ENGINE": "sqlite",
    "STACKGEN_SQLITE_PATH": "/tmp/stackgen-check.sqlite3",
    "STACKGEN_MODEL_DIR": "/nonexistent",
}


@pytest.mark.django_db
def test_no_missing_migrations() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKGEN_", "DJANGO_"))}
    env.update(PRODUCTION_ENV)
    result = subprocess.run(
        [sys.executable, "-m", "model_django.manage", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_name_missing_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKGEN_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "model_django.settings.production"
    result = subprocess.run(
        [sys.executable, "-m", "model_django.manage", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "STACKGEN_SECRET_KEY is not set" in result.stderr
