"""Open Inference Protocol (KServe V2) inference requests and responses,
including the binary tensor data extension."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BadRequest
from .jsonbody import JsonBody, rows_at
from .manifest import Manifest
from .tensors import NUMERIC_DTYPES, as_json_list, check_batch, flat_values, json_type

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_CONTENT_TYPE = "application/octet-stream"
# Plain ASCII digits: int() would also take " 12", "+12" and "1_2".
_DIGITS = re.compile(r"[0-9]{1,20}")


@dataclass
class InferRequest:
    rows: np.ndarray
    request_id: str | None
    outputs: list[tuple[str, bool]]  # (name, as binary)


def parse_json_document(raw: bytes, what: str = "body") -> Any:
    return JsonBody(raw, what).decode()


def _header_length(value: str | None, body_size: int) -> int | None:
    if value is None:
        return None
    value = value.strip(" \t")  # optional whitespace around a field value is not part of it (RFC 9110)
    if not _DIGITS.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise BadRequest(f"{HEADER_LENGTH}: expected a decimal integer, got {shown!r}")
    length = int(value)
    if not 0 < length <= body_size:
        raise BadRequest(f"{HEADER_LENGTH}: {length} is outside the body of {body_size} bytes")
    return length


def parse_infer_request(
    body: bytes, header_length: str | None, manifest: Manifest, max_rows: int | None = None
) -> InferRequest:
    """``max_rows`` is checked against the declared shape (and nested rows) before decoding."""
    length = _header_length(header_length, len(body))
    header = JsonBody(body if length is None else body[:length], "body" if length is None else "JSON header")
    # The same row checks as _input_rows, answered from the raw bytes when the body is large.
    shape = header.small_value(("inputs", 0, "shape"))
    if isinstance(shape, list) and len(shape) == 2 and all(map(_is_count, shape)) and shape[1] == manifest.n_features:
        check_batch(shape[0], max_rows, "inputs[0]")
    check_batch(header.rows(("inputs", 0, "data")), max_rows, "inputs[0]")
    document = header.decode()
    binary = b"" if length is None else body[length:]
    if not isinstance(document, dict):
        raise BadRequest(f"request body: expected a JSON object, got {json_type(document)}")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("id: expected a string")
    parameters = _parameters(document, "parameters")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("inputs: expected a non-empty array of input tensors")
    expected = manifest.inputs[0]
    if len(inputs) != 1:
        raise BadRequest(
            f"inputs: model {manifest.name} takes exactly one input ({expected.name!r}), got {len(inputs)}"
        )
    rows = _input_rows(inputs[0], "inputs[0]", manifest, binary, max_rows)
    default_binary = _flag(parameters, "binary_data_output", "parameters")
    return InferRequest(rows, request_id, _requested_outputs(document, manifest, default_binary))


def _parameters(obj: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = obj.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest(f"{where}: expected an object")
    return parameters


def _flag(parameters: dict[str, Any], key: str, where: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}.{key}: expected true or false")
    return value


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _input_rows(tensor: Any, where: str, manifest: Manifest, binary: bytes, max_rows: int | None) -> np.ndarray:
    spec = manifest.inputs[0]
    if not isinstance(tensor, dict):
        raise BadRequest(f"{where}: expected an object with name, shape, datatype and data")
    name = tensor.get("name")
    if name != spec.name:
        raise BadRequest(f"{where}.name: model {manifest.name} has no input {name!r} (expected {spec.name!r})")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in NUMERIC_DTYPES or datatype == "BOOL":
        allowed = ", ".join(k for k in NUMERIC_DTYPES if k != "BOOL")
        raise BadRequest(
            f"{where}.datatype: {datatype!r} is not accepted (expected {spec.datatype}, or one of {allowed})"
        )
    shape = tensor.get("shape")
    n = manifest.n_features
    if not isinstance(shape, list) or len(shape) != 2 or not all(_is_count(d) for d in shape):
        raise BadRequest(f"{where}.shape: expected [rows, {n}], got {_shown(shape)}")
    if shape[1] != n:
        raise BadRequest(f"{where}.shape: expected {n} features per row (shape [rows, {n}]), got {shape}")
    check_batch(shape[0], max_rows, where)  # before any per-value work on data
    if max_rows is not None and isinstance(tensor.get("data"), list) and len(tensor["data"]) > max_rows:
        check_batch(rows_at(tensor, ("data",)), max_rows, where)
    parameters = _parameters(tensor, f"{where}.parameters")
    size = parameters.get("binary_data_size")
    if size is not None:
        values = _binary_values(size, datatype, binary, where)
    else:
        if "data" not in tensor:
            raise BadRequest(f"{where}.data: missing (or send binary data with parameters.binary_data_size)")
        values = flat_values(tensor["data"], datatype, f"{where}.data")
    if values.size != shape[0] * shape[1]:
        raise BadRequest(f"{where}.data: shape {shape} needs {shape[0] * shape[1]} values, got {values.size}")
    return values.astype(np.float64).reshape(shape[0], shape[1])


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _binary_values(size: Any, datatype: str, binary: bytes, where: str) -> np.ndarray:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest(f"{where}.parameters.binary_data_size: expected a non-negative integer")
    if size != len(binary):
        raise BadRequest(
            f"{where}.parameters.binary_data_size: {size} bytes declared, {len(binary)} bytes follow the JSON header"
        )
    dtype = np.dtype(NUMERIC_DTYPES[datatype])
    if size % dtype.itemsize:
        raise BadRequest(f"{where}: {size} bytes is not a whole number of {datatype} values")
    return np.frombuffer(binary, dtype=dtype)


def _requested_outputs(document: dict[str, Any], manifest: Manifest, default_binary: bool) -> list[tuple[str, bool]]:
    known = [o.name for o in manifest.outputs]
    requested = document.get("outputs")
    if requested is None:
        return [(name, default_binary) for name in known]
    if not isinstance(requested, list):
        raise BadRequest("outputs: expected an array of requested outputs")
    chosen = []
    for i, item in enumerate(requested):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise BadRequest(f"outputs[{i}]: expected an object with a name")
        if item["name"] not in known:
            raise BadRequest(
                f"outputs[{i}].name: model {manifest.name} has no output {item['name']!r} (expected one of {known})"
            )
        params = _parameters(item, f"outputs[{i}].parameters")
        as_binary = (
            _flag(params, "binary_data", f"outputs[{i}].parameters") if "binary_data" in params else default_binary
        )
        chosen.append((item["name"], as_binary))
    return chosen


def build_infer_response(
    manifest: Manifest, request: InferRequest, results: Mapping[str, np.ndarray]
) -> tuple[bytes, dict[str, str]]:
    """Return (body, extra headers); ``results`` holds at least the outputs the request names.
    Binary outputs follow the JSON header in request order."""
    specs = {spec.name: spec for spec in manifest.outputs}
    outputs, chunks = [], []
    for name, as_binary in request.outputs:
        spec, array = specs[name], results[name]
        typed = np.ascontiguousarray(array, dtype=NUMERIC_DTYPES.get(spec.datatype, "<f8"))
        entry: dict[str, Any] = {"name": name, "datatype": spec.datatype, "shape": list(typed.shape)}
        if as_binary:
            raw = typed.tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = as_json_list(typed)
        outputs.append(entry)
    document: dict[str, Any] = {"model_name": manifest.name, "model_version": manifest.version, "outputs": outputs}
    if request.request_id is not None:
        document["id"] = request.request_id
    header = json.dumps(document, separators=(",", ":")).encode()
    if not chunks:
        return header, {"Content-Type": "application/json"}
    return header + b"".join(chunks), {"Content-Type": BINARY_CONTENT_TYPE, HEADER_LENGTH: str(len(header))}
