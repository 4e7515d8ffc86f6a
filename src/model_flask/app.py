"""Build the Flask app: one view per core route, JSON for every error."""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from model_core import jsonlog
from model_core.api import ModelAPI
from model_core.config import Config
from model_core.inference_wsgi import InferenceRoutes
from model_core.messages import ApiRequest, ApiResponse
from model_core.metrics import UNMATCHED
from model_core.routes import BY_NAME, ROUTES, SEGMENT_REGEX, Route

_MESSAGES = {
    404: "no such route: {path}",
    405: "method {method} is not allowed for {path}",
    413: "request body larger than the limit of {limit} bytes",
}


class SegmentConverter(BaseConverter):
    """A path segment without ':' so that /v1/models/<name>:predict never matches /v1/models/<name>."""

    regex = SEGMENT_REGEX


def _api_request() -> ApiRequest:
    return ApiRequest(
        method=request.method,
        path=request.path,
        headers=request.headers.get,
        body=request.get_data(cache=False),
        remote_addr=request.remote_addr,
    )


def _to_flask(reply: ApiResponse) -> Response:
    return Response(reply.body, status=reply.status, headers=reply.headers)


def _view(api: ModelAPI, route: Route) -> Any:
    def view(**params: str) -> Response:
        return _to_flask(api.handle(route.name, _api_request(), params))

    view.__name__ = route.name
    return view


def create_app(config: Config | None = None, api: ModelAPI | None = None) -> Flask:
    """Create the app; with no arguments, read STACKGEN_* variables and load the model."""
    config = config or Config.from_env()
    jsonlog.configure(config.log_level)
    api = api or ModelAPI(config)
    app = Flask("model_flask")
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.url_map.converters["segment"] = SegmentConverter
    app.extensions["stackgen_api"] = api
    for route in ROUTES:
        app.add_url_rule(
            route.formatted("<segment:{}>"),
            endpoint=route.name,
            view_func=_view(api, route),
            methods=[route.method],
            provide_automatic_options=False,
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        template = _MESSAGES.get(status, exc.description or exc.name)
        message = template.format(path=request.path, method=request.method, limit=config.max_body_bytes)
        reply = api.error(status, message, _api_request_without_body(), _route_template(app, exc))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            reply.headers["Allow"] = ", ".join(exc.valid_methods)
        return _to_flask(reply)

    # The inference routes skip Flask's request machinery (model_core.inference_wsgi); ProxyFix
    # still wraps them, so their access lines name the client the proxies report.
    app.wsgi_app = InferenceRoutes(  # type: ignore[method-assign]
        api, app.wsgi_app, config.max_body_bytes, _status_line
    )
    if config.proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=config.proxy_hops,
            x_proto=config.proxy_hops,  # type: ignore[method-assign]
            x_host=config.proxy_hops,
            x_port=config.proxy_hops,
        )
    api.start()
    app.stackgen_after_fork = api.service.reload_after_fork  # type: ignore[attr-defined]
    return app


@functools.cache  # a handful of statuses; building a Response per request would cost more
def _status_line(status: int) -> str:
    # werkzeug's own status line (upper case, its reason phrases), as a Flask Response sends it.
    return Response(status=status).status


def _route_template(app: Flask, exc: HTTPException) -> str:
    """The route-table path a rejected request belongs to (405: its path exists under another
    method; 413: raised inside the view), like Django's labels; else "unmatched"."""
    rule = request.url_rule
    if rule is None and isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        try:
            adapter = app.url_map.bind_to_environ(request.environ)
            rule, _ = adapter.match(method=exc.valid_methods[0], return_rule=True)
        except HTTPException:  # e.g. a redirect: nothing to label it by
            rule = None
    route = BY_NAME.get(rule.endpoint) if rule is not None else None
    return route.path if route is not None else UNMATCHED


def _api_request_without_body() -> ApiRequest:
    # Reading the body of a rejected request could itself raise (too large).
    return ApiRequest(
        method=request.method, path=request.path, headers=request.headers.get, remote_addr=request.remote_addr
    )
