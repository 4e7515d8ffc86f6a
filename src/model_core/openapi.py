"""OpenAPI 3 document for every route, generated from the route table and the manifest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import __version__
from .routes import ROUTES, Route
from .service import MAX_ABS_INPUT
from .tensors import NUMERIC_DTYPES

if TYPE_CHECKING:
    from .config import AdapterAuth, Config
    from .manifest import Manifest


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "request_id": {"type": "string"}},
    },
    "Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "Ready": {
        "type": "object",
        "required": ["ready"],
        "properties": {"ready": {"type": "boolean"}, "error": {"type": "string"}},
    },
    "ServerMetadata": {
        "type": "object",
        "required": ["name", "version", "extensions"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "release": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "TensorMetadata": {
        "type": "object",
        "required": ["name", "datatype", "shape"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "ModelMetadata": {
        "type": "object",
        "required": ["name", "versions", "platform", "inputs", "outputs"],
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _ref("TensorMetadata")},
            "outputs": {"type": "array", "items": _ref("TensorMetadata")},
        },
    },
    "ModelReady": {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
    },
    "ResponseOutput": {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
    },
    "InferResponse": {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": _ref("ResponseOutput")},
        },
    },
    "V1Models": {
        "type": "object",
        "required": ["models"],
        "properties": {"models": {"type": "array", "items": {"type": "string"}}},
    },
    "Predictions": {"type": "object", "required": ["predictions"], "properties": {"predictions": {"type": "array"}}},
}

_OK: dict[str, tuple[str, str]] = {  # route -> (description, schema)
    "live": ("the server is live", "Live"),
    "ready": ("the model is loaded and warmed up", "Ready"),
    "server_metadata": ("server metadata", "ServerMetadata"),
    "model_metadata": ("model metadata", "ModelMetadata"),
    "model_version_metadata": ("model metadata", "ModelMetadata"),
    "model_ready": ("the model is ready", "ModelReady"),
    "model_version_ready": ("the model is ready", "ModelReady"),
    "v2_infer": ("inference result", "InferResponse"),
    "v2_version_infer": ("inference result", "InferResponse"),
    "v1_list": ("served models", "V1Models"),
    "v1_model": ("model status", "ModelReady"),
    "v1_predict": ("one prediction per instance", "Predictions"),
    "invocations": ("one prediction per row", "Predictions"),
}
_REQUEST_BODY = {
    "v2_infer": "InferRequest",
    "v2_version_infer": "InferRequest",
    "v1_predict": "V1Request",
    "invocations": "InvocationsRequest",
}


def request_schemas(manifest: Manifest | None, max_batch: int) -> dict[str, Any]:
    """Request bodies exactly as the model accepts them: feature count, names, batch limit."""
    n = manifest.n_features if manifest else None
    number = {"type": "number", "minimum": -MAX_ABS_INPUT, "maximum": MAX_ABS_INPUT}
    row: dict[str, Any] = {"type": "array", "items": number}
    if n is not None:
        row.update(minItems=n, maxItems=n)
    rows = {"type": "array", "minItems": 1, "maxItems": max_batch, "items": row}
    record: dict[str, Any] = {"type": "object", "additionalProperties": number, "minProperties": 1}
    features: dict[str, Any] = {"type": "string"}
    if manifest is not None and manifest.feature_names:
        record = {
            "type": "object",
            "required": list(manifest.feature_names),
            "additionalProperties": False,
            "properties": {f: number for f in manifest.feature_names},
        }
        features = {"type": "string", "enum": list(manifest.feature_names)}
    records = {"type": "array", "minItems": 1, "maxItems": max_batch, "items": record}
    split: dict[str, Any] = {
        "type": "object",
        "required": ["data"],
        "properties": {"columns": {"type": "array", "items": features, "uniqueItems": True}, "data": rows},
    }
    if n is not None:
        split["properties"]["columns"].update(minItems=n, maxItems=n)

    def one_of(key: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: schema}}

    tensor_input: dict[str, Any] = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string", "enum": [manifest.inputs[0].name]} if manifest else {"type": "string"},
            "datatype": {"type": "string", "enum": [d for d in NUMERIC_DTYPES if d != "BOOL"]},
            "shape": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
            "parameters": {"type": "object"},
            "data": {"type": "array", "description": "row-major values, nested or flat"},
        },
    }
    output_names = [o.name for o in manifest.outputs] if manifest else []
    requested_output = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "enum": output_names} if output_names else {"type": "string"},
            "parameters": {"type": "object"},
        },
    }
    return {
        "InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": tensor_input},
                "outputs": {"type": "array", "items": requested_output},
            },
        },
        "V1Request": one_of("instances", {"oneOf": [rows, records]}),
        "InvocationsRequest": {
            "description": "exactly one of instances, inputs, dataframe_split, dataframe_records",
            "oneOf": [
                one_of("instances", {"oneOf": [rows, records]}),
                one_of("inputs", {"oneOf": [rows, records]}),
                one_of("dataframe_split", split),
                one_of("dataframe_records", records),
            ],
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


def _guard_responses(auth: str, throttled: bool) -> dict[str, Any]:
    """What a protected route may answer besides its own errors: 401 and 429."""
    responses: dict[str, Any] = {}
    if auth != "off":
        challenge = {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}}}
        responses["401"] = {**_error("missing or invalid bearer token"), "headers": challenge}
    if throttled:
        retry = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        responses["429"] = {**_error("too many requests for this token (or address, when anonymous)"), "headers": retry}
    return responses


def _operation(route: Route, auth: str, throttled: bool, manifest: Manifest | None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "responses": {}}
    responses = op["responses"]
    if route.name == "metrics":
        responses["200"] = {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    elif route.name == "openapi":
        responses["200"] = {"description": "this document", "content": _json({"type": "object"})}
    else:
        description, schema = _OK[route.name]
        responses["200"] = {"description": description, "content": _json(_ref(schema))}
    if route.params:
        op["parameters"] = [_path_parameter(p, manifest) for p in route.params]
        responses["404"] = _error("unknown model or version")
    if route.name in ("ready", "model_ready", "model_version_ready", "v1_model"):
        responses["503"] = {
            "description": "not ready",
            "content": _json(_ref("Ready" if route.name == "ready" else "ModelReady")),
        }
    if route.method == "POST":
        content = _json(_ref(_REQUEST_BODY[route.name]))
        if route.binary_ok:
            content["application/octet-stream"] = {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "binary tensor data extension: a JSON header of Inference-Header-Content-Length "
                    "bytes, then the tensors",
                }
            }
        op["requestBody"] = {"required": True, "content": content}
        responses["400"] = _error("malformed JSON, or input of the wrong shape, datatype or values")
        responses["413"] = _error("more rows than the maximum batch, or the body is too large")
        responses["415"] = _error("unsupported Content-Type")
        responses["503"] = _error("the model is not ready")
    if route.protected:
        responses.update(_guard_responses(auth, throttled))
        if auth != "off":
            # {} makes the token optional: anonymous callers are served, a wrong token is still 401.
            op["security"] = [{"bearer": []}] + ([{}] if auth == "optional" else [])
    responses["500"] = _error("unexpected error; the body carries the request id")
    return op


def _path_parameter(name: str, manifest: Manifest | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if manifest is not None:
        schema["enum"] = [manifest.name if name == "name" else manifest.version]
    return {"name": name, "in": "path", "required": True, "schema": schema}


def auth_mode(config: Config | None) -> AdapterAuth:
    """How the protected routes authenticate: off, required or optional."""
    if config is None:
        return "off"
    if config.auth_enabled:
        return "required"
    return config.adapter_auth


def build_openapi(manifest: Manifest | None, config: Config | None) -> dict[str, Any]:
    auth = auth_mode(config)
    throttled = bool(config and config.adapter_throttle)
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, auth, throttled, manifest)
    info = {"title": "stackgen model service", "version": __version__}
    if manifest is not None:
        info["description"] = (
            f"Serves model {manifest.name!r} version {manifest.version} "
            f"({manifest.n_features} features: {', '.join(manifest.feature_names)})."
        )
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": info,
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, **request_schemas(manifest, config.max_batch if config else 1024)}},
    }
    if auth != "off":
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document
