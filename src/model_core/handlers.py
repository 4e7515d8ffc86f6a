"""The route handlers: one ``on_<route name>`` method per entry of the route table.

Mixed into :class:`model_core.api.ModelAPI`, which owns the service, config and
metrics these methods use and wraps every call in the request lifecycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import ArtifactError, NotFound, NotReady
from .jsonbody import JsonBody, JsonPath, rows_at
from .manifest import Manifest
from .messages import ApiRequest, ApiResponse, InferenceObserver, ReadyCheck, json_response
from .openapi import build_openapi
from .tensors import check_batch
from .v1 import MLFLOW_ROWS, V1_ROWS, parse_mlflow, parse_v1
from .v2 import HEADER_LENGTH, build_infer_response, parse_infer_request

if TYPE_CHECKING:
    from .config import Config
    from .metrics import Metrics
    from .service import ModelService


class Handlers:
    config: Config
    service: ModelService
    metrics: Metrics
    ready_checks: Sequence[ReadyCheck]
    observer: InferenceObserver | None

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
        if not self.service.ready:
            error = f"model is not ready: {self.service.error or 'loading'}"
            return json_response(503, {"ready": False, "error": error})
        # A host that cannot reach what inference needs must leave the load balancer's rotation too.
        for check in self.ready_checks:
            failure = check()
            if failure is not None:
                return json_response(503, {"ready": False, "error": failure})
        return json_response(200, {"ready": True})

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
        with self.service.announce():
            parsed = parse_infer_request(request.body, request.headers(HEADER_LENGTH), manifest, self.service.max_batch)
            parsed.rows = self.service.validate_rows(parsed.rows, "inputs[0]")
            first = manifest.outputs[0].name
            wanted = list(dict.fromkeys(output for output, _ in parsed.outputs))
            # The observer (Django's prediction log) records the first output, asked for or not.
            if self.observer is not None and first not in wanted:
                wanted.append(first)
            results = dict(zip(wanted, self.service.predict(parsed.rows, wanted), strict=True))
        if first in results:
            request.notes["predictions"] = results[first].tolist()
        body, headers = build_infer_response(manifest, parsed, results)
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
        with self.service.announce():
            document = self._decode_batch(request.body, V1_ROWS, "instances")
            rows = self.service.validate_rows(parse_v1(document, manifest), "instances")
            predictions = self._predictions(request, manifest, rows)
        return json_response(200, {"predictions": predictions})

    def on_invocations(self, request: ApiRequest) -> ApiResponse:
        manifest = self._manifest(self.service.read_manifest().name)
        self.service.require_ready()
        with self.service.announce():
            document = self._decode_batch(request.body, MLFLOW_ROWS, "inputs")
            rows = self.service.validate_rows(parse_mlflow(document, manifest), "inputs")
            predictions = self._predictions(request, manifest, rows)
        return json_response(200, {"predictions": predictions})

    def _decode_batch(self, body: bytes, row_paths: Sequence[JsonPath], field: str) -> Any:
        """Decode a body whose rows sit at one of ``row_paths``, refusing too many rows before
        decoding when the raw bytes tell, else before any per-row work."""
        raw = JsonBody(body)
        for path in row_paths:
            check_batch(raw.rows(path), self.service.max_batch, field)
        document = raw.decode()
        for path in row_paths:
            check_batch(rows_at(document, path), self.service.max_batch, field)
        return document

    def _predictions(self, request: ApiRequest, manifest: Manifest, rows: Any) -> list[Any]:
        # V1 and MLflow clients expect one prediction per row: the first manifest output, alone.
        predictions = self.service.predict(rows, [manifest.outputs[0].name])[0].tolist()
        request.notes["predictions"] = predictions
        return predictions

    # -- handlers: operations ------------------------------------------------------------
    def on_metrics(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(200, self.metrics.render(), {"Content-Type": self.metrics.content_type})

    def on_openapi(self, request: ApiRequest) -> ApiResponse:
        try:
            manifest: Manifest | None = self.service.read_manifest()
        except ArtifactError:
            manifest = None
        return json_response(200, build_openapi(manifest, self.config))
