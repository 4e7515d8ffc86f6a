"""DRF tokens sent the way V2 clients send them: ``Authorization: Bearer <token>``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from model_core.auth import CHALLENGE, MissingToken, parse_bearer
from model_core.errors import Unauthorized


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
        return self.authenticate_credentials(token)
