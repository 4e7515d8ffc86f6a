"""Writes the prediction log: the core's inference observer, bound to Django's ORM."""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings

from model_core.messages import ApiRequest, InferenceRecord

from .models import PredictionLog


def record_prediction(record: InferenceRecord, request: ApiRequest) -> None:
    # Written synchronously inside the request, so a normal shutdown loses no record.
    rate = settings.PREDICTION_LOG_SAMPLE_RATE
    if rate < 1.0 and random.random() >= rate:
        return
    user: Any = request.notes.get("user")
    PredictionLog.objects.create(
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
