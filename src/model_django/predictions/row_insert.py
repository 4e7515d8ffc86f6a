"""Prediction rows inserted from plain dicts, skipping any row whose (request id, input digest) is
already there: what ``bulk_create(..., ignore_conflicts=True)`` does, without a model instance
and the ORM's per-field SQL compilation for every row.

The spool's loader inserts a row per answered prediction; through the ORM that cost 0.07 ms of
CPU per row, as much as a tenth of the request it records. The statement comes from the
backend's own operations (``INSERT OR IGNORE`` on SQLite, ``ON CONFLICT DO NOTHING`` on
PostgreSQL); values pass through each field's own conversion only where a field has one that
matters (JSON, date-times), so the stored values are the ORM's. tests/django/test_row_insert.py
compares rows inserted both ways; fields_from_entry (recorder.py) has checked the types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models
from django.db.models.constants import OnConflict

from .models import PredictionLog

# Field types whose value needs the backend's conversion; the rest (text, numbers, ids, None)
# go to the driver as they are.
_CONVERTED = (models.JSONField, models.DateTimeField)


def insert_ignoring_duplicates(
    rows: Sequence[dict[str, Any]], using: str = "default", per_statement: int = 500
) -> None:
    """Insert ``rows`` (attname -> value, e.g. ``caller_id``) into the prediction log."""
    if not rows:
        return
    connection = connections[using]
    ops = connection.ops
    fields = [field for field in PredictionLog._meta.concrete_fields if not field.primary_key]
    convert: list[Callable[[Any], Any] | None] = [
        (lambda value, field=field: field.get_db_prep_save(value, connection))
        if isinstance(field, _CONVERTED)
        else None
        for field in fields
    ]
    per_statement = max(1, min(per_statement, ops.bulk_batch_size(fields, rows) or per_statement))
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    suffix = ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    head = f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {ops.quote_name(PredictionLog._meta.db_table)}"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = []
            for row in chunk:
                for field, conversion in zip(fields, convert, strict=True):
                    value = row[field.attname]
                    params.append(value if conversion is None or value is None else conversion(value))
            values = ", ".join([one_row] * len(chunk))
            cursor.execute(f"{head} ({columns}) VALUES {values} {suffix}".rstrip(), params)
