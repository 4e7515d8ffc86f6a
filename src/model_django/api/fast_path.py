"""The inference routes served by a middleware, ahead of sessions, CSRF, auth, messages and DRF.

Per single-row request Django's middleware chain, URL resolution and DRF's request wrapping
cost about 0.37 ms of CPU: four times the core's whole lifecycle with the prediction log
(0.09 ms). This middleware sits right after SecurityMiddleware (HTTPS redirect, its headers) and
takes only POSTs to an inference route. It checks the host as CommonMiddleware would, then does
what the DRF view does, in the same order and with the same answers: the bearer token (the same
authenticator and token cache), the anonymous rule, the throttle (the same class and cache),
the body limit, then the core. Every other request, and every method on these paths but POST,
goes down the chain untouched. tests/django/test_fast_path.py holds both paths to the same
status, body and headers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions

from model_core.inference_wsgi import inference_patterns
from model_core.routes import ROUTES

from ..service import get_api
from .auth import BearerTokenAuthentication
from .errors import core_request, database_unavailable, refusal, reply_response
from .throttles import InferenceThrottle

_ROUTES = {route.name: route for route in ROUTES}


class InferenceFastPath:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.patterns = inference_patterns()
        self.authenticator = BearerTokenAuthentication()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            for name, pattern in self.patterns:
                match = pattern.fullmatch(request.path_info)
                if match is not None:
                    request.get_host()  # ALLOWED_HOSTS: DisallowedHost is Django's 400, as on any route
                    return self.serve(name, request, match.groupdict())
        return self.get_response(request)

    def serve(self, name: str, request: HttpRequest, params: dict[str, str]) -> HttpResponse:
        api = get_api()
        route = _ROUTES[name]
        try:
            self.admit(request)
        except exceptions.APIException as exc:
            return refusal(exc, request, route.path)
        except DatabaseError as exc:  # the token lookup or the throttle's DatabaseCache
            return database_unavailable(exc, request, route.path)
        try:
            body = request.body
        except RequestDataTooBig:
            message = f"request body larger than the limit of {settings.MAX_BODY_BYTES} bytes"
            return reply_response(api.error(413, message, core_request(request), route.path))
        core = core_request(request, body)
        core.notes["user"] = request.user  # type: ignore[attr-defined]  # for the prediction log
        return reply_response(api.handle(name, core, params))

    def admit(self, request: HttpRequest) -> None:
        """Sets ``request.user`` and ``request.auth`` as DRF's initial() does, in its order: the
        token, then whether anonymous callers are allowed, then the throttle. Raises DRF's
        exceptions for a refusal."""
        found = self.authenticator.authenticate(request)  # AuthenticationFailed for a bad token
        user, token = found if found is not None else (None, None)
        if user is None and not settings.ALLOW_ANONYMOUS_INFERENCE:
            raise exceptions.NotAuthenticated()
        # The throttle reads the caller off the request, as it does off DRF's.
        request.user, request.auth = (user, token) if user is not None else (AnonymousUser(), None)  # type: ignore[attr-defined]
        throttle = InferenceThrottle()
        if not throttle.allow_request(request, None):
            raise exceptions.Throttled(throttle.wait())
