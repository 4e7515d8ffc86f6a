"""A worker keeps a token it found valid for API_TOKEN_CACHE_SECONDS, and no longer: a deleted
token or a deactivated user is refused once that time has passed (at once in the process that
made the change), and at once with the cache off."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from model_django.api import auth

from .conftest import GOLDEN_ROWS, infer_body

pytestmark = pytest.mark.django_db
INFER = "/v2/models/iris/infer"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth.time, "monotonic", fake)
    return fake


def status(client: Client) -> int:
    return client.post(INFER, infer_body(GOLDEN_ROWS[:1]), content_type="application/json").status_code


def token_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert status(client) == 200
    return sum("authtoken_token" in q["sql"] for q in queries.captured_queries)


def test_a_known_token_is_looked_up_once_per_window(authed: Client, settings, clock: Clock) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 30
    assert [token_queries(authed) for _ in range(3)] == [1, 0, 0]
    clock.now += 30
    assert [token_queries(authed) for _ in range(2)] == [1, 0]


def deleted_elsewhere(token: str) -> None:
    # As another process would: no signal reaches this worker's cache.
    Token.objects.filter(key=token)._raw_delete(Token.objects.db)


def test_a_token_deleted_elsewhere_is_refused_after_the_window(
    authed: Client, token: str, settings, clock: Clock
) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 10
    assert status(authed) == 200
    deleted_elsewhere(token)
    clock.now += 9.9
    assert status(authed) == 200  # still inside the window: the documented delay
    clock.now += 0.1
    assert status(authed) == 401


def test_a_change_in_this_process_takes_effect_at_once(authed: Client, token: str, settings, clock: Clock) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 10
    assert status(authed) == 200
    user = Token.objects.get(key=token).user
    user.is_active = False
    user.save()
    assert status(authed) == 401
    user.is_active = True
    user.save()
    assert status(authed) == 200
    Token.objects.filter(key=token).delete()
    assert status(authed) == 401


def test_with_the_cache_off_every_request_asks_the_database(authed: Client, token: str, settings) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 0
    assert [token_queries(authed) for _ in range(2)] == [1, 1]
    deleted_elsewhere(token)
    assert status(authed) == 401


def test_an_unknown_token_is_never_remembered(settings, db) -> None:
    settings.API_TOKEN_CACHE_SECONDS = 30
    stranger = Client(HTTP_AUTHORIZATION="Bearer no-such-token-0123456789")
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert status(stranger) == 401
        assert sum("authtoken_token" in q["sql"] for q in queries.captured_queries) == 1
