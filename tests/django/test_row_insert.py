"""The loader's insert (predictions/row_insert.py) stores what the ORM's bulk_create stores, and
skips a row already there as bulk_create(ignore_conflicts=True) does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from model_django.predictions.models import PredictionLog
from model_django.predictions.recorder import fields_from_entry
from model_django.predictions.row_insert import insert_ignoring_duplicates

pytestmark = pytest.mark.django_db


def fields(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "request_id": f"req-{n}",
        "model_name": "iris",
        "model_version": "1",
        "route": "/v2/models/{name}/infer",
        "input_digest": f"{n:064x}",
        "output": [n, 2.5],
        "latency_ms": 1.25,
        "status": 200,
        "caller_id": None,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        **changes,
    }


def stored(prefix: str) -> list[dict[str, Any]]:
    rows = PredictionLog.objects.filter(request_id__startswith=prefix).order_by("request_id").values()
    return [{k: v for k, v in row.items() if k not in ("id", "request_id")} for row in rows]


def test_rows_are_stored_as_the_orm_stores_them() -> None:
    caller = get_user_model().objects.create_user("bob", password="pw-bob-1234").pk
    variants = [
        {},
        {"output": None},
        {"output": {"label": [1], "probabilities": [[0.1, 0.9]]}},
        {"caller_id": caller, "status": 503, "model_name": "", "latency_ms": 0.001},
        {"created_at": datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)},
    ]
    insert_ignoring_duplicates([fields(i, request_id=f"raw-{i}", **v) for i, v in enumerate(variants)])
    PredictionLog.objects.bulk_create(
        [PredictionLog(**fields(i, request_id=f"orm-{i}", **v)) for i, v in enumerate(variants)]
    )
    assert stored("raw-") == stored("orm-")
    assert len(stored("raw-")) == len(variants)
    assert stored("raw-")[2]["output"] == {"label": [1], "probabilities": [[0.1, 0.9]]}
    # None is SQL NULL on both (not JSON null), which .values() could not tell apart.
    with connection.cursor() as cursor:
        cursor.execute("SELECT request_id FROM predictions_predictionlog WHERE output IS NULL ORDER BY request_id")
        assert [row[0] for row in cursor.fetchall()] == ["orm-1", "raw-1"]


def test_a_row_already_there_is_skipped_and_the_rest_inserted() -> None:
    insert_ignoring_duplicates([fields(1)])
    insert_ignoring_duplicates([fields(1, status=500), fields(2), fields(2), fields(3)], per_statement=2)
    assert list(PredictionLog.objects.order_by("request_id").values_list("request_id", "status")) == [
        ("req-1", 200),
        ("req-2", 200),
        ("req-3", 200),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("model_version", {"v": 1}), ("request_id", 7), ("latency_ms", "1.5"), ("latency_ms", True), ("caller_id", "3")],
)
def test_a_line_with_a_wrong_type_is_set_aside_not_sent_to_the_database(field: str, value: Any) -> None:
    entry = {**fields(1), "created_at": "2026-01-02T03:04:05+00:00", field: value}
    with pytest.raises(ValueError, match=f"wrong type for {field}"):
        fields_from_entry(entry)
