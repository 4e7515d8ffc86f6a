"""The inference routes served straight from the core answer exactly as Flask's views do, and
every request the middleware is not sure about reaches Flask untouched."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from model_core.config import Config
from model_core.inference_wsgi import InferenceRoutes
from model_flask import create_app

from .conftest import GOLDEN_ROWS

TOKEN = "parity-token-0123456789"
V2 = "/v2/models/iris/infer"


def v2_body(rows: list[list[float]] = GOLDEN_ROWS[:1], **extra: Any) -> bytes:
    tensor = {"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}
    return json.dumps({"inputs": [tensor], **extra}).encode()


def binary_request() -> tuple[bytes, dict[str, str]]:
    raw = struct.pack("<4f", *GOLDEN_ROWS[0])
    header = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]}
    ).encode()
    headers = {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}
    return header + raw, headers


BINARY_BODY, BINARY_HEADERS = binary_request()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_TYPE = {"Content-Type": "application/json"}

# (path, body, headers): every answer class of the inference routes.
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    (V2, v2_body(), {**AUTH, **JSON_TYPE}),
    (V2, v2_body(GOLDEN_ROWS, outputs=[{"name": "label"}]), {**AUTH, **JSON_TYPE}),
    ("/v2/models/iris/versions/1/infer", v2_body(), {**AUTH, **JSON_TYPE}),
    ("/v2/models/iris/versions/9/infer", v2_body(), {**AUTH, **JSON_TYPE}),
    ("/v2/models/nosuch/infer", v2_body(), {**AUTH, **JSON_TYPE}),
    (V2, BINARY_BODY, {**AUTH, **BINARY_HEADERS}),
    (V2, b"{not json", {**AUTH, **JSON_TYPE}),
    (V2, b"", {**AUTH, **JSON_TYPE}),
    (V2, v2_body([[1.0, 2.0, 3.0]]), {**AUTH, **JSON_TYPE}),
    (V2, v2_body(), {**AUTH, "Content-Type": "text/plain"}),
    (V2, v2_body(), JSON_TYPE),
    (V2, v2_body(), {"Authorization": "Bearer wrong-token-0123456789", **JSON_TYPE}),
    (V2, v2_body(), {"Authorization": "Basic dXNlcjpwYXNz", **JSON_TYPE}),
    (V2, v2_body([[1.0, 2.0, 3.0, 4.0]] * 65), {**AUTH, **JSON_TYPE}),
    ("/v1/models/iris:predict", json.dumps({"instances": GOLDEN_ROWS}).encode(), {**AUTH, **JSON_TYPE}),
    ("/v1/models/iris:predict", b'{"instances": [[1, 2]]}', {**AUTH, **JSON_TYPE}),
    ("/invocations", json.dumps({"inputs": GOLDEN_ROWS}).encode(), {**AUTH, **JSON_TYPE}),
    ("/invocations", b'{"inputs": "x"}', {**AUTH, "Content-Type": "application/vnd.test+json"}),
]


@pytest.fixture
def stack(model_dir: Any) -> tuple[InferenceRoutes, Callable[..., Any]]:
    config = Config(model_dir=model_dir, release_id="parity", auth_enabled=True, api_tokens=(TOKEN,), max_batch=64)
    app = create_app(config)
    fast = app.wsgi_app
    assert isinstance(fast, InferenceRoutes)
    return fast, fast.app


def environ_for(path: str, body: bytes, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    environ = EnvironBuilder(path=path, method=method, data=body, headers=headers).get_environ()
    environ["CONTENT_LENGTH"] = str(len(body))  # as clients send it, also for an empty body
    return environ


def call(wsgi: Callable[..., Any], path: str, body: bytes, headers: dict[str, str], **env: Any) -> Any:
    environ = environ_for(path, body, headers, env.pop("method", "POST"))
    environ.update(env)
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured.update(status=status, headers=response_headers)

    chunks = wsgi(environ, start_response)
    body_out = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return captured["status"], sorted(captured["headers"]), body_out


@pytest.mark.parametrize(("path", "body", "headers"), REQUESTS)
def test_same_status_headers_and_body_as_flask(stack: Any, path: str, body: bytes, headers: dict[str, str]) -> None:
    fast, flask_app = stack
    headers = {**headers, "X-Request-ID": "parity-1"}
    assert fast._take(environ_for(path, body, headers)) is not None
    assert call(fast, path, body, headers) == call(flask_app, path, body, headers)


def test_the_answers_differ_in_what_they_should(stack: Any) -> None:
    # The parity above would hold for an always-failing middleware too: pin a real answer.
    fast, _ = stack
    status, headers, body = call(fast, V2, v2_body(), {**AUTH, **JSON_TYPE, "X-Request-ID": "r-1"})
    assert status == "200 OK"
    assert ("X-Request-ID", "r-1") in headers and ("X-Release-Id", "parity") in headers
    assert ("Content-Length", str(len(body))) in headers
    assert json.loads(body)["outputs"][0] == {"name": "label", "datatype": "INT64", "shape": [1], "data": [0]}


@pytest.mark.parametrize(
    ("path", "method", "env", "expected_status"),
    [
        (V2, "GET", {}, "405 METHOD NOT ALLOWED"),
        (V2 + "/", "POST", {}, "404 NOT FOUND"),
        ("/v2/models/ir%C3%AFs/infer", "POST", {}, "404 NOT FOUND"),
        (V2, "POST", {"CONTENT_LENGTH": str(10**9)}, "413 REQUEST ENTITY TOO LARGE"),
        (V2, "POST", {"SCRIPT_NAME": "/prefix"}, None),
        (V2, "POST", {"CONTENT_LENGTH": "\u00b2"}, None),  # a digit to str.isdigit, not to int()
        (V2, "POST", {"CONTENT_LENGTH": "9" * 5000}, None),  # beyond int()'s digit limit
        (V2, "POST", {"CONTENT_LENGTH": "+12"}, None),
        (V2, "POST", {"HTTP_TRANSFER_ENCODING": "chunked"}, None),  # werkzeug ignores the length then
    ],
)
def test_what_it_does_not_take_reaches_flask(
    stack: Any, path: str, method: str, env: dict[str, str], expected_status: str | None
) -> None:
    fast, flask_app = stack
    seen: list[str] = []

    def spy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(environ["PATH_INFO"])
        return flask_app(environ, start_response)

    fast.app = spy
    status, _, body = call(fast, path, v2_body(), {**AUTH, **JSON_TYPE}, method=method, **env)
    assert len(seen) == 1
    if expected_status is not None:
        assert status == expected_status
        assert "error" in json.loads(body)


def test_a_chunked_body_without_length_reaches_flask(stack: Any) -> None:
    fast, _ = stack
    environ = environ_for(V2, v2_body(), {**AUTH, **JSON_TYPE})
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    assert fast._take(environ) is None


def test_proxy_fix_still_names_the_client(model_dir: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Config(model_dir=model_dir, release_id="parity", proxy_hops=1))
    with caplog.at_level("INFO", logger="stackgen.access"):
        call(app.wsgi_app, V2, v2_body(), {**JSON_TYPE, "X-Forwarded-For": "203.0.113.9"}, REMOTE_ADDR="127.0.0.1")
    fields = [record.fields for record in caplog.records if record.name == "stackgen.access"]
    assert [f["remote_addr"] for f in fields] == ["203.0.113.9"]
    assert [f["status"] for f in fields] == [200]
