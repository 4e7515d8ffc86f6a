"""Both adapters behind one interface, so every hostile-input property runs against Flask and Django."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from model_core.config import Config
from model_flask import create_app

MAX_BATCH = 8
ROUTES = ("/v2/models/iris/infer", "/v1/models/iris:predict", "/invocations")
V2, V1, MLFLOW = ROUTES
JSON = "application/json"
Headers = dict[str, str] | None
# One shared function-scoped target per test (see ``target``); no example database in the tree.
HOSTILE = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    @property
    def error(self) -> str:
        """The error message of a 4xx answer, after checking that it is the documented JSON shape."""
        assert self.content_type.startswith("application/json"), (self.status, self.content_type, self.body[:200])
        document = json.loads(self.body)
        assert isinstance(document, dict) and isinstance(document.get("error"), str), document
        return document["error"]


def check(reply: Reply, status: int | None = None, error: str | None = None) -> Reply:
    """Never a 5xx; every error is ``{"error": "..."}``; the status and message when the input decides them."""
    assert reply.status < 500, (reply.status, reply.body[:300])
    if reply.status >= 400:
        message = reply.error
        if error is not None:
            assert message == error, (message, error)
    if status is not None:
        assert reply.status == status, (reply.status, status, reply.body[:300])
    return reply


def v2_tensor(data: Any = None, rows: int = 1, datatype: str = "FP64", **extra: Any) -> dict[str, Any]:
    tensor = {"name": "input-0", "shape": [rows, 4], "datatype": datatype, **extra}
    if data is not None:
        tensor["data"] = data
    return {"inputs": [tensor]}


class FlaskTarget:
    def __init__(self, model_dir: Path) -> None:
        config = Config(model_dir=model_dir, max_batch=MAX_BATCH, log_level="ERROR", release_id="hostile")
        self.client = create_app(config).test_client()

    def post(self, path: str, body: bytes, content_type: str | None = JSON, headers: Headers = None) -> Reply:
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        response = self.client.post(path, data=body, headers=all_headers)
        return Reply(response.status_code, response.content_type or "", response.get_data())


class DjangoTarget:
    def __init__(self, token: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def post(self, path: str, body: bytes, content_type: str | None = JSON, headers: Headers = None) -> Reply:
        meta = {"HTTP_" + key.upper().replace("-", "_"): value for key, value in (headers or {}).items()}
        if content_type is not None:
            meta["CONTENT_TYPE"] = content_type  # the test client leaves it out when the body is empty
        response = self.client.post(path, data=body, content_type=content_type or "", **meta)
        return Reply(response.status_code, response.get("Content-Type", ""), response.content)


Target = FlaskTarget | DjangoTarget


@pytest.fixture
def django_target(db: None, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DjangoTarget]:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from rest_framework.authtoken.models import Token

    from model_django.api.throttles import InferenceThrottle
    from model_django.service import get_api

    monkeypatch.setenv("STACKGEN_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("STACKGEN_MAX_BATCH", str(MAX_BATCH))
    monkeypatch.setenv("STACKGEN_LOG_LEVEL", "ERROR")
    # Hundreds of requests per property: the test settings' 5/min would answer 429 from the sixth.
    rates = {"inference_token": "1000000/s", "inference_anon": "1000000/s"}
    monkeypatch.setattr(InferenceThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    get_api.cache_clear()
    get_api().start()
    user = get_user_model().objects.create_user("hostile", password="pw-hostile-123")
    yield DjangoTarget(Token.objects.create(user=user).key)
    get_api.cache_clear()


@pytest.fixture(params=["flask", "django"])
def target(request: pytest.FixtureRequest, model_dir: Path, db: None) -> Target:
    """Function-scoped (Django's database is rolled back after each test); every hypothesis example
    of one test shares it, which is harmless: no example changes what the next one sees. ``db`` is
    named here because pytest-django creates only the databases that collected tests ask for."""
    if request.param == "flask":
        return FlaskTarget(model_dir)
    return request.getfixturevalue("django_target")
