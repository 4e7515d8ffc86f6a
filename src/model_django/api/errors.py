"""JSON errors shaped like the core's: {"error": "..."}, for DRF and Django's own failures."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from model_core.auth import INVALID, MISSING
from model_core.messages import ApiRequest

from ..database import drop_connection, first_line
from ..service import get_api
from .throttles import client_address

error_log = logging.getLogger("stackgen.error")
DATABASE_UNAVAILABLE = "database unavailable; retry later"
# The core's messages: DRF's own ("Invalid token.", "User inactive or deleted.") say no more.
_MESSAGES = {exceptions.NotAuthenticated: MISSING, exceptions.AuthenticationFailed: INVALID}


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DatabaseError):
        # Token lookup and the throttle's DatabaseCache run in DRF's initial(): a lost database
        # there is an outage to retry after, not a bug (500).
        error_log.error("database unavailable: %s", first_line(exc))
        drop_connection()
        response, message = Response(status=503), DATABASE_UNAVAILABLE
    else:
        drf_response = exception_handler(exc, context)
        if drf_response is None:
            return None  # unexpected: Django's 500 handler answers (JSON, see server_error)
        response, message = drf_response, _message(exc, context)
    response.data = {"error": message}
    # Like every other answer: request id and release headers, one access-log line, metrics.
    request = context["request"]
    view = context.get("view")
    route = getattr(getattr(view, "route", None), "path", "unmatched")
    reply = get_api().error(response.status_code, message, _core_request(request), route)
    for key, value in reply.headers.items():
        if key != "Content-Type":
            response[key] = value
    return response


def _message(exc: Exception, context: dict[str, Any]) -> str:
    message = _MESSAGES.get(type(exc))
    if message is None and isinstance(exc, exceptions.Throttled):
        message = f"too many requests; retry in {exc.wait:.0f} s" if exc.wait else "too many requests"
    if message is None and isinstance(exc, exceptions.MethodNotAllowed):
        request = context["request"]
        message = f"method {request.method} is not allowed for {request.path}"
    if message is None:
        detail = getattr(exc, "detail", str(exc))
        message = detail if isinstance(detail, str) else str(detail)
    return str(message)


def _core_request(request: HttpRequest) -> ApiRequest:
    return ApiRequest(
        method=request.method or "GET",
        path=request.path,
        headers=request.headers.get,
        remote_addr=client_address(request),
    )


def _plain(request: HttpRequest, status: int, message: str) -> HttpResponse:
    reply = get_api().error(status, message, _core_request(request))
    response = HttpResponse(reply.body, status=reply.status)
    for key, value in reply.headers.items():
        response[key] = value
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _plain(request, 404, f"no such route: {request.path}")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _plain(request, 400, "bad request")


def server_error(request: HttpRequest) -> HttpResponse:
    return _plain(request, 500, "internal server error")
