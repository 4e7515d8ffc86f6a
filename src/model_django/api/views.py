"""One DRF view per core route; DRF authenticates and throttles, the core does the rest.

POSTs to the inference routes are answered before they get here, by the same steps in
fast_path.py; these views answer them only where that middleware is not installed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from model_core.routes import ROUTES, Route

from ..service import get_api
from .errors import core_request, reply_response
from .throttles import InferenceThrottle

_JSON_RENDERER = JSONRenderer()


class CoreView(APIView):
    route: Route

    def get_permissions(self) -> list[BasePermission]:
        if self.route.protected and not settings.ALLOW_ANONYMOUS_INFERENCE:
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_throttles(self) -> list[Any]:
        return [InferenceThrottle()] if self.route.protected else []

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[Any, str]:
        # Every answer is JSON whatever the Accept header says, as in the Flask service; DRF's
        # negotiation would parse Accept on each request only to refuse some clients a 406.
        return _JSON_RENDERER, _JSON_RENDERER.media_type

    def get_authenticators(self) -> list[Any]:
        # Open routes (health, metadata, metrics) ignore credentials entirely.
        return super().get_authenticators() if self.route.protected else []

    def handle_core(self, request: Request, **params: str) -> HttpResponse:
        api = get_api()
        django_request = request._request
        try:
            body = django_request.body
        except RequestDataTooBig:
            reply = api.error(
                413,
                f"request body larger than the limit of {settings.MAX_BODY_BYTES} bytes",
                core_request(request),
                self.route.path,
            )
        else:
            core = core_request(request, body)
            core.notes["user"] = request.user  # for the prediction log
            reply = api.handle(self.route.name, core, params)
        return reply_response(reply)


def view_for(route: Route) -> Any:
    method = route.method.lower()
    attrs = {
        "route": route,
        method: CoreView.handle_core,
        "__doc__": f"{route.method} {route.path}",
        # As Flask: DRF would answer OPTIONS itself (200, the view's description) outside the
        # core, with no request id, access-log line or metric; now it is a 405 like any other.
        "http_method_names": [method, "head"] if method == "get" else [method],
    }
    return type(f"{route.name.title().replace('_', '')}View", (CoreView,), attrs).as_view()


VIEWS = {route.name: view_for(route) for route in ROUTES}
