"""Losing the database: readiness says so, inference answers JSON 503 (never 500), and both
recover by themselves once the database answers again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import OperationalError, connections
from django.db.models.sql.compiler import SQLInsertCompiler
from django.test import Client

from model_core.api import ModelAPI
from model_django.api.throttles import InferenceThrottle
from model_django.predictions.models import PredictionLog

from .conftest import GOLDEN_ROWS, infer_body

pytestmark = pytest.mark.django_db
INFER = "/v2/models/iris/infer"
INFER_ROUTE = "/v2/models/{name}/infer"
# What psycopg says when the server is gone: several lines, only the first is reported.
LOST = (
    'connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection refused\n'
    "\tIs the server running on that host and accepting TCP/IP connections?"
)


def _raise_lost(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError(LOST)


@pytest.fixture
def closes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records connection.close() calls (the in-memory test database must survive them)."""
    calls: list[str] = []
    monkeypatch.setattr(type(connections["default"]), "close", lambda self: calls.append(self.alias))
    return calls


@pytest.fixture
def access_log() -> Iterator[list[logging.LogRecord]]:
    # The "stackgen" logger does not propagate (jsonlog), so caplog would not see its lines.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("stackgen.access")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def lose_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every query (ORM or raw) opens a cursor first: this is what a lost server looks like.
    monkeypatch.setattr(type(connections["default"]), "cursor", _raise_lost)


def post(client: Client, **headers: str):
    return client.post(INFER, infer_body(GOLDEN_ROWS), content_type="application/json", **headers)


def requests_total(status: int) -> str:
    text = Client().get("/metrics").content.decode()
    prefix = f'stackgen_http_requests_total{{method="POST",route="{INFER_ROUTE}",status="{status}"}} '
    return next((line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)), "0")


def test_readiness_reports_the_database_and_recovers(monkeypatch: pytest.MonkeyPatch, closes: list[str]) -> None:
    with monkeypatch.context() as lost:
        lose_database(lost)
        response = Client().get("/v2/health/ready", HTTP_X_REQUEST_ID="ready-1")
        assert (response.status_code, response.json()) == (
            503,
            {
                "ready": False,
                "error": "database unavailable",  # the driver's message (host, port) stays in the log
            },
        )
        assert (response["X-Request-ID"], response["X-Release-Id"]) == ("ready-1", "django-test")
        assert closes == ["default"]  # dropped, so that the next check connects afresh
    response = Client().get("/v2/health/ready")
    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_model_readiness_comes_first(api: ModelAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    lose_database(monkeypatch)
    monkeypatch.setattr(api.service, "_predictor", None)
    response = Client().get("/v2/health/ready")
    assert (response.status_code, response.json()) == (503, {"ready": False, "error": "model is not ready: loading"})


def test_token_lookup_without_database_is_503(
    authed: Client, monkeypatch: pytest.MonkeyPatch, closes: list[str]
) -> None:
    lose_database(monkeypatch)
    response = post(authed, HTTP_X_REQUEST_ID="auth-lost")
    assert (response.status_code, response.json()) == (503, {"error": "database unavailable; retry later"})
    assert (response["X-Request-ID"], response["X-Release-Id"]) == ("auth-lost", "django-test")
    assert response["Content-Type"] == "application/json"
    assert closes == ["default"]
    monkeypatch.undo()
    assert requests_total(503) == "1.0"
    assert post(authed).status_code == 200  # recovered without a restart


def test_throttle_cache_without_database_is_503(settings, monkeypatch: pytest.MonkeyPatch, closes: list[str]) -> None:
    # Production keeps throttle counters in DatabaseCache; anonymous callers reach it without a token lookup.
    settings.ALLOW_ANONYMOUS_INFERENCE = True

    class LostCache:
        get = set = staticmethod(_raise_lost)

    monkeypatch.setattr(InferenceThrottle, "cache", LostCache())
    response = post(Client())
    assert (response.status_code, response.json()) == (503, {"error": "database unavailable; retry later"})
    assert len(response["X-Request-ID"]) == 32
    assert closes == ["default"]


# bulk_create's own atomic block marks an enclosing one for rollback when the insert fails, so
# tests that query after a failed insert must not run inside the usual per-test transaction.
@pytest.mark.django_db(transaction=True)
def test_unrecorded_anonymous_prediction_is_503(settings, monkeypatch: pytest.MonkeyPatch, closes: list[str]) -> None:
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    with monkeypatch.context() as lost:
        lose_database(lost)
        response = post(Client(), HTTP_X_REQUEST_ID="anon-lost")
    assert (response.status_code, response.json()) == (
        503,
        {
            "error": "the prediction could not be recorded (database unavailable); retry later",
            "request_id": "anon-lost",
        },
    )
    assert (response["X-Request-ID"], response["X-Release-Id"]) == ("anon-lost", "django-test")
    assert closes == ["default"]
    assert PredictionLog.objects.count() == 0
    assert requests_total(503) == "1.0"
    assert post(Client()).status_code == 200
    assert PredictionLog.objects.count() == 1


def test_unrecorded_prediction_with_a_valid_token_is_503(
    authed: Client, monkeypatch: pytest.MonkeyPatch, closes: list[str], access_log: list[logging.LogRecord]
) -> None:
    # The token is found, then the database goes away before the log row is written.
    monkeypatch.setattr(SQLInsertCompiler, "execute_sql", _raise_lost)
    response = post(authed, HTTP_X_REQUEST_ID="token-lost")
    assert (response.status_code, response.json()) == (
        503,
        {
            "error": "the prediction could not be recorded (database unavailable); retry later",
            "request_id": "token-lost",
        },
    )
    assert (response["X-Request-ID"], response["X-Release-Id"]) == ("token-lost", "django-test")
    assert closes == ["default"]
    [line] = [r.fields for r in access_log if r.fields["request_id"] == "token-lost"]  # type: ignore[attr-defined]
    assert (line["route"], line["status"]) == (INFER_ROUTE, 503)
    assert requests_total(503) == "1.0"
    assert requests_total(200) == "0"


def test_errors_are_answered_as_they_are(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 400 carries no prediction: it stays a 400 whether or not its log row could be written.
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    monkeypatch.setattr(SQLInsertCompiler, "execute_sql", _raise_lost)
    response = Client().post(INFER, {"inputs": []}, content_type="application/json")
    assert response.status_code == 400
