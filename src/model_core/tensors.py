"""Turning client payloads into float rows, with errors that name the field."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BadRequest, PayloadTooLarge

NUMERIC_DTYPES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_NUMPY_TO_V2 = {np.dtype(v).str: k for k, v in NUMERIC_DTYPES.items()}
# numpy refuses more than 64 dimensions with a bare ValueError; bodies nest at most
# jsonbody.MAX_DEPTH levels, so this only guards callers that skip the body's decoder.
MAX_DIMENSIONS = 32


def check_batch(rows: int | None, limit: int | None, field: str) -> None:
    """The row limit, checked wherever the row count is first known (None: not known yet)."""
    if rows is not None and limit is not None and rows > limit:
        raise PayloadTooLarge(f"{field}: {rows} rows exceed the maximum batch of {limit}")


def v2_datatype(array: np.ndarray) -> str:
    if array.dtype == np.bool_:
        return "BOOL"
    try:
        return _NUMPY_TO_V2[array.dtype.newbyteorder("<").str]
    except KeyError:
        return "BYTES"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def rows_from_json(data: Any, field: str) -> np.ndarray:
    """Nested lists of numbers → float64 array; anything ragged or non-numeric is a 400."""
    if not isinstance(data, list):
        raise BadRequest(f"{field}: expected a list of rows, got {type(data).__name__}")
    dimensions, first = 1, data
    while first and isinstance(first[0], list):
        dimensions, first = dimensions + 1, first[0]
    if dimensions > MAX_DIMENSIONS:
        raise BadRequest(f"{field}: {dimensions} dimensions exceed the limit of {MAX_DIMENSIONS}")
    _check_rectangular(data, field)
    try:
        return np.asarray(data, dtype=np.float64)
    except OverflowError:  # an integer beyond float64, e.g. 10**400
        raise BadRequest(f"{field}: a value is out of range for float64") from None


def _check_rectangular(data: list[Any], field: str) -> None:
    # Walk once so that ragged or mixed input fails with a message, not a numpy error. Siblings
    # are compared for a precise message; the per-depth records also catch cousins that differ
    # ([[1], [[2]]] or [[[]], [[1]]]), which numpy refuses with a bare ValueError.
    stack: list[tuple[list[Any], str, int]] = [(data, field, 0)]
    lengths: dict[int, int] = {}
    nested: dict[int, bool] = {}
    while stack:
        node, where, depth = stack.pop()
        kinds = {isinstance(item, list) for item in node}
        if len(kinds) > 1:
            raise BadRequest(f"{where}: mixes lists and scalars")
        if lengths.setdefault(depth, len(node)) != len(node):
            raise BadRequest(f"{where}: {len(node)} elements where other rows have {lengths[depth]}")
        if kinds and nested.setdefault(depth, True in kinds) != (True in kinds):
            raise BadRequest(f"{where}: mixes lists and scalars at the same depth as other rows")
        if kinds == {True}:
            sizes = {len(item) for item in node}
            if len(sizes) > 1:
                raise BadRequest(f"{where}: rows have different lengths {sorted(sizes)}")
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(node))
        else:
            for i, item in enumerate(node):
                if not _is_number(item):
                    raise BadRequest(f"{where}[{i}]: expected a number, got {json_type(item)}")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "number"


def flat_values(data: Any, datatype: str, field: str) -> np.ndarray:
    """V2 ``data``: nested or flat, row-major; returned flat, typed by ``datatype``."""
    if not isinstance(data, list):
        raise BadRequest(f"{field}: expected an array, got {json_type(data)}")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    if datatype == "BOOL":
        if not all(isinstance(v, bool) for v in flat):
            raise BadRequest(f"{field}: datatype BOOL expects true/false values")
        return np.asarray(flat, dtype=np.bool_)
    for i, value in enumerate(flat):
        if not _is_number(value):
            raise BadRequest(f"{field}[{i}]: expected a number for datatype {datatype}, got {json_type(value)}")
    kind = NUMERIC_DTYPES[datatype]
    if kind[1] in "iu" and not all(isinstance(v, int) for v in flat):
        raise BadRequest(f"{field}: datatype {datatype} expects integers")
    out_of_range = BadRequest(f"{field}: a value is out of range for datatype {datatype}")
    try:
        with np.errstate(over="ignore"):
            values = np.asarray(flat, dtype=kind)
    except OverflowError:
        raise out_of_range from None
    # FP16 and FP32 turn a finite number too large for them into infinity without complaint.
    if kind[1] == "f" and not np.all(np.isfinite(values)):
        wide = np.asarray(flat, dtype=np.float64)
        if np.any(np.isfinite(wide) & ~np.isfinite(values)):
            raise out_of_range
    return values


def as_json_list(array: np.ndarray) -> list[Any]:
    return np.asarray(array).reshape(-1).tolist()
