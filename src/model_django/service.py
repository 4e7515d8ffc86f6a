"""The one ModelAPI of this process, configured from STACKGEN_* like the Flask service."""

from __future__ import annotations

import dataclasses
from functools import cache

from django.conf import settings

from model_core import jsonlog
from model_core.api import ModelAPI
from model_core.config import Config

from .database import database_ready


@cache
def get_api() -> ModelAPI:
    from .predictions.recorder import record_prediction

    # DRF authenticates and throttles the inference routes, so the core's own token check is off;
    # the core is told only so that its OpenAPI document declares both.
    config = dataclasses.replace(
        Config.from_env(),
        auth_enabled=False,
        api_tokens=(),
        adapter_auth="optional" if settings.ALLOW_ANONYMOUS_INFERENCE else "required",
        adapter_throttle=True,
    )
    jsonlog.configure(config.log_level)
    # Every answered prediction is in the log: without the database, inference answers 503.
    return ModelAPI(config, observer=record_prediction, ready_checks=(database_ready,), observer_required=True)
