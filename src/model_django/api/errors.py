"""JSON errors shaped like the core's: {"error": "..."}, for DRF and Django's own failures."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from model_core.auth import CHALLENGE, INVALID, MISSING
from model_core.inference_wsgi import header_lookup
from model_core.messages import ApiRequest, ApiResponse

from ..database import drop_connection, first_line
from ..service import get_api
from .throttles import client_address

error_log = logging.getLogger("stackgen.error")
DATABASE_UNAVAILABLE = "database unavailable; retry later"
# The core's messages: DRF's own ("Invalid token.", "User inactive or deleted.") say no more.
_MESSAGES = {exceptions.NotAuthenticated: MISSING, exceptions.AuthenticationFailed: INVALID}


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    # Like every other answer: the core's JSON bytes, request id and release headers, one
    # access-log line, metrics.
    request = context["request"]
    route = context.get("route") or getattr(getattr(context.get("view"), "route", None), "path", "unmatched")
    if isinstance(exc, DatabaseError):
        # Token lookup and the throttle's DatabaseCache run in DRF's initial(): a lost database
        # there is an outage to retry after, not a bug (500).
        return database_unavailable(exc, request, route)
    drf_response = exception_handler(exc, context)
    if drf_response is None:
        return None  # unexpected: Django's 500 handler answers (JSON, see server_error)
    reply = get_api().error(drf_response.status_code, _message(exc, context), core_request(request), route)
    response = reply_response(reply)
    for key in ("WWW-Authenticate", "Retry-After"):  # what DRF's handler derived from the exception
        if key in drf_response:
            response[key] = drf_response[key]
    return response


def refusal(exc: exceptions.APIException, request: HttpRequest, route: str) -> HttpResponse:
    """What the DRF view answers for ``exc`` raised in its initial() (a 401 or a 429), for the
    inference fast path, which raises the same exceptions outside a DRF view."""
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc.auth_header = CHALLENGE  # type: ignore[attr-defined]  # as APIView.handle_exception does
    response = json_exception_handler(exc, {"request": request, "route": route})
    assert response is not None  # an APIException always has DRF's answer
    return response


def database_unavailable(exc: DatabaseError, request: HttpRequest, route: str) -> HttpResponse:
    message = _database_lost(exc)
    return reply_response(get_api().error(503, message, core_request(request), route))


def _database_lost(exc: DatabaseError) -> str:
    error_log.error("database unavailable: %s", first_line(exc))
    drop_connection()
    return DATABASE_UNAVAILABLE


def reply_response(reply: ApiResponse) -> HttpResponse:
    """The core's answer as Django's response, with its length (the fast path passes no
    CommonMiddleware that would add it)."""
    response = HttpResponse(reply.body, status=reply.status)
    for key, value in reply.headers.items():
        response[key] = value
    response["Content-Length"] = str(len(reply.body))
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


def core_request(request: HttpRequest, body: bytes = b"") -> ApiRequest:
    """The core's view of a Django (or DRF) request."""
    return ApiRequest(
        method=request.method or "GET",
        path=request.path,
        headers=header_lookup(request.META),  # request.headers would build a mapping of every header
        body=body,
        remote_addr=client_address(request),
    )


def _plain(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return reply_response(get_api().error(status, message, core_request(request)))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _plain(request, 404, f"no such route: {request.path}")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _plain(request, 400, "bad request")


def server_error(request: HttpRequest) -> HttpResponse:
    return _plain(request, 500, "internal server error")
