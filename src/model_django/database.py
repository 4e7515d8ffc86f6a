"""Losing the database: a readiness check, and dropping a broken connection so the next use reconnects."""

from __future__ import annotations

import contextlib
import logging

from django.db import DatabaseError, connection

error_log = logging.getLogger("stackgen.error")


def first_line(exc: BaseException) -> str:
    """Driver messages run to several lines (hints, host lists); one is enough for a JSON reason."""
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def drop_connection() -> None:
    # A connection that failed may be half-open; closing it makes the next query connect afresh,
    # so the worker recovers by itself when the database is back. Closing a dead socket may
    # itself fail, which changes nothing.
    with contextlib.suppress(DatabaseError):
        connection.close()


def database_ready() -> str | None:
    """A readiness check for model_core: None when ``SELECT 1`` answers, else why not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        drop_connection()
        # The driver's words name the database's host and port: the log gets them, the public
        # readiness route does not.
        error_log.error("readiness: database unavailable: %s", first_line(exc))
        return "database unavailable"
    return None
