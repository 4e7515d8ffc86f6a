"""A throttle on the admin's login form: password guessing costs time.

Every POST to the login page counts, before the password is checked, against the caller's
address (the same trusted-proxy identity as the API's throttle) and against the user name it
tries: counting only failures would let parallel guesses through before the first failure is
recorded, and counting per user name stops guessing spread over many addresses. Counters live
in Django's cache, the database cache in production, so every worker and app host shares them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from rest_framework.throttling import SimpleRateThrottle

from .api.throttles import client_address

security_log = logging.getLogger("stackgen.security")


class LoginThrottle(SimpleRateThrottle):
    """DRF's sliding window (as for the API), keyed by one identity at settings.ADMIN_LOGIN_RATE."""

    def __init__(self, scope: str, ident: str) -> None:
        self.scope = scope
        self.ident = ident
        self.rate = settings.ADMIN_LOGIN_RATE
        super().__init__()

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def login_name(raw: str) -> str:
    # As the login form reads it (UsernameField: stripped, NFKC): "admin " or a full-width
    # "ａｄｍｉｎ" log in as admin, so they must count as admin too.
    return unicodedata.normalize("NFKC", raw.strip())


def throttles_for(request: HttpRequest) -> list[LoginThrottle]:
    throttles = [LoginThrottle("admin_login_addr", client_address(request))]
    name = login_name(request.POST.get("username", ""))
    if name:
        # Hashed: any text a client sends is a valid cache key that way, and of bounded length.
        throttles.append(LoginThrottle("admin_login_user", hashlib.sha256(name.encode()).hexdigest()[:32]))
    return throttles


class AdminLoginThrottleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path == reverse("admin:login"):
            for throttle in throttles_for(request):
                # A refused attempt is not recorded: the window empties while the guessing pauses.
                if not throttle.allow_request(request, None):
                    return self.refuse(request, throttle)
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
