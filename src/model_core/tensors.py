"""Turning client payloads into float rows, with errors that name the field."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import BadRequest

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
    _check_rectangular(data, field)
    return np.asarray(data, dtype=np.float64)


def _check_rectangular(data: list[Any], field: str) -> None:
    # Walk once so that ragged or mixed input fails with a message, not a numpy error.
    stack: list[tuple[Any, str]] = [(data, field)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            kinds = {isinstance(item, list) for item in node}
            if len(kinds) > 1:
                raise BadRequest(f"{where}: mixes lists and scalars")
            if kinds == {True}:
                lengths = {len(item) for item in node}
                if len(lengths) > 1:
                    raise BadRequest(f"{where}: rows have different lengths {sorted(lengths)}")
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
            else:
                for i, item in enumerate(node):
                    if not _is_number(item):
                        raise BadRequest(f"{where}[{i}]: expected a number, got {json_type(item)}")
        elif not _is_number(node):
            raise BadRequest(f"{where}: expected a number, got {json_type(node)}")


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
    try:
        return np.asarray(flat, dtype=kind)
    except OverflowError:
        raise BadRequest(f"{field}: a value is out of range for datatype {datatype}") from None


def as_json_list(array: np.ndarray) -> list[Any]:
    return np.asarray(array).reshape(-1).tolist()
