"""Hostile values: number literals at the edges of every datatype, Inference-Header-Content-Length
values, and binary tensor data whose declared size does not fit. Both adapters; an oracle gives the
exact status for each input."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from model_core.service import MAX_ABS_INPUT
from model_core.tensors import NUMERIC_DTYPES

from .conftest import HOSTILE, MLFLOW, V1, V2, Target, check, v2_tensor

HEADER = "Inference-Header-Content-Length"
DATATYPES = [name for name in NUMERIC_DTYPES if name != "BOOL"]
SPECIAL = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "-0.0", "0e0", "1E+2", "1e150", "1e151"]
SPECIAL += ["9" * 400, "-" + "9" * 30, "18446744073709551616", "9223372036854775808", "-9223372036854775809"]
literals = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(-300, 300).map(str),
)


def within_model_range(value: Any) -> bool:
    """What every route accepts as a model input once typed: finite and inside ±MAX_ABS_INPUT."""
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and abs(number) <= MAX_ABS_INPUT


def v2_accepts(value: Any, datatype: str) -> bool:
    dtype = np.dtype(NUMERIC_DTYPES[datatype])
    if dtype.kind in "iu":
        return isinstance(value, int) and int(np.iinfo(dtype).min) <= value <= int(np.iinfo(dtype).max)
    if not within_model_range(value):
        return False
    with np.errstate(over="ignore"):
        return bool(np.isfinite(np.asarray(float(value), dtype=dtype)))


def decoded(literal: str) -> Any:
    return json.loads(literal)


@given(row=st.lists(literals, min_size=4, max_size=4), route=st.sampled_from([V1, MLFLOW]))
@HOSTILE
def test_number_literals_in_rows(target: Target, row: list[str], route: str) -> None:
    reply = target.post(route, ('{"instances":[[' + ",".join(row) + "]]}").encode())
    check(reply, 200 if all(within_model_range(decoded(v)) for v in row) else 400)


@given(row=st.lists(literals, min_size=4, max_size=4), datatype=st.sampled_from(DATATYPES))
@HOSTILE
def test_number_literals_in_typed_tensors(target: Target, row: list[str], datatype: str) -> None:
    head = json.dumps(v2_tensor(datatype=datatype))[:-3]
    reply = target.post(V2, (head + ',"data":[' + ",".join(row) + "]}]}").encode())
    check(reply, 200 if all(v2_accepts(decoded(v), datatype) for v in row) else 400)


def test_numbers_too_long_to_parse_are_400(target: Target) -> None:
    reply = target.post(V1, ('{"instances":[[' + "9" * 5000 + ",1,1,1]]}").encode())
    check(reply, 400, "malformed JSON in request body: a number has more than 4300 digits")


def binary_request(rows: int, datatype: str, declared: Any, payload: bytes) -> tuple[bytes, str]:
    parameters = {"binary_data_size": len(payload) if declared == "exact" else declared}
    header = json.dumps(v2_tensor(rows=rows, datatype=datatype, parameters=parameters)).encode()
    return header + payload, str(len(header))


header_values = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    st.integers(-5, 2**70).map(str),
    st.sampled_from(["", " 12", "12 ", "+12", "1_2", "0x10", "1e3", "12.0", "٣", "0" * 25 + "1", "9" * 5000]),
)


@given(value=header_values)
@HOSTILE
def test_header_length_values(target: Target, value: str) -> None:
    body, true_length = binary_request(1, "FP64", "exact", np.asarray([5.1, 3.5, 1.4, 0.2]).tobytes())
    if not value.isascii():
        value = value.encode().decode("latin-1")  # what a server hands the application
    reply = target.post(V2, body, "application/octet-stream", {HEADER: value})
    stripped = value.strip(" \t")
    if not re.fullmatch(r"[0-9]{1,20}", stripped):
        check(reply, 400)
        assert reply.error.startswith(f"{HEADER}: expected a decimal integer, got ")
    elif not 0 < int(stripped) <= len(body):
        check(reply, 400, f"{HEADER}: {int(stripped)} is outside the body of {len(body)} bytes")
    else:
        check(reply, 200 if int(stripped) == int(true_length) else 400)


@given(
    rows=st.integers(0, 3),
    datatype=st.sampled_from(DATATYPES),
    declared=st.one_of(
        st.just("exact"), st.integers(-3, 2**70), st.sampled_from([True, 8.0, "8", None, [8], {"n": 8}])
    ),
    payload=st.binary(max_size=80) | st.integers(0, 3).map(lambda n: np.full(n * 4, 1, "<f8").tobytes()),
)
@HOSTILE
def test_binary_data_sizes(target: Target, rows: int, datatype: str, declared: Any, payload: bytes) -> None:
    body, length = binary_request(rows, datatype, declared, payload)
    reply = target.post(V2, body, "application/octet-stream", {HEADER: length})
    size = len(payload) if declared == "exact" else declared
    where = "inputs[0].parameters.binary_data_size"
    itemsize = np.dtype(NUMERIC_DTYPES[datatype]).itemsize
    if size is None:
        check(reply, 400, "inputs[0].data: missing (or send binary data with parameters.binary_data_size)")
    elif not isinstance(size, int) or isinstance(size, bool) or size < 0:
        check(reply, 400, f"{where}: expected a non-negative integer")
    elif size != len(payload):
        check(reply, 400, f"{where}: {size} bytes declared, {len(payload)} bytes follow the JSON header")
    elif size % itemsize:
        check(reply, 400, f"inputs[0]: {size} bytes is not a whole number of {datatype} values")
    elif size // itemsize != rows * 4:
        check(reply, 400, f"inputs[0].data: shape [{rows}, 4] needs {rows * 4} values, got {size // itemsize}")
    else:
        values = np.frombuffer(payload, dtype=NUMERIC_DTYPES[datatype]).astype(np.float64)
        fine = rows > 0 and bool(np.all(np.isfinite(values)) and np.all(np.abs(values) <= MAX_ABS_INPUT))
        check(reply, 200 if fine else 400)


@given(data=st.data(), garbage=st.binary(max_size=64))
@HOSTILE
def test_header_length_splitting_anywhere(target: Target, data: st.DataObject, garbage: bytes) -> None:
    header = json.dumps(v2_tensor([[5.1, 3.5, 1.4, 0.2]])).encode()
    body = header + garbage
    length = data.draw(st.integers(1, len(body)) | st.just(len(header)))
    reply = target.post(V2, body, "application/octet-stream", {HEADER: str(length)})
    # Bytes after the header that no tensor claims are ignored, as before.
    check(reply, 200 if length == len(header) else 400)
