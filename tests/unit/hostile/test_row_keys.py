"""Hostile arrangements of the keys around a large batch: padding members (many, nested, after the
rows, scalar, decoys in strings), escaped spellings and duplicates. Every 8 MiB over-limit body gets
its exact 413 (or the documented 400) without ever being decoded whole: under ``no_full_decode`` the
json.loads that model_core.jsonbody calls fails the test on any text of pre-scan size."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from model_core import jsonbody
from model_core.errors import BadRequest
from model_core.jsonbody import MAX_ESCAPED_KEYS, PRESCAN_BYTES, JsonBody, rows_at
from model_core.v1 import MLFLOW_ROWS

from .conftest import HOSTILE, MAX_BATCH, MLFLOW, V1, V2, Target, check

BODY_BYTES = 8 * 1024 * 1024
ARRAY_ROW = b"[1,2,3,4]"
RECORD_ROW = b'{"a":1,"b":2}'


class _NoFullDecode:
    """``json`` for model_core.jsonbody: everything but a decode of a body the pre-scan reads."""

    def __init__(self) -> None:
        self.refused: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)

    def loads(self, text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if len(text) >= PRESCAN_BYTES:
            self.refused.append(len(text))
            raise AssertionError(f"json.loads decoded a body of {len(text)} bytes in full")
        return json.loads(text, *args, **kwargs)


@pytest.fixture
def no_full_decode(monkeypatch: pytest.MonkeyPatch) -> _NoFullDecode:
    guard = _NoFullDecode()
    monkeypatch.setattr(jsonbody, "json", guard)
    return guard


def members(count: int, value: Callable[[int], bytes] = lambda i: b"{}") -> bytes:
    return b"".join(b'"k%d":%s,' % (i, value(i)) for i in range(count))


# (route, prefix of the object holding the rows, key, suffix closing the enclosing objects, row, field named)
FORMS = {
    "v1": (V1, b"{", b'"instances"', b"}", ARRAY_ROW, "instances"),
    "split": (MLFLOW, b'{"dataframe_split":{"columns":["a","b","c","d"],', b'"data"', b"}}", ARRAY_ROW, "inputs"),
    "records": (MLFLOW, b"{", b'"dataframe_records"', b"}", RECORD_ROW, "inputs"),
    "mlflow_instances": (MLFLOW, b"{", b'"instances"', b"}", ARRAY_ROW, "inputs"),
    "mlflow_inputs": (MLFLOW, b"{", b'"inputs"', b"}", ARRAY_ROW, "inputs"),
    # The shape understates the rows: the 413 must come from counting them.
    "v2": (
        V2,
        b'{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64",',
        b'"data"',
        b"}]}",
        ARRAY_ROW,
        "inputs[0]",
    ),
}
# (members before the rows, members after them) in the object that holds the rows.
LAYOUTS = {
    "65 members": (members(65), b""),
    "1000 members": (members(1000), b""),
    "members after the rows": (b"", b"," + members(1000)[:-1]),
    "both sides": (members(500), b"," + members(500)[:-1]),
    "nested padding": (members(200, lambda i: b'{"instances":[[1]],"data":{"x":[{"inputs":[]}]}}'), b""),
    "scalar members": (members(1000, lambda i: b"%d" % i) + members(200, lambda i: b'"\\"data\\": [{:"'), b""),
    "key spelled with an escape": (members(65), b""),
}


def over_limit(
    form: str, before: bytes, after: bytes, key: bytes | None = None, outside: bytes = b""
) -> tuple[str, bytes, int, str]:
    """(route, body of just under 8 MiB, its rows, the field a 413 names); ``outside`` opens the body."""
    route, prefix, row_key, suffix, row, field = FORMS[form]
    prefix = prefix[:1] + outside + prefix[1:]
    head = prefix + before + (key or row_key) + b":["
    tail = b"]" + after + suffix
    rows = (BODY_BYTES - len(head) - len(tail) + 1) // (len(row) + 1)
    body = head + b",".join([row] * rows) + tail
    assert BODY_BYTES - len(row) - 1 < len(body) <= BODY_BYTES and rows > 100 * MAX_BATCH
    return route, body, rows, field


def escaped(key: bytes) -> bytes:
    return b'"\\u%04x' % key[1] + key[2:]  # '"instances"' -> '"\u0069nstances"'


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("form", ["v1", "split"])
def test_padding_never_leads_to_a_full_decode(
    target: Target, no_full_decode: _NoFullDecode, form: str, layout: str
) -> None:
    before, after = LAYOUTS[layout]
    key = escaped(FORMS[form][2]) if "escape" in layout else None
    route, body, rows, field = over_limit(form, before, after, key)
    reply = target.post(route, body)
    assert not no_full_decode.refused
    check(reply, 413, f"{field}: {rows} rows exceed the maximum batch of {MAX_BATCH}")


@pytest.mark.parametrize("form", ["records", "mlflow_instances", "mlflow_inputs", "v2"])
def test_padding_in_every_format(target: Target, no_full_decode: _NoFullDecode, form: str) -> None:
    route, body, rows, field = over_limit(form, *LAYOUTS["65 members"])
    reply = target.post(route, body)
    assert not no_full_decode.refused
    check(reply, 413, f"{field}: {rows} rows exceed the maximum batch of {MAX_BATCH}")


# A duplicate of a key on the rows' path in a large body is refused before decoding: json.loads
# would keep the last one (here a scalar or a single row) after decoding every shadowed row.
DUPLICATES = {
    "scalar last": (b"", b",{key}:5"),
    "one row last": (b"", b",{key}:[[5.1,3.5,1.4,0.2]]"),
    "one row first": (b"{key}:[[5.1,3.5,1.4,0.2]],", b""),
    "escaped spelling last": (b"", b",{escaped}:5"),
    "behind padding": (members(1000), b"," + members(1000) + b"{key}:5"),
}


@pytest.mark.parametrize("duplicate", DUPLICATES)
@pytest.mark.parametrize("form", ["v1", "split", "records", "v2"])
def test_a_duplicate_row_key_is_400(target: Target, no_full_decode: _NoFullDecode, form: str, duplicate: str) -> None:
    key = FORMS[form][2]
    before, after = (part.replace(b"{key}", key).replace(b"{escaped}", escaped(key)) for part in DUPLICATES[duplicate])
    route, body, _, _ = over_limit(form, before, after)
    reply = target.post(route, body)
    assert not no_full_decode.refused
    name = {"split": "dataframe_split.data", "v2": "inputs[0].data"}.get(form, key.decode().strip('"'))
    check(reply, 400, f"request body: key {name!r} occurs 2 times (send it once)")


def test_a_duplicate_top_level_key_above_the_rows_is_400(target: Target, no_full_decode: _NoFullDecode) -> None:
    route, body, _, _ = over_limit("split", b"", b"", outside=b'"dataframe_split":5,')
    reply = target.post(route, body)
    assert not no_full_decode.refused
    check(reply, 400, "request body: key 'dataframe_split' occurs 2 times (send it once)")


def test_many_keys_spelled_with_escapes_are_400(target: Target, no_full_decode: _NoFullDecode) -> None:
    # Each could spell "instances"; the rows hide behind them.
    decoys = b"".join(b'"\\u0069nstance%d":{},' % (i % 10) for i in range(MAX_ESCAPED_KEYS + 1))
    route, body, _, _ = over_limit("v1", decoys, b"")
    reply = target.post(route, body)
    assert not no_full_decode.refused
    check(
        reply,
        400,
        f"request body: more than {MAX_ESCAPED_KEYS} keys with escapes could spell 'instances' (spell keys plainly)",
    )


def test_a_few_escaped_keys_and_plain_duplicates_of_other_keys_are_fine(target: Target) -> None:
    # Over the pre-scan size but within the limit: decoded and served as json.loads reads it.
    decoys = b"".join(b'"\\u0069nstance%d":{},' % i for i in range(MAX_ESCAPED_KEYS)) + b'"x":1,"x":{},'
    body = b"{" + b" " * PRESCAN_BYTES + decoys + b'"\\u0069nstances":' + json.dumps([[5.1, 3.5, 1.4, 0.2]]).encode()
    reply = target.post(V1, body + b"}")
    check(reply, 200)


# -- the scan against json.loads on generated objects ---------------------------------------------
ROW_KEYS = ["instances", "inputs", "dataframe_split", "dataframe_records", "data"]


def spelled(key: str, escape: bool) -> str:
    return f"\\u{ord(key[0]):04x}{key[1:]}" if escape and key else key


@st.composite
def objects(draw: st.DrawFn, path: tuple[str, ...], depth: int = 0) -> str:
    """A JSON object as text: row keys (sometimes escaped, sometimes repeated), decoy members,
    row arrays, scalars, strings holding structure, and objects of the same kind nested inside."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        decoys = st.sampled_from(["k", "instance", "x:y", "[{", "data\\\\"])
        key = draw(st.sampled_from(path) | st.sampled_from(ROW_KEYS) | decoys)
        kinds = ["rows", "scalar", "string", "empty"] + (["object"] if depth < 2 else [])
        if key == path[-1]:
            kinds += ["rows"] * 4
        elif key in path and depth < 2:
            kinds += ["object"] * 4
        kind = draw(st.sampled_from(kinds))
        if kind == "rows":
            value = json.dumps([[1, 2]] * draw(st.integers(0, 12)) + draw(st.sampled_from([[], [3], ["a]"]])))
        elif kind == "scalar":
            value = draw(st.sampled_from(["5", "null", "true", "-1.5e3"]))
        elif kind == "string":
            value = json.dumps(draw(st.text(alphabet='[]{}":,\\ab', max_size=8)))
        elif kind == "empty":
            value = draw(st.sampled_from(["[]", "{}"]))
        else:
            value = draw(objects(path, depth + 1))
        space = draw(st.sampled_from(["", " ", "\n  "]))
        parts.append(f'"{spelled(key, draw(st.booleans()))}"{space}:{space}{value}')
    padding = draw(st.sampled_from([0, 0, 70]))  # more container members than a key-by-key search would read
    at = draw(st.integers(0, len(parts)))
    parts[at:at] = [f'"p{i}":{{}}' for i in range(padding)]
    return "{" + ",".join(parts) + "}"


def duplicated(document: bytes, path: tuple[str, ...]) -> bool:
    """Whether a key along ``path`` occurs twice in its object (json.loads keeps the last)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        return {**dict(items), "__repeated__": {key for key in keys if keys.count(key) > 1}}

    node = json.loads(document, object_pairs_hook=pairs)
    for key in path:
        if not isinstance(node, dict):
            return False
        if key in node["__repeated__"]:
            return True
        node = node.get(key)
    return False


@given(data=st.data(), path=st.sampled_from((*MLFLOW_ROWS, ("data",))))
@HOSTILE
def test_the_scan_agrees_with_json_loads(data: st.DataObject, path: tuple[str, ...]) -> None:
    text = data.draw(objects(path))
    body = b"{" + b" " * PRESCAN_BYTES + text.encode()[1:]
    repeated = duplicated(body, path)
    event("a key on the path repeated" if repeated else f"rows: {rows_at(json.loads(body), path)}")
    if repeated:
        with pytest.raises(BadRequest, match=r"occurs [0-9]+ times"):
            JsonBody(body).rows(path)
    else:
        assert JsonBody(body).rows(path) == rows_at(json.loads(body), path)
