"""Per-token throttling for the inference routes (anonymous callers by address)."""

from __future__ import annotations

from array import array
from bisect import bisect_right, insort
from typing import Any

from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def client_address(request: Any) -> str:
    """The caller's address as the trusted proxies report it (NUM_PROXIES, from
    STACKGEN_PROXY_HOPS): the X-Forwarded-For entry the nearest trusted proxy wrote, or the
    socket's peer with none. Every throttle keys on it; the access log records it."""
    return BaseThrottle().get_ident(request) or "unknown"


class InferenceThrottle(SimpleRateThrottle):
    """DRF's sliding log (at most N requests in any window of the rate's length), with the log
    stored as packed doubles, oldest first, instead of a pickled list of floats: the cache
    value is read and written on every inference request, and unpickling one float object per
    logged request cost more CPU than the rest of Django's work for the request at a few
    hundred requests per window.

    The key is not DRF's (``throttle_...``): during a host-by-host deploy or after a rollback, a
    release with DRF's throttle shares this cache and would fail on a value it cannot read.
    Times are inserted in order, so the log stays sorted when workers' or hosts' clocks differ."""

    cache_format = "stackgen-throttle-%(scope)s-%(ident)s"

    def get_rate(self) -> str | None:
        return None  # chosen per request in allow_request

    def allow_request(self, request: Any, view: Any) -> bool:
        authenticated = bool(request.user and request.user.is_authenticated)
        self.scope = "inference_token" if authenticated else "inference_anon"
        self.rate = self.THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        times = array("d")
        stored = self.cache.get(self.key)
        if isinstance(stored, bytes) and len(stored) % times.itemsize == 0:
            times.frombytes(stored)  # anything else starts a new log
        self.now = self.timer()  # after the read, as DRF: a time written meanwhile is not later
        # DRF drops entries at or before now - duration, so the window keeps later ones only.
        self.times = times[bisect_right(times, self.now - self.duration) :]
        if len(self.times) >= self.num_requests:
            return False
        insort(self.times, self.now)
        self.cache.set(self.key, self.times.tobytes(), self.duration)
        return True

    def wait(self) -> float | None:
        """DRF's advice: the time left until the oldest logged request leaves the window,
        spread over the requests still available then."""
        remaining = self.duration - (self.now - self.times[0]) if self.times else self.duration
        available = self.num_requests - len(self.times) + 1
        return remaining / available if available > 0 else None

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            # request.auth is the Token: one budget per token, not per user.
            ident = f"token:{getattr(request.auth, 'pk', request.user.pk)}"
        else:
            ident = f"addr:{client_address(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
