"""The whole request lifecycle, framework-free: request id, auth, content type,
dispatch, JSON errors, metrics and the access log. Adapters build an
ApiRequest, call ``ModelAPI.handle`` and copy the ApiResponse out."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .auth import check_bearer
from .config import Config
from .errors import ApiError, ArtifactError, NotFound, NotReady, UnsupportedMediaType
from .manifest import Manifest
from .metrics import Metrics
from .openapi import build_openapi
from .routes import BY_NAME, Route
from .service import ModelService
from .v1 import parse_mlflow, parse_v1
from .v2 import HEADER_LENGTH, build_infer_response, parse_infer_request, parse_json_document

access_log = logging.getLogger("stackgen.access")
error_log = logging.getLogger("stackgen.error")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
JSON = "application/json"


@dataclass
class ApiRequest:
    method: str
    path: str
    headers: Callable[[str], str | None]  # case-insensitive header lookup
    body: bytes = b""
    remote_addr: str | None = None


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})


def json_response(status: int, document: Any) -> ApiResponse:
    return ApiResponse(status, json.dumps(document, separators=(",", ":")).encode() + b"\n")


class ModelAPI:
    def __init__(self, config: Config, service: ModelService | None = None, metrics: Metrics | None = None) -> None:
        self.config = config
        self.service = service or ModelService(config.model_dir, config.max_batch, config.release_id)
        self.metrics = metrics or Metrics()

    # -- start-up ------------------------------------------------------------------
    def start(self) -> None:
        """Load the model as configured: now (raising on failure), in the background, or not at all."""
        try:
            self.service.read_manifest()
        except ArtifactError as exc:
            error_log.error("model manifest unusable: %s", exc)
            if self.config.load_mode == "sync":
                raise
            return
        if self.config.load_mode == "sync":
            self.load()
        elif self.config.load_mode == "background":
            threading.Thread(target=self._load_quietly, name="model-loader", daemon=True).start()

    def load(self) -> None:
        self.service.load()
        m = self.service.manifest
        assert m is not None and self.service.load_seconds is not None
        self.metrics.model_loaded(m.name, m.version, m.loader, self.service.release_id, self.service.load_seconds)

    def _load_quietly(self) -> None:
        # Already logged by the service; readiness simply stays false.
        with contextlib.suppress(ArtifactError):
            self.load()

    # -- request lifecycle -----------------------------------------------------------
    def handle(self, route_name: str, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        route = BY_NAME[route_name]
        started = time.perf_counter()
        request_id = self.request_id(request)
        self.metrics.in_flight.inc()
        try:
            response = self._dispatch(route, request, params)
        except ApiError as exc:
            response = json_response(exc.status, {"error": exc.message})
        except Exception:
            error_log.exception("unhandled error", extra={"fields": {"request_id": request_id, "route": route.path}})
            response = json_response(500, {"error": "internal server error", "request_id": request_id})
        finally:
            self.metrics.in_flight.dec()
        return self.finish(route.path, request, response, request_id, started)

    def error(self, status: int, message: str, request: ApiRequest, route: str = "unmatched") -> ApiResponse:
        """For requests the framework's router rejected (404, 405, body too large)."""
        started = time.perf_counter()
        return self.finish(route, request, json_response(status, {"error": message}), self.request_id(request), started)

    def request_id(self, request: ApiRequest) -> str:
        offered = request.headers("X-Request-ID")
        return offered if offered and _REQUEST_ID.match(offered) else uuid.uuid4().hex

    def finish(
        self, route: str, request: ApiRequest, response: ApiResponse, request_id: str, started: float
    ) -> ApiResponse:
        elapsed = time.perf_counter() - started
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Release-Id"] = self.service.release_id or "unknown"
        self.metrics.observe(route, request.method, response.status, elapsed)
        access_log.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": response.status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "bytes": len(response.body),
                    "remote_addr": request.remote_addr,
                }
            },
        )
        return response

    def _dispatch(self, route: Route, request: ApiRequest, params: dict[str, str]) -> ApiResponse:
        if route.protected and self.config.auth_enabled:
            check_bearer(request.headers("Authorization"), self.config.api_tokens)
        if route.method == "POST":
            self._check_content_type(route, request)
        handler: Callable[..., ApiResponse] = getattr(self, "on_" + route.name)
        return handler(request, **params)

    def _check_content_type(self, route: Route, request: ApiRequest) -> None:
        content_type = (request.headers("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in ("", JSON) or (content_type.startswith("application/") and content_type.endswith("+json")):
            return
        if route.binary_ok and content_type == "application/octet-stream":
            return
        allowed = "application/json or application/octet-stream" if route.binary_ok else JSON
        raise UnsupportedMediaType(f"Content-Type {content_type!r} is not supported (expected {allowed})")

    # -- model lookup ------------------------------------------------------------------
    def _manifest(self, name: str, version: str | None = None) -> Manifest:
        try:
            manifest = self.service.read_manifest()
        except ArtifactError as exc:
            raise NotReady(f"model is not available: {exc}") from None
        if name != manifest.name:
            raise NotFound(f"model {name!r} not found (served: {manifest.name!r})")
        if version is not None and version != manifest.version:
            raise NotFound(f"model {name!r} has no version {version!r} (available: {manifest.version!r})")
        return manifest

    # -- handlers: health and metadata ---------------------------------------------------
    def on_live(self, request: ApiRequest) -> ApiResponse:
        return json_response(200, {"live": True})

    def on_ready(self, request: ApiRequest) -> ApiResponse:
        if self.service.ready:
            return json_response(200, {"ready": True})
        return json_response(503, {"ready": False, "error": f"model is not ready: {self.service.error or 'loading'}"})

    def on_server_metadata(self, request: ApiRequest) -> ApiResponse:
        return json_response(
            200,
            {
                "name": "stackgen",
                "version": __version__,
                "extensions": ["binary_tensor_data"],
                "release": self.service.release_id or "unknown",
            },
        )

    def on_model_metadata(self, request: ApiRequest, name: str, version: str | None = None) -> ApiResponse:
        m = self._manifest(name, version)
        return json_response(
            200,
            {
                "name": m.name,
                "versions": [m.version],
                "platform": m.loader,
                "inputs": [t.public() for t in m.inputs],
                "outputs": [t.public() for t in m.outputs],
            },
        )

    def on_model_version_metadata(self, request: ApiRequest, name: str, version: str) -> ApiResponse:
        return self.on_model_metadata(request, name, version)

    def on_model_ready(self, request: ApiRequest, name: str, version: str | None = None) -> ApiResponse:
        self._manifest(name, version)
        ready = self.service.ready
        return json_response(200 if ready else 503, {"name": name, "ready": ready})

    def on_model_version_ready(self, request: ApiRequest, name: str, version: str) -> ApiResponse:
        return self.on_model_ready(request, name, version)

    # -- handlers: inference -------------------------------------------------------------
    def on_v2_infer(self, request: ApiRequest, name: str, version: str | None = None) -> ApiResponse:
        manifest = self._manifest(name, version)
        self.service.require_ready()
        parsed = parse_infer_request(request.body, request.headers(HEADER_LENGTH), manifest)
        parsed.rows = self.service.validate_rows(parsed.rows, "inputs[0]")
        body, headers = build_infer_response(manifest, parsed, self.service.predict(parsed.rows))
        return ApiResponse(200, body, headers)

    def on_v2_version_infer(self, request: ApiRequest, name: str, version: str) -> ApiResponse:
        return self.on_v2_infer(request, name, version)

    def on_v1_list(self, request: ApiRequest) -> ApiResponse:
        try:
            names = [self.service.read_manifest().name]
        except ArtifactError:
            names = []
        return json_response(200, {"models": names})

    def on_v1_model(self, request: ApiRequest, name: str) -> ApiResponse:
        self._manifest(name)
        return json_response(200, {"name": name, "ready": self.service.ready})

    def on_v1_predict(self, request: ApiRequest, name: str) -> ApiResponse:
        manifest = self._manifest(name)
        self.service.require_ready()
        rows = self.service.validate_rows(parse_v1(parse_json_document(request.body), manifest), "instances")
        return json_response(200, {"predictions": self._predictions(rows)})

    def on_invocations(self, request: ApiRequest) -> ApiResponse:
        manifest = self._manifest(self.service.read_manifest().name)
        self.service.require_ready()
        rows = self.service.validate_rows(parse_mlflow(parse_json_document(request.body), manifest), "inputs")
        return json_response(200, {"predictions": self._predictions(rows)})

    def _predictions(self, rows: Any) -> list[Any]:
        # V1 and MLflow clients expect one prediction per row: the first manifest output.
        return self.service.predict(rows)[0].tolist()

    # -- handlers: operations ------------------------------------------------------------
    def on_metrics(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(200, self.metrics.render(), {"Content-Type": self.metrics.content_type})

    def on_openapi(self, request: ApiRequest) -> ApiResponse:
        try:
            manifest: Manifest | None = self.service.read_manifest()
        except ArtifactError:
            manifest = None
        return json_response(200, build_openapi(manifest, self.config))
