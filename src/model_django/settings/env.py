"""Reading Django settings from STACKGEN_* variables, with messages that name the variable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(f"{name} is not set (see the README's Django settings table)")
    return default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_bool(name: str, default: str) -> bool:
    value = env(name, default).lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (expected on/off, true/false or 1/0)")


def env_float(name: str, default: str, low: float, high: float) -> float:
    raw = env(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number (expected {low}..{high})") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={value} is out of range (expected {low}..{high})")
    return value


def env_int(name: str, default: str, low: int) -> int:
    raw = env(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number (expected {low} or more)") from None
    if value < low:
        raise ImproperlyConfigured(f"{name}={value} is too small (expected {low} or more)")
    return value


# What DRF's parse_rate reads correctly; it would take "5/mango" as 5 a minute.
_RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)")


def env_rate(name: str, default: str) -> str:
    value = env(name, default)
    if not _RATE.fullmatch(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate (expected a count per s, min, hour or day: 10/min)")
    return value


def env_choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env(name, default)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r} is not allowed (expected one of {', '.join(allowed)})")
    return value


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


# An established connection to a database host that vanished (partition, power loss) sends no
# FIN: without these a query would wait for TCP's own timeouts (minutes) and gunicorn would kill
# the worker. With them the query fails within about 10 s and the request answers 503.
LIVENESS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10000,
}


def postgresql_options() -> dict[str, Any]:
    """libpq connection options: TLS to the database, and a connect timeout so that a vanished
    database host fails a request (503) within seconds instead of hanging a worker."""
    options: dict[str, Any] = {
        "sslmode": env_choice("STACKGEN_DB_SSLMODE", "prefer", SSL_MODES),
        "connect_timeout": env_int("STACKGEN_DB_CONNECT_TIMEOUT", "3", 1),
        **LIVENESS,
    }
    rootcert = os.environ.get("STACKGEN_DB_SSLROOTCERT", "")
    if rootcert:  # otherwise libpq's default (~/.postgresql/root.crt) applies
        options["sslrootcert"] = rootcert
    return options


def database(default_sqlite: Path) -> dict[str, Any]:
    """SQLite (kept under shared/state so it survives releases) unless PostgreSQL is configured."""
    engine = env("STACKGEN_DB_ENGINE", "sqlite")
    if engine == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": env("STACKGEN_SQLITE_PATH", str(default_sqlite))}
    if engine == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("STACKGEN_DB_NAME"),
            "USER": env("STACKGEN_DB_USER"),
            "PASSWORD": env("STACKGEN_DB_PASSWORD"),
            "HOST": env("STACKGEN_DB_HOST", "127.0.0.1"),
            "PORT": env("STACKGEN_DB_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": postgresql_options(),
        }
    raise ImproperlyConfigured(f"STACKGEN_DB_ENGINE={engine!r} is not allowed (expected sqlite or postgresql)")
