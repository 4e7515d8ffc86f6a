"""Writes the prediction log: the core's inference observer, bound to Django's ORM.

With a spool directory set (STACKGEN_PREDICTION_SPOOL, the roles set it), a record is one line
appended to this worker's spool file before the answer leaves, and ``drain_prediction_spool``
loads it into the database; otherwise it is inserted synchronously inside the request.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from model_core.messages import ApiRequest, InferenceRecord

from ..database import drop_connection
from .models import PredictionLog
from .spool import SpoolWriter


@cache
def _spool() -> SpoolWriter | None:
    directory = settings.PREDICTION_LOG_SPOOL
    return SpoolWriter(Path(directory)) if directory else None


def record_prediction(record: InferenceRecord, request: ApiRequest) -> None:
    rate = settings.PREDICTION_LOG_SAMPLE_RATE
    if rate < 1.0 and random.random() >= rate:
        return
    user: Any = request.notes.get("user")
    entry = {
        "request_id": record.request_id,
        "model_name": record.model_name or "",
        "model_version": record.model_version or "",
        "route": record.route,
        "input_digest": record.input_digest,
        "output": record.predictions,
        "latency_ms": record.latency_ms,
        "status": record.status,
        "caller_id": user.pk if getattr(user, "is_authenticated", False) else None,
        "created_at": datetime.now(UTC).isoformat(),
    }
    spool = _spool()
    if spool is not None:
        spool.append(entry)  # an OSError (disk full) makes the core answer 503
        return
    try:
        # A load balancer may retry one request on another host with the same X-Request-ID and
        # body: the first row stands (one_log_row_per_request) and the retry still succeeds.
        PredictionLog.objects.bulk_create([row_from_entry(entry)], ignore_conflicts=True)
    except DatabaseError:
        drop_connection()
        raise  # the core answers 503 instead of an unrecorded prediction


SPOOLED_FIELDS = ("request_id", "model_name", "model_version", "route", "input_digest", "output", "latency_ms")


def fields_from_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A spool line as a row's values (by attname); ValueError when the line is not a record this
    code can read."""
    try:
        fields = {name: entry[name] for name in SPOOLED_FIELDS}
        fields["status"] = int(entry["status"])
        fields["caller_id"] = entry.get("caller_id")
        fields["created_at"] = datetime.fromisoformat(entry["created_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a prediction record: {exc!r}") from None
    # The loader hands values to the driver as they are: a wrong type there would be an error
    # the database reports for the whole batch, not a line to set aside.
    wrong = [name for name in _TEXT_FIELDS if not isinstance(fields[name], str)]
    if not _is_number(fields["latency_ms"]):
        wrong.append("latency_ms")
    if fields["caller_id"] is not None and (
        isinstance(fields["caller_id"], bool) or not isinstance(fields["caller_id"], int)
    ):
        wrong.append("caller_id")
    if wrong:
        raise ValueError(f"not a prediction record: wrong type for {', '.join(wrong)}")
    return fields


_TEXT_FIELDS = ("request_id", "model_name", "model_version", "route", "input_digest")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def row_from_entry(entry: dict[str, Any]) -> PredictionLog:
    return PredictionLog(**fields_from_entry(entry))
