"""The one route table. Adapters turn each path into their own URL syntax;
the OpenAPI document is generated from the same table."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A path parameter: one segment without ':', so /v1/models/<name>:predict never matches
# /v1/models/<name>. Every adapter's converter uses it.
SEGMENT_REGEX = r"[^/:]+"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str  # OpenAPI style: /v2/models/{name}/infer
    protected: bool = False  # needs a bearer token when auth is on
    binary_ok: bool = False  # accepts the V2 binary tensor extension

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def formatted(self, template: str) -> str:
        """Rewrite ``{param}`` with ``template`` (e.g. "<{}>" for Flask, "<str:{}>" for Django)."""
        return re.sub(r"{(\w+)}", lambda m: template.format(m.group(1)), self.path)


ROUTES: tuple[Route, ...] = (
    Route("live", "GET", "/v2/health/live"),
    Route("ready", "GET", "/v2/health/ready"),
    Route("server_metadata", "GET", "/v2"),
    Route("model_metadata", "GET", "/v2/models/{name}"),
    Route("model_version_metadata", "GET", "/v2/models/{name}/versions/{version}"),
    Route("model_ready", "GET", "/v2/models/{name}/ready"),
    Route("model_version_ready", "GET", "/v2/models/{name}/versions/{version}/ready"),
    Route("v2_infer", "POST", "/v2/models/{name}/infer", protected=True, binary_ok=True),
    Route("v2_version_infer", "POST", "/v2/models/{name}/versions/{version}/infer", protected=True, binary_ok=True),
    Route("v1_list", "GET", "/v1/models"),
    Route("v1_model", "GET", "/v1/models/{name}"),
    Route("v1_predict", "POST", "/v1/models/{name}:predict", protected=True),
    Route("invocations", "POST", "/invocations", protected=True),
    Route("metrics", "GET", "/metrics"),
    Route("openapi", "GET", "/openapi.json"),
)

BY_NAME = {route.name: route for route in ROUTES}
