"""Writes the prediction log: the core's inference observer, bound to Django's ORM."""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from model_core.messages import ApiRequest, InferenceRecord

from ..database import drop_connection
from .models import PredictionLog


def record_prediction(record: InferenceRecord, request: ApiRequest) -> None:
    # Written synchronously inside the request, so a normal shutdown loses no record.
    rate = settings.PREDICTION_LOG_SAMPLE_RATE
    if rate < 1.0 and random.random() >= rate:
        return
    user: Any = request.notes.get("user")
    row = PredictionLog(
        request_id=record.request_id,
        model_name=record.model_name or "",
        model_version=record.model_version or "",
        route=record.route,
        input_digest=record.input_digest,
        output=record.predictions,
        latency_ms=record.latency_ms,
        status=record.status,
        caller=user if getattr(user, "is_authenticated", False) else None,
    )
    try:
        # A load balancer may retry one request on another host with the same X-Request-ID and
        # body: the first row stands (one_log_row_per_request) and the retry still succeeds.
        PredictionLog.objects.bulk_create([row], ignore_conflicts=True)
    except DatabaseError:
        drop_connection()
        raise  # the core answers 503 instead of an unrecorded prediction
