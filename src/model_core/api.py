"""The whole request lifecycle, framework-free: request id, auth, content type,
dispatch, JSON errors, metrics and the access log. Adapters build an
ApiRequest, call ``ModelAPI.handle`` and copy the ApiResponse out."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from .auth import CHALLENGE, check_bearer
from .config import Config
from .errors import ApiError, ArtifactError, Unauthorized, UnsupportedMediaType
from .handlers import Handlers
from .messages import (
    JSON,
    ApiRequest,
    ApiResponse,
    InferenceObserver,
    InferenceRecord,
    ReadyCheck,
    json_response,
)
from .metrics import UNMATCHED, Metrics
from .routes import BY_NAME, Route
from .service import ModelService

access_log = logging.getLogger("stackgen.access")
error_log = logging.getLogger("stackgen.error")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# What an observer_required failure answers; the one required observer is Django's database log.
UNRECORDED = "the prediction could not be recorded (database unavailable); retry later"


class ModelAPI(Handlers):
    def __init__(
        self,
        config: Config,
        service: ModelService | None = None,
        metrics: Metrics | None = None,
        observer: InferenceObserver | None = None,
        ready_checks: Sequence[ReadyCheck] = (),
        observer_required: bool = False,
    ) -> None:
        """``ready_checks`` join the model in /v2/health/ready. With ``observer_required``, an
        answer the observer failed to record is replaced by a 503 (Django: every answered
        prediction is in the log); otherwise the failure is only logged."""
        self.config = config
        self.observer = observer
        self.observer_required = observer_required
        self.ready_checks = tuple(ready_checks)
        self.service = service or ModelService.from_config(config)
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
            if isinstance(exc, Unauthorized):  # RFC 9110 §15.5.2: a 401 names its scheme
                response.headers["WWW-Authenticate"] = CHALLENGE
        except Exception:
            error_log.exception("unhandled error", extra={"fields": {"request_id": request_id, "route": route.path}})
            response = json_response(500, {"error": "internal server error", "request_id": request_id})
        finally:
            self.metrics.in_flight.dec()
        if route.protected and self.observer is not None:
            recorded = self._observe(route, request, response, request_id, started)
            # Only a successful answer is withheld: an error carries no prediction, and retrying
            # it would fail the same way once the observer works again.
            if not recorded and self.observer_required and response.status < 400:
                response = json_response(503, {"error": UNRECORDED, "request_id": request_id})
        return self.finish(route.path, request, response, request_id, started)

    def _observe(
        self, route: Route, request: ApiRequest, response: ApiResponse, request_id: str, started: float
    ) -> bool:
        """Hand the record to the observer; False when it failed (already logged)."""
        manifest = self.service.manifest
        record = InferenceRecord(
            request_id=request_id,
            route=route.path,
            model_name=manifest.name if manifest else None,
            model_version=manifest.version if manifest else None,
            input_digest=hashlib.sha256(request.body).hexdigest(),
            predictions=request.notes.get("predictions"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            status=response.status,
        )
        try:
            assert self.observer is not None
            self.observer(record, request)
        except Exception:  # never a 500: the caller decides whether the answer still stands
            error_log.exception("inference observer failed", extra={"fields": {"request_id": request_id}})
            return False
        return True

    def error(self, status: int, message: str, request: ApiRequest, route: str = UNMATCHED) -> ApiResponse:
        """For requests the framework's router rejected (404, 405, body too large). ``route`` is
        a route-table template (``Route.path``), never the request's own path."""
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
        if access_log.isEnabledFor(logging.INFO):
            fields = {
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status,
                "duration_ms": round(elapsed * 1000, 3),
                "bytes": len(response.body),
                "remote_addr": request.remote_addr,
            }
            # makeRecord + handle rather than info(): one line per request should not pay for
            # logging's stack walk to find the caller, which no formatter here prints.
            access_log.handle(
                access_log.makeRecord(
                    access_log.name, logging.INFO, __file__, 0, "request", (), None, extra={"fields": fields}
                )
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
