"""Migrations are committed and the production settings pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from model_django.settings.env import LIVENESS, database

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


@pytest.mark.django_db(transaction=True)  # schema changes on SQLite cannot run inside the test's transaction
def test_migration_0002_keeps_the_first_of_duplicate_rows() -> None:
    before, after = [("predictions", "0001_initial")], [("predictions", "0002_one_log_row_per_request")]
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(before)
        log = executor.loader.project_state(before).apps.get_model("predictions", "PredictionLog")
        common = {"model_name": "iris", "model_version": "1", "route": "/r", "latency_ms": 1.0, "status": 200}
        rows = [("a", "d1"), ("a", "d1"), ("a", "d2"), ("b", "d1"), ("a", "d1")]
        ids = [log.objects.create(request_id=r, input_digest=d, **common).id for r, d in rows]
        executor = MigrationExecutor(connection)  # the graph as it is now
        executor.migrate(after)
        kept = log.objects.order_by("id").values_list("id", "request_id", "input_digest")
        assert list(kept) == [(ids[0], "a", "d1"), (ids[2], "a", "d2"), (ids[3], "b", "d1")]
    finally:  # the latest schema again, for the tests that follow
        latest = MigrationExecutor(connection)
        latest.migrate(latest.loader.graph.leaf_nodes())


POSTGRESQL_ENV = {
    "STACKGEN_DB_ENGINE": "postgresql",
    "STACKGEN_DB_NAME": "stackgen",
    "STACKGEN_DB_USER": "stackgen",
    "STACKGEN_DB_PASSWORD": "pw",
}
DB_OPTION_VARIABLES = ("STACKGEN_DB_SSLMODE", "STACKGEN_DB_SSLROOTCERT", "STACKGEN_DB_CONNECT_TIMEOUT")


@pytest.fixture
def postgresql_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in DB_OPTION_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in POSTGRESQL_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_postgresql_options_defaults(postgresql_env: pytest.MonkeyPatch) -> None:
    settings = database(Path("/unused.sqlite3"))
    assert settings["OPTIONS"] == {"sslmode": "prefer", "connect_timeout": 3, **LIVENESS}
    assert LIVENESS == {
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 10000,
    }
    assert (settings["CONN_MAX_AGE"], settings["CONN_HEALTH_CHECKS"]) == (60, True)


def test_postgresql_options_as_set(postgresql_env: pytest.MonkeyPatch) -> None:
    postgresql_env.setenv("STACKGEN_DB_SSLMODE", "verify-full")
    postgresql_env.setenv("STACKGEN_DB_SSLROOTCERT", "/etc/stackgen/db-ca.pem")
    postgresql_env.setenv("STACKGEN_DB_CONNECT_TIMEOUT", "5")
    assert database(Path("/unused.sqlite3"))["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/stackgen/db-ca.pem",
        "connect_timeout": 5,
        **LIVENESS,
    }


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "STACKGEN_DB_SSLMODE",
            "on",
            "STACKGEN_DB_SSLMODE='on' is not allowed "
            "(expected one of disable, allow, prefer, require, verify-ca, verify-full)",
        ),
        (
            "STACKGEN_DB_CONNECT_TIMEOUT",
            "3s",
            "STACKGEN_DB_CONNECT_TIMEOUT='3s' is not a whole number (expected 1 or more)",
        ),
        ("STACKGEN_DB_CONNECT_TIMEOUT", "0", "STACKGEN_DB_CONNECT_TIMEOUT=0 is too small (expected 1 or more)"),
    ],
)
def test_postgresql_options_refuse_bad_values(
    postgresql_env: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    postgresql_env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as raised:
        database(Path("/unused.sqlite3"))
    assert str(raised.value) == message


def test_sqlite_has_no_postgresql_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKGEN_DB_ENGINE", "sqlite")
    monkeypatch.setenv("STACKGEN_DB_SSLMODE", "on")  # ignored: not used by SQLite
    assert "OPTIONS" not in database(Path("/state/db.sqlite3"))


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
    # nginx owns the security headers (production.py): the four checks for them are silenced.
    assert "System check identified no issues (4 silenced)." in result.stdout


def test_production_settings_name_missing_variables() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKGEN_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "model_django.settings.production"
    result = subprocess.run(
        [sys.executable, "-m", "model_django.manage", "check"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "STACKGEN_SECRET_KEY is not set" in result.stderr
