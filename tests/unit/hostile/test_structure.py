"""Hostile structure: nesting, dimensions, row counts, content types and bodies that are not JSON.
Every property runs against both adapters and asserts no 5xx and a JSON error; the status (and
message) exactly wherever the class of input decides it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model_core.errors import BadRequest
from model_core.jsonbody import MAX_DEPTH
from model_core.tensors import MAX_DIMENSIONS, rows_from_json

from .conftest import HOSTILE, MAX_BATCH, MLFLOW, ROUTES, V1, V2, Target, check, v2_tensor

TOO_DEEP = f"request body: nesting deeper than {MAX_DEPTH} levels"
ROW = [5.1, 3.5, 1.4, 0.2]
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
# Where hostile nesting goes: (text before, text after, containers they open).
PLACES = [
    ("", "", 0),
    ('{"instances":', "}", 1),
    ('{"dataframe_split":{"columns":[],"data":', "}}", 2),
    ('{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":', "}]}", 3),
]
# Text that looks like structure inside a string must not count as nesting.
decoys = st.text(alphabet='[]{}"\\:,ab', max_size=40)


@given(
    depth=st.integers(0, 3000),
    place=st.sampled_from(PLACES),
    opener=st.sampled_from(["[", '{"k":']),
    decoy=decoys,
    route=st.sampled_from(ROUTES),
)
@HOSTILE
def test_nesting_is_bounded(target: Target, depth: int, place: Any, opener: str, decoy: str, route: str) -> None:
    before, after, levels = place
    closer = "]" if opener == "[" else "}"
    body = before + opener * depth + json.dumps(decoy) + closer * depth + after
    reply = check(target.post(route, body.encode()))
    if levels + depth > MAX_DEPTH:
        check(reply, 400, TOO_DEEP)
    else:
        assert reply.status != 400 or reply.error != TOO_DEEP


@given(depth=st.integers(0, 3000), route=st.sampled_from(ROUTES))
@HOSTILE
def test_unbalanced_nesting_is_400(target: Target, depth: int, route: str) -> None:
    reply = check(target.post(route, b"[" * depth), 400)
    if depth > MAX_DEPTH:
        assert reply.error == TOO_DEEP


@given(dimensions=st.integers(1, 40), route=st.sampled_from([V1, MLFLOW]))
@HOSTILE
def test_dimensions_of_v1_rows(target: Target, dimensions: int, route: str) -> None:
    value: Any = 1.0
    for _ in range(dimensions):
        value = [value]
    reply = check(target.post(route, json.dumps({"instances": value}).encode()), 400)
    if dimensions + 1 > MAX_DEPTH:
        assert reply.error == TOO_DEEP


@given(dimensions=st.integers(1, 40))
@HOSTILE
def test_dimensions_of_v2_data(target: Target, dimensions: int) -> None:
    # V2 data may be nested any way that holds shape[0] * shape[1] values, row-major.
    data: Any = ROW
    for _ in range(dimensions - 1):
        data = [data]
    reply = target.post(V2, json.dumps(v2_tensor(data)).encode())
    check(reply, 400 if dimensions + 3 > MAX_DEPTH else 200)


@pytest.mark.parametrize("dimensions", [MAX_DIMENSIONS + 1, 64, 65, 200])
def test_dimensions_beyond_the_limit_are_named_before_numpy(dimensions: int) -> None:
    value: Any = 1.0
    for _ in range(dimensions):
        value = [value]
    with pytest.raises(BadRequest) as caught:
        rows_from_json(value, "instances")
    assert caught.value.message == f"instances: {dimensions} dimensions exceed the limit of {MAX_DIMENSIONS}"


@pytest.mark.parametrize("data", [[[1], [[2]]], [[[]], [[1]]], [[[1, 2]], [[3], [4]]], [[[[1]]], [[[2], 3]]]])
def test_ragged_cousins_are_400_not_a_numpy_error(data: Any) -> None:
    with pytest.raises(BadRequest):
        rows_from_json(data, "instances")


FORMATS = ["v1", "split", "split_no_columns", "records", "mlflow_instances", "mlflow_inputs", "v2_nested", "v2_flat"]


def batch_body(form: str, rows: int) -> tuple[str, dict[str, Any], str]:
    """(route, body, the field a row-limit error names) for ``rows`` rows in the given format."""
    table = [ROW] * rows
    if form == "v1":
        return V1, {"instances": table}, "instances"
    if form.startswith("v2"):
        flat = form == "v2_flat"
        return V2, v2_tensor([v for row in table for v in row] if flat else table, rows), "inputs[0]"
    bodies = {
        "split": {"dataframe_split": {"columns": FEATURES, "data": table}},
        "split_no_columns": {"dataframe_split": {"data": table}},
        "records": {"dataframe_records": [dict(zip(FEATURES, row, strict=True)) for row in table]},
        "mlflow_instances": {"instances": table},
        "mlflow_inputs": {"inputs": table},
    }
    return MLFLOW, bodies[form], "inputs"


@given(
    rows=st.integers(0, 2 * MAX_BATCH) | st.integers(3000, 12000),
    form=st.sampled_from(FORMATS),
    padding=st.sampled_from([0, 70_000]),
)
@HOSTILE
def test_row_limit_in_every_format(target: Target, rows: int, form: str, padding: int) -> None:
    # Padding pushes small batches past the size where rows are counted before decoding.
    route, body, field = batch_body(form, rows)
    text = json.dumps(body)
    text = text[0] + " " * padding + text[1:]
    reply = target.post(route, text.encode())
    if rows > MAX_BATCH:
        check(reply, 413, f"{field}: {rows} rows exceed the maximum batch of {MAX_BATCH}")
    else:
        check(reply, 400 if rows == 0 else 200)


def test_an_8_mib_body_of_838k_rows_is_413(target: Target) -> None:
    head = json.dumps({"dataframe_split": {"columns": FEATURES, "data": []}}, separators=(",", ":")).encode()
    rows = (8 * 1024 * 1024 - len(head)) // len(b"[1,2,3,4],")
    body = head[:-3] + b",".join([b"[1,2,3,4]"] * rows) + b"]}}"
    assert 8 * 1024 * 1024 - 16 < len(body) <= 8 * 1024 * 1024 and rows > 838_000
    reply = target.post(MLFLOW, body)
    check(reply, 413, f"inputs: {rows} rows exceed the maximum batch of {MAX_BATCH}")


CONTENT_TYPES = [
    "application/json",
    "Application/JSON; charset=utf-8",
    "application/vnd.api+json",
    "application/octet-stream",
    "text/csv",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json-patch",
    ";",
]


def accepted(content_type: str | None, route: str) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("", "application/json") or (kind.startswith("application/") and kind.endswith("+json")):
        return True
    return route == V2 and kind == "application/octet-stream"


@given(
    content_type=st.sampled_from(CONTENT_TYPES) | st.text(st.characters(min_codepoint=33, max_codepoint=126)),
    route=st.sampled_from(ROUTES),
)
@HOSTILE
def test_content_types(target: Target, content_type: str, route: str) -> None:
    body = json.dumps(v2_tensor([ROW]) if route == V2 else {"instances": [ROW]}).encode()
    reply = target.post(route, body, content_type)
    check(reply, 200 if accepted(content_type, route) else 415)


@given(
    body=st.binary(max_size=300) | st.sampled_from([b"", b" \n\t ", b"\xef\xbb\xbf", b"null", b"\x00\x00\x00"]),
    route=st.sampled_from(ROUTES),
    content_type=st.sampled_from(["application/json", None, "application/octet-stream"]),
)
@HOSTILE
def test_bodies_that_are_not_json(target: Target, body: bytes, route: str, content_type: str | None) -> None:
    reply = check(target.post(route, body, content_type))
    if not accepted(content_type, route):
        check(reply, 415)
    elif not body.strip():
        check(reply, 400, "request body is empty (expected a JSON document)")
    else:
        assert reply.status in (400, 413)
