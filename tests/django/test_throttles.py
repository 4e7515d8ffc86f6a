"""Throttle identity comes from the trusted proxy count, not from what a client writes in
X-Forwarded-For; the admin's login form is throttled per address (every POST) and per user name
and address (failed logins only), so that no address can lock a user out of another."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from model_django.login_throttle import LoginThrottle

from .conftest import GOLDEN_ROWS

pytestmark = pytest.mark.django_db
V1 = "/v1/models/iris:predict"
LOGIN = "/admin/login/"
CLIENT = "203.0.113.7"  # the address nginx appends (or writes alone) for the real peer


@pytest.fixture
def proxy_hops(settings):
    """Set NUM_PROXIES as STACKGEN_PROXY_HOPS would; DRF re-reads its settings on change."""

    def set_hops(hops: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": hops}

    return set_hops


def predict(forwarded_for: str) -> int:
    body = {"instances": GOLDEN_ROWS}
    return Client().post(V1, body, content_type="application/json", HTTP_X_FORWARDED_FOR=forwarded_for).status_code


def test_forged_forwarded_for_does_not_reset_the_anonymous_budget(settings, proxy_hops, caplog) -> None:
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    proxy_hops(1)
    with caplog.at_level(logging.INFO, logger="stackgen.access"):
        statuses = [predict(f"198.51.100.{i}, {CLIENT}") for i in range(6)]  # test settings: 5/min
    assert statuses == [200] * 5 + [429]
    assert {r.fields["remote_addr"] for r in caplog.records if r.name == "stackgen.access"} == {CLIENT}
    # Another real client (nginx's entry) has its own budget.
    assert predict(f"{CLIENT}, 203.0.113.8") == 200


def test_without_proxies_forwarded_for_is_ignored(settings, proxy_hops) -> None:
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    proxy_hops(0)
    statuses = [predict(f"198.51.100.{i}") for i in range(6)]  # all from the test client's 127.0.0.1
    assert statuses == [200] * 5 + [429]


def settings_from_env(**env: str) -> subprocess.CompletedProcess[str]:
    script = "from django.conf import settings as s; print(s.REST_FRAMEWORK['NUM_PROXIES'], s.ADMIN_LOGIN_RATE)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STACKGEN_", "DJANGO_"))}
    clean.update({"DJANGO_SETTINGS_MODULE": "model_django.settings.build", **env})
    return subprocess.run([sys.executable, "-c", script], env=clean, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "0 10/min"),
        ({"STACKGEN_PROXY_HOPS": "1", "STACKGEN_ADMIN_LOGIN_RATE": "5/hour"}, "1 5/hour"),
        ({"STACKGEN_PROXY_HOPS": "-1"}, "STACKGEN_PROXY_HOPS=-1 is too small (expected 0 or more)"),
        ({"STACKGEN_ADMIN_LOGIN_RATE": "lots"}, "STACKGEN_ADMIN_LOGIN_RATE='lots' is not a rate"),
        ({"STACKGEN_ANON_THROTTLE_RATE": "5/mango"}, "STACKGEN_ANON_THROTTLE_RATE='5/mango' is not a rate"),
    ],
)
def test_proxy_hops_and_login_rate_come_from_the_environment(env: dict[str, str], expected: str) -> None:
    result = settings_from_env(**env)
    assert expected in (result.stdout if result.returncode == 0 else result.stderr), result.stderr[-2000:]


@pytest.fixture
def admin(settings) -> Client:
    settings.ADMIN_LOGIN_RATE = "3/min"
    get_user_model().objects.create_superuser("admin", "admin@example.test", "pw-admin-123")
    return Client()


def login(client: Client, username: str, password: str = "wrong", forwarded_for: str | None = None):
    extra = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra)


def test_admin_login_is_throttled_per_address(admin: Client) -> None:
    for _ in range(5):  # looking at the form costs nothing
        assert admin.get(LOGIN).status_code == 200
    statuses = [login(admin, f"user{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]  # 200: the form again, with its error
    refused = login(admin, "admin", "pw-admin-123")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.content.decode() == f"too many login attempts; retry in {refused['Retry-After']} s\n"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The login throttles' time, moved by hand: now[0] += seconds."""
    now = [1_000_000.0]
    monkeypatch.setattr(LoginThrottle, "timer", staticmethod(lambda: now[0]))
    return now


A, B = "198.51.100.1", "198.51.100.2"


def test_an_address_cannot_lock_a_user_out_of_another_address(admin: Client, proxy_hops) -> None:
    proxy_hops(1)
    # The attack: many wrong passwords for admin from A. A's own budget stops it...
    statuses = [login(Client(), "admin", forwarded_for=A).status_code for _ in range(20)]
    assert statuses == [200] * 3 + [429] * 17
    refused = login(Client(), "admin", forwarded_for=A)
    assert 0 < int(refused["Retry-After"]) <= 60
    # ...and admin, from B, is neither refused nor slowed down: mistakes and a success alike.
    assert [login(Client(), "admin", forwarded_for=B).status_code for _ in range(2)] == [200, 200]
    response = login(admin, "admin", "pw-admin-123", forwarded_for=B)
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_failed_logins_are_limited_per_user_name_and_address(admin: Client, proxy_hops, clock) -> None:
    proxy_hops(1)
    # The login form strips and NFKC-normalizes names: these are all "admin".
    names = [" admin", "\uff41\uff44\uff4d\uff49\uff4e", "admin"]
    assert [login(Client(), name, forwarded_for=A).status_code for name in names] == [200, 200, 200]
    clock[0] += 61  # A's per-address window (3/min) is empty again; admin's failures from A last an hour
    refused = login(Client(), "admin", "pw-admin-123", forwarded_for=A)
    assert refused.status_code == 429
    assert 3600 - 61 - 1 <= int(refused["Retry-After"]) <= 3600 - 61 + 1
    assert refused.content.decode() == f"too many login attempts; retry in {refused['Retry-After']} s\n"
    # Only that (user name, address): another name from A, and admin from B, go on.
    assert login(Client(), "someone-else", forwarded_for=A).status_code == 200
    response = login(admin, "admin", "pw-admin-123", forwarded_for=B)
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    clock[0] += 3600
    assert login(Client(), "admin", "pw-admin-123", forwarded_for=A).status_code == 302


def test_only_failed_logins_count_against_the_user_name(admin: Client, proxy_hops, clock) -> None:
    proxy_hops(1)
    for _ in range(3):  # three successes a minute, for three minutes: never refused
        assert [login(Client(), "admin", "pw-admin-123", forwarded_for=A).status_code for _ in range(3)] == [302] * 3
        clock[0] += 61
    # A success forgets the failures before it: two mistakes, a success, then a full budget again.
    assert [login(Client(), "admin", forwarded_for=A).status_code for _ in range(2)] == [200, 200]
    assert login(Client(), "admin", "pw-admin-123", forwarded_for=A).status_code == 302
    clock[0] += 61
    assert [login(Client(), "admin", forwarded_for=A).status_code for _ in range(3)] == [200, 200, 200]
    clock[0] += 61
    assert login(Client(), "admin", "pw-admin-123", forwarded_for=A).status_code == 429


def test_a_correct_login_under_the_limit_still_works(admin: Client) -> None:
    assert [login(admin, "admin").status_code for _ in range(2)] == [200, 200]
    response = login(admin, "admin", "pw-admin-123")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert admin.get("/admin/").status_code == 200
