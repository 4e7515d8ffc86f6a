"""The inference fast path (model_django.api.fast_path) answers exactly as the DRF views behind it
would: same status, body and headers for successes and every refusal, with the middleware in
place and with it taken out. And it is really the path taken: DRF never sees an inference POST.

The throttle's log (packed doubles) keeps DRF's sliding-window rule and its Retry-After advice."""

from __future__ import annotations

import json
from array import array
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from model_django.api.auth import TOKENS
from model_django.api.throttles import InferenceThrottle
from model_django.predictions.models import PredictionLog

from .conftest import GOLDEN_ROWS, infer_body

pytestmark = pytest.mark.django_db
FAST = "model_django.api.fast_path.InferenceFastPath"
V2 = "/v2/models/iris/infer"
JSON_BODY = json.dumps(infer_body(GOLDEN_ROWS))
# DRF adds Allow to every answer of its views, and XFrameOptionsMiddleware (left out of the
# production settings: nginx owns that header) runs only past the fast path.
NOT_COMPARED = {"X-Request-ID", "Allow", "X-Frame-Options"}

# name: (path, body, content type, extra headers, settings)
CASES: dict[str, tuple[str, str, str, dict[str, str], dict[str, Any]]] = {
    "v2": (V2, JSON_BODY, "application/json", {}, {}),
    "v2 with a version": ("/v2/models/iris/versions/1/infer", JSON_BODY, "application/json", {}, {}),
    "v2 with an id": (V2, json.dumps({"id": "7", **infer_body(GOLDEN_ROWS)}), "application/json", {}, {}),
    "v1": ("/v1/models/iris:predict", json.dumps({"instances": GOLDEN_ROWS}), "application/json", {}, {}),
    "invocations": ("/invocations", json.dumps({"instances": GOLDEN_ROWS}), "application/json", {}, {}),
    "no token": (V2, JSON_BODY, "application/json", {"HTTP_AUTHORIZATION": ""}, {}),
    "unknown token": (V2, JSON_BODY, "application/json", {"HTTP_AUTHORIZATION": "Bearer nope-0123456789"}, {}),
    "malformed token": (V2, JSON_BODY, "application/json", {"HTTP_AUTHORIZATION": "Bearer a b"}, {}),
    "anonymous allowed": (
        V2,
        JSON_BODY,
        "application/json",
        {"HTTP_AUTHORIZATION": ""},
        {"ALLOW_ANONYMOUS_INFERENCE": True},
    ),
    "body over the limit": (
        V2,
        JSON_BODY,
        "application/json",
        {},
        {"MAX_BODY_BYTES": 64, "DATA_UPLOAD_MAX_MEMORY_SIZE": 64},
    ),
    "not JSON": (V2, "{", "application/json", {}, {}),
    "wrong content type": (V2, JSON_BODY, "text/plain", {}, {}),
    "unknown model": ("/v2/models/nope/infer", JSON_BODY, "application/json", {}, {}),
    "host not allowed": (V2, JSON_BODY, "application/json", {"HTTP_HOST": "attacker.example"}, {}),
    "plain HTTP with the HTTPS redirect on": (V2, JSON_BODY, "application/json", {}, {"SECURE_SSL_REDIRECT": True}),
    "GET on an inference route": (V2, "", "application/json", {}, {}),
}


def answer(settings, fast: bool, token: str, case: str) -> tuple[int, bytes, dict[str, str]]:
    path, body, content_type, extra, overrides = CASES[case]
    middleware = [m for m in settings.MIDDLEWARE if m != FAST]
    settings.MIDDLEWARE = ([middleware[0], FAST, *middleware[1:]]) if fast else middleware
    for key, value in overrides.items():
        setattr(settings, key, value)
    cache.clear()
    TOKENS.clear()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")  # a new client loads the middleware anew
    if case.startswith("GET"):
        response = client.get(path, **extra)
    else:
        response = client.post(path, body, content_type=content_type, **extra)
    headers = {k: v for k, v in response.headers.items() if k not in NOT_COMPARED}
    return response.status_code, response.content, headers


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_answers_as_the_drf_view(settings, token: str, case: str) -> None:
    original = {key: getattr(settings, key) for key in ("MIDDLEWARE", *CASES[case][4])}
    fast = answer(settings, True, token, case)
    for key, value in original.items():
        setattr(settings, key, value)
    slow = answer(settings, False, token, case)
    assert fast == slow
    assert fast[0] == EXPECTED_STATUS[case]


EXPECTED_STATUS = {
    "v2": 200,
    "v2 with a version": 200,
    "v2 with an id": 200,
    "v1": 200,
    "invocations": 200,
    "no token": 401,
    "unknown token": 401,
    "malformed token": 401,
    "anonymous allowed": 200,
    "body over the limit": 413,
    "not JSON": 400,
    "wrong content type": 415,
    "unknown model": 404,
    "host not allowed": 400,
    "plain HTTP with the HTTPS redirect on": 301,
    "GET on an inference route": 405,
}


def test_an_inactive_users_token_is_refused_alike(settings, token: str) -> None:
    get_user_model().objects.filter(username="alice").update(is_active=False)
    fast = answer(settings, True, token, "v2")
    slow = answer(settings, False, token, "v2")
    assert fast == slow
    assert (fast[0], fast[1]) == (401, b'{"error":"invalid bearer token"}\n')


def test_throttled_requests_get_the_same_429_and_retry_after(settings, token: str, monkeypatch) -> None:
    monkeypatch.setattr(InferenceThrottle, "timer", staticmethod(lambda: 1_000_000.0))
    runs = {}
    for fast in (True, False):
        path, body, content_type, _, _ = CASES["v2"]
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST]
        if fast:
            settings.MIDDLEWARE = [settings.MIDDLEWARE[0], FAST, *settings.MIDDLEWARE[1:]]
        cache.clear()
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        responses = [client.post(path, body, content_type=content_type) for _ in range(6)]  # test rate: 5/min
        runs[fast] = [(r.status_code, r.content, r.get("Retry-After")) for r in responses]
    assert runs[True] == runs[False]
    assert [status for status, _, _ in runs[True]] == [200] * 5 + [429]
    assert runs[True][-1][1:] == (b'{"error":"too many requests; retry in 60 s"}\n', "60")


def test_drf_never_sees_an_inference_post(monkeypatch, authed: Client) -> None:
    seen: list[str] = []
    dispatch = APIView.dispatch

    def spy(self, request, *args, **kwargs):
        seen.append(request.path)
        return dispatch(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", spy)
    for case in ("v2", "v2 with a version", "v1", "invocations"):
        path, body, content_type, _, _ = CASES[case]
        assert authed.post(path, body, content_type=content_type).status_code == 200, case
    assert authed.get("/v2/health/live").status_code == 200
    assert seen == ["/v2/health/live"]


def test_the_fast_path_logs_the_caller(authed: Client, token: str) -> None:
    response = authed.post(V2, infer_body(GOLDEN_ROWS), content_type="application/json")
    assert response.status_code == 200
    row = PredictionLog.objects.get(request_id=response["X-Request-ID"])
    assert row.caller_id == Token.objects.get(key=token).user_id


def throttle_at(now: float, key_user: Any) -> tuple[bool, float | None, InferenceThrottle]:
    throttle = InferenceThrottle()
    throttle.timer = lambda: now  # type: ignore[method-assign]
    request = SimpleNamespace(user=key_user, auth=SimpleNamespace(pk="t1"), META={"REMOTE_ADDR": "127.0.0.1"})
    allowed = throttle.allow_request(request, None)
    return allowed, None if allowed else throttle.wait(), throttle


def test_the_throttle_keeps_drfs_sliding_window() -> None:
    cache.clear()
    user = SimpleNamespace(is_authenticated=True, pk=1)
    assert [throttle_at(t, user)[0] for t in (0.0, 1.0, 2.0, 3.0, 4.0)] == [True] * 5  # 5/min
    allowed, wait, throttle = throttle_at(5.0, user)
    assert (allowed, wait) == (False, 55.0)  # until the request at 0 leaves the window
    allowed, wait, _ = throttle_at(59.9, user)
    assert (allowed, wait) == (False, pytest.approx(0.1))
    # A request exactly one window after the oldest no longer counts (DRF drops t <= now - 60).
    assert throttle_at(60.0, user)[0] is True
    allowed, wait, throttle = throttle_at(60.5, user)
    assert (allowed, wait) == (False, 0.5)  # the oldest left is the one at 1.0
    stored = array("d")
    stored.frombytes(cache.get(throttle.key))
    assert list(stored) == [1.0, 2.0, 3.0, 4.0, 60.0]


def test_times_from_a_clock_behind_keep_the_log_sorted() -> None:
    cache.clear()
    user = SimpleNamespace(is_authenticated=True, pk=1)
    for now in (10.0, 12.0, 11.0, 13.0, 9.5):  # hosts whose clocks differ by up to 2.5 s
        assert throttle_at(now, user)[0] is True
    _, _, throttle = throttle_at(13.5, user)
    stored = array("d")
    stored.frombytes(cache.get(throttle.key))
    assert list(stored) == [9.5, 10.0, 11.0, 12.0, 13.0]
    # At 70.5 the requests at 9.5 and 10.0 have left the window: exactly two more are allowed.
    assert [throttle_at(70.5, user)[0] for _ in range(3)] == [True, True, False]


def test_the_key_is_not_drfs_so_an_older_release_never_reads_this_log() -> None:
    cache.clear()
    user = SimpleNamespace(is_authenticated=True, pk=1)
    _, _, throttle = throttle_at(0.0, user)
    assert throttle.key == "stackgen-throttle-inference_token-token:t1"
    assert not throttle.key.startswith("throttle_")  # DRF's SimpleRateThrottle.cache_format


def test_a_log_in_another_format_starts_a_new_window() -> None:
    cache.clear()
    user = SimpleNamespace(is_authenticated=True, pk=1)
    _, _, throttle = throttle_at(0.0, user)
    cache.set(throttle.key, [0.0] * 5, 60)  # written by DRF's SimpleRateThrottle before an upgrade
    assert throttle_at(1.0, user)[0] is True
    cache.set(throttle.key, b"\x00" * 7, 60)  # not a whole number of doubles
    assert throttle_at(2.0, user)[0] is True
