"""The inference routes served straight from the core, in front of a framework's WSGI app.

Per single-row request the framework's own machinery (request and response objects, URL map,
contexts, signals) cost more CPU than the core's whole request lifecycle. This middleware takes
only the requests it can serve exactly as the framework would: a POST to an inference route with
a plain ASCII path and a Content-Length within the body limit. It hands them to
``ModelAPI.handle`` (auth, content type, dispatch, metrics, the access line: the same lifecycle)
and passes every other request through untouched, so the framework keeps its answers for the
rest (404, 405, 413, chunked bodies, odd paths). tests/unit/test_inference_wsgi.py holds the two
paths to the same status, headers and body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from .api import ModelAPI
from .messages import ApiRequest
from .routes import ROUTES, SEGMENT_REGEX

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Content-Length digits beyond this are no body any limit allows (and int() has a digit limit).
_MAX_LENGTH_DIGITS = 18
# Header names the WSGI environ keeps without the HTTP_ prefix (PEP 3333).
_UNPREFIXED = {"CONTENT_TYPE", "CONTENT_LENGTH"}


def inference_patterns() -> list[tuple[str, re.Pattern[str]]]:
    """(route name, full-path regex) of each POST route; the Django adapter's fast path uses them too."""
    patterns = []
    for route in ROUTES:
        if route.method == "POST":
            regex = re.escape(route.path).replace(r"\{", "{").replace(r"\}", "}")
            regex = re.sub(r"{(\w+)}", lambda m: f"(?P<{m.group(1)}>{SEGMENT_REGEX})", regex)
            patterns.append((route.name, re.compile(regex)))
    return patterns


class InferenceRoutes:
    """WSGI middleware: ``InferenceRoutes(api, framework_app, max_body_bytes, status_line)``;
    ``status_line(code)`` gives the framework's own status line ("200 OK"), since reason phrases
    differ between frameworks and Python versions (413)."""

    def __init__(self, api: ModelAPI, app: WSGIApp, max_body_bytes: int, status_line: Callable[[int], str]) -> None:
        self.api = api
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.status_line = status_line
        self._patterns = inference_patterns()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        taken = self._take(environ)
        if taken is None:
            return self.app(environ, start_response)
        route_name, params, length = taken
        request = ApiRequest(
            method="POST",
            path=environ["PATH_INFO"],
            headers=header_lookup(environ),
            body=environ["wsgi.input"].read(length) if length else b"",
            remote_addr=environ.get("REMOTE_ADDR"),
        )
        reply = self.api.handle(route_name, request, params)
        headers = [*reply.headers.items(), ("Content-Length", str(len(reply.body)))]
        start_response(self.status_line(reply.status), headers)
        return [reply.body]

    def _take(self, environ: dict[str, Any]) -> tuple[str, dict[str, str], int] | None:
        """(route name, path parameters, body length) when this request is ours, else None."""
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("SCRIPT_NAME"):
            return None
        path = environ.get("PATH_INFO", "")
        if not path.isascii():  # the framework decodes percent-escapes and UTF-8 its own way
            return None
        raw_length = environ.get("CONTENT_LENGTH", "")
        plain = raw_length.isascii() and raw_length.isdigit() and len(raw_length) <= _MAX_LENGTH_DIGITS
        if not plain or int(raw_length) > self.max_body_bytes or "HTTP_TRANSFER_ENCODING" in environ:
            return None  # chunked, malformed or too large: the framework's answer
        for name, pattern in self._patterns:
            match = pattern.fullmatch(path)
            if match is not None:
                return name, match.groupdict(), int(raw_length)
        return None


def header_lookup(environ: dict[str, Any]) -> Callable[[str], str | None]:
    """Case-insensitive header lookup straight off a WSGI environ (or Django's ``request.META``)."""

    def lookup(name: str) -> str | None:
        key = name.upper().replace("-", "_")
        return environ.get(key if key in _UNPREFIXED else "HTTP_" + key)

    return lookup
