"""A throttle on the admin's login form: password guessing costs time, and nobody else can lock
an account out.

Two limits, both at settings.ADMIN_LOGIN_RATE (STACKGEN_ADMIN_LOGIN_RATE):

* per client address (the same trusted-proxy identity as the API's throttle), every POST counts,
  before the password is checked: parallel guesses cannot outrun it, and guessing many user
  names from one address is as slow as guessing one;
* per (user name, client address), only FAILED logins count (Django's ``user_login_failed``),
  remembered for at least FAILURE_WINDOW: one address guessing one account gets that many
  tries an hour, not a minute. A successful login forgets its address's failures for that name.

Nothing counts against a user name alone, so an address cannot keep ``admin`` locked out of
another address. The cost: guessing spread over many addresses is limited only per address.
Counters live in Django's cache, the database cache in production, so every worker and app host
shares them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from .api.throttles import client_address

security_log = logging.getLogger("stackgen.security")
# Seconds a failed login stays counted against its (user name, address), at the least: the
# per-address window (every POST, the same count) would otherwise always be hit first.
FAILURE_WINDOW = 3600
# Set by the middleware on a login POST; the auth signals record on it.
_FAILURES = "_stackgen_login_failures"


class LoginThrottle(SimpleRateThrottle):
    """DRF's sliding window (as for the API), keyed by one identity, ADMIN_LOGIN_RATE's count
    over its period or ``window`` seconds, whichever is longer. Checking and recording are
    separate steps: a failure is recorded only once the password has been checked."""

    def __init__(self, scope: str, ident: str, window: int = 0) -> None:
        self.scope = scope
        self.ident = ident
        self.rate = settings.ADMIN_LOGIN_RATE
        super().__init__()
        self.duration = max(self.duration, window)
        self.key = self.cache_format % {"scope": scope, "ident": ident}

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.key

    def full(self) -> bool:
        """Whether the window already holds the limit (the next attempt is refused); records nothing."""
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def record(self) -> None:
        self.full()  # reloads the history: other workers may have added to it
        # Newest first, as DRF keeps it; more than the limit never matters.
        self.history = [self.now, *self.history][: self.num_requests]
        self.cache.set(self.key, self.history, self.duration)

    def forget(self) -> None:
        self.cache.delete(self.key)


def login_name(raw: str) -> str:
    # As the login form reads it (UsernameField: stripped, NFKC): "admin " or a full-width
    # "ａｄｍｉｎ" log in as admin, so they must count as admin too.
    return unicodedata.normalize("NFKC", raw.strip())


def failures_for(name: str, address: str) -> LoginThrottle:
    # Keyed on (name, address), not name alone, so that failures from one address never lock
    # the user out elsewhere. Hashed: any text a client sends is a valid cache key that way,
    # and of bounded length.
    ident = hashlib.sha256(f"{name}\n{address}".encode()).hexdigest()[:32]
    return LoginThrottle("admin_login_failed", ident, FAILURE_WINDOW)


class AdminLoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # endswith first: reverse() on every POST costs more than the rest of this check.
        if request.method == "POST" and request.path.endswith("/login/") and request.path == reverse("admin:login"):
            address = client_address(request)
            throttles = [LoginThrottle("admin_login_addr", address)]
            name = login_name(request.POST.get("username", ""))
            if name:
                throttles.append(failures_for(name, address))
            # A refused attempt is not recorded: the window empties while the guessing pauses.
            for throttle in throttles:
                if throttle.full():
                    return self.refuse(request, throttle)
            throttles[0].record()
            if name:
                setattr(request, _FAILURES, throttles[1])
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, throttle: LoginThrottle) -> HttpResponse:
        wait = max(1, math.ceil(throttle.wait() or 1))
        security_log.warning(
            "admin login throttled",
            extra={"fields": {"remote_addr": client_address(request), "limit": throttle.scope, "retry_after": wait}},
        )
        response = HttpResponse(
            f"too many login attempts; retry in {wait} s\n", status=429, content_type="text/plain; charset=utf-8"
        )
        response["Retry-After"] = str(wait)
        return response


def _login_failed(sender: Any, credentials: Any = None, request: Any = None, **kwargs: Any) -> None:
    # Sent by authenticate() when no backend accepts the credentials; only login POSTs the
    # middleware let through carry a counter (the API's bearer tokens never get here).
    throttle = getattr(request, _FAILURES, None)
    if throttle is not None:
        throttle.record()


def _logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    throttle = getattr(request, _FAILURES, None)
    if throttle is not None:
        throttle.forget()


user_login_failed.connect(_login_failed, dispatch_uid="stackgen.login_throttle.failed")
user_logged_in.connect(_logged_in, dispatch_uid="stackgen.login_throttle.logged_in")
