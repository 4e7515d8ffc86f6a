"""Per-token throttling for the inference routes (anonymous callers by address)."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def client_address(request: Any) -> str:
    """The caller's address as the trusted proxies report it (NUM_PROXIES, from
    STACKGEN_PROXY_HOPS): the X-Forwarded-For entry the nearest trusted proxy wrote, or the
    socket's peer with none. Every throttle keys on it; the access log records it."""
    return BaseThrottle().get_ident(request) or "unknown"


class InferenceThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return None  # chosen per request in allow_request

    def allow_request(self, request: Any, view: Any) -> bool:
        authenticated = bool(request.user and request.user.is_authenticated)
        self.scope = "inference_token" if authenticated else "inference_anon"
        self.rate = self.THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            # request.auth is the Token: one budget per token, not per user.
            ident = f"token:{getattr(request.auth, 'pk', request.user.pk)}"
        else:
            ident = f"addr:{client_address(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
