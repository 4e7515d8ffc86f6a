"""DRF tokens sent the way V2 clients send them: ``Authorization: Bearer <token>``."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from model_core.auth import CHALLENGE, MissingToken, parse_bearer
from model_core.errors import Unauthorized

# A worker sees few distinct tokens; the bound only stops a flood of valid ones growing memory.
_MAX_CACHED = 1024


class TokenCache:
    """Tokens this worker found valid, each for ``API_TOKEN_CACHE_SECONDS``: the lookup (a join of
    the token and user tables) would otherwise be a database round trip per inference request.
    Only successes are kept, so an unknown token is always checked against the database."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Any, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, key: str, user: Any, token: Any, seconds: float) -> None:
        with self._lock:
            if len(self._entries) >= _MAX_CACHED:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= _MAX_CACHED:
                    self._entries.clear()
            self._entries[key] = (time.monotonic() + seconds, user, token)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


TOKENS = TokenCache()


def _forget_tokens(**kwargs: Any) -> None:
    # A token deleted or a user changed (deactivated, say) in this process, e.g. in the admin
    # a worker serves: this worker forgets at once; other workers within the cache's seconds.
    TOKENS.clear()


post_delete.connect(_forget_tokens, sender="authtoken.Token", dispatch_uid="stackgen.tokens.deleted")
post_save.connect(_forget_tokens, sender=settings.AUTH_USER_MODEL, dispatch_uid="stackgen.tokens.user_saved")


class BearerTokenAuthentication(TokenAuthentication):
    """The core's parser (model_core.auth) instead of DRF's own, so that Flask and Django accept
    and refuse the same headers; only the token lookup (in the database) is DRF's."""

    keyword = CHALLENGE

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        try:
            token = parse_bearer(request.META.get("HTTP_AUTHORIZATION"))
        except MissingToken:
            return None  # anonymous: the view's permissions decide (401 unless allowed)
        except Unauthorized as exc:
            raise AuthenticationFailed(exc.message) from None
        seconds = settings.API_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return self.authenticate_credentials(token)
        cached = TOKENS.get(token)
        if cached is not None:
            return cached
        user, found = self.authenticate_credentials(token)  # raises for unknown tokens, inactive users
        TOKENS.put(token, user, found, seconds)
        return user, found
