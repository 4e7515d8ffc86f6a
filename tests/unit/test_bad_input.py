"""Every class of bad input gets the documented 4xx status and a JSON error naming the problem."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from .conftest import GOLDEN_ROWS

INFER = "/v2/models/iris/infer"


def tensor(**overrides: object) -> dict[str, object]:
    t: dict[str, object] = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [GOLDEN_ROWS[0]]}
    t.update(overrides)
    return {"inputs": [t]}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            tensor(shape=[1, 3], data=[[1, 2, 3]]),
            400,
            "inputs[0].shape: expected 4 features per row (shape [rows, 4]), got [1, 3]",
        ),
        (tensor(shape=[4]), 400, "inputs[0].shape: expected [rows, 4], got [4]"),
        (tensor(shape=[2, 4]), 400, "inputs[0].data: shape [2, 4] needs 8 values, got 4"),
        (
            tensor(datatype="BYTES"),
            400,
            "inputs[0].datatype: 'BYTES' is not accepted (expected FP64, or one of UINT8, UINT16, UINT32, UINT64, "
            "INT8, INT16, INT32, INT64, FP16, FP32, FP64)",
        ),
        (tensor(datatype={}), 400, None),  # found by the schema fuzzer: once a 500
        (tensor(datatype="INT32"), 400, "inputs[0].data: datatype INT32 expects integers"),
        (tensor(data=[[1, "two", 3, 4]]), 400, "inputs[0].data[1]: expected a number for datatype FP64, got string"),
        (tensor(data=[[1, None, 3, 4]]), 400, "inputs[0].data[1]: expected a number for datatype FP64, got null"),
        (tensor(data=[[1e308 * 10, 2, 3, 4]]), 400, None),
        (tensor(name="x"), 400, "inputs[0].name: model iris has no input 'x' (expected 'input-0')"),
        ({"inputs": []}, 400, "inputs: expected a non-empty array of input tensors"),
        ([1, 2], 400, "request body: expected a JSON object, got array"),
        (
            {**tensor(), "outputs": [{"name": "colour"}]},
            400,
            "outputs[0].name: model iris has no output 'colour' (expected one of ['label', 'probabilities'])",
        ),
    ],
)
def test_v2_bad_tensors(client: FlaskClient, body: object, status: int, error: str | None) -> None:
    response = client.post(INFER, data=json.dumps(body), content_type="application/json")
    assert response.status_code == status
    assert response.is_json
    if error is not None:
        assert response.json == {"error": error}


def test_non_finite_values_are_named(client: FlaskClient) -> None:
    response = client.post(
        INFER, data='{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[1,NaN,3,4]}]}'
    )
    assert response.status_code == 400
    assert response.json == {"error": "inputs[0]: values must be finite numbers (no NaN or Infinity)"}
    response = client.post("/v1/models/iris:predict", data='{"instances":[[1,Infinity,3,4]]}')
    assert response.json == {"error": "instances: values must be finite numbers (no NaN or Infinity)"}


def test_malformed_json_is_400(client: FlaskClient) -> None:
    for path in (INFER, "/v1/models/iris:predict", "/invocations"):
        response = client.post(path, data="{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json["error"].startswith("malformed JSON in request body: ")


def test_ragged_rows_are_400(client: FlaskClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"instances": [[1, 2, 3, 4], [1, 2, 3]]})
    assert response.status_code == 400
    assert response.json == {"error": "instances: rows have different lengths [3, 4]"}
    response = client.post("/v1/models/iris:predict", json={"instances": [[1, 2, 3]]})
    assert response.json == {"error": "instances: expected 4 features per row, got 3"}


def test_batch_over_the_limit_is_413(make_client) -> None:
    client = make_client(max_batch=3)
    response = client.post("/v1/models/iris:predict", json={"instances": GOLDEN_ROWS})
    assert response.status_code == 413
    assert response.json == {"error": "instances: 4 rows exceed the maximum batch of 3"}
    body = tensor(shape=[4, 4], data=GOLDEN_ROWS)
    assert client.post(INFER, json=body).status_code == 413


def test_body_over_the_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    response = client.post(INFER, data=b"[" + b"1," * 2000 + b"1]", content_type="application/json")
    assert response.status_code == 413
    assert response.json == {"error": "request body larger than the limit of 2048 bytes"}


def test_unknown_model_and_version_are_404(client: FlaskClient) -> None:
    for path in ("/v2/models/wine", "/v2/models/wine/ready", "/v1/models/wine"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json == {"error": "model 'wine' not found (served: 'iris')"}
    response = client.post("/v2/models/iris/versions/9/infer", json=tensor())
    assert (response.status_code, response.json) == (404, {"error": "model 'iris' has no version '9' (available: '1')"})
    response = client.get("/v3/anything")
    assert (response.status_code, response.json) == (404, {"error": "no such route: /v3/anything"})


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.get(INFER)
    assert response.status_code == 405
    assert response.json == {"error": "method GET is not allowed for /v2/models/iris/infer"}
    assert response.headers["Allow"] == "POST"
    assert client.delete("/v2/health/live").status_code == 405


def test_unsupported_content_type_is_415(client: FlaskClient) -> None:
    response = client.post(INFER, data="a,b", content_type="text/csv")
    assert response.status_code == 415
    assert response.json == {
        "error": "Content-Type 'text/csv' is not supported (expected application/json or application/octet-stream)"
    }
    response = client.post("/invocations", data=b"x", content_type="application/octet-stream")
    assert response.json == {
        "error": "Content-Type 'application/octet-stream' is not supported (expected application/json)"
    }


def test_unexpected_exception_is_500_with_request_id(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from .conftest import api_of

    def explode(rows: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(api_of(client).service, "predict", explode)
    response = client.post(INFER, json=tensor(), headers={"X-Request-ID": "trace-123"})
    assert response.status_code == 500
    assert response.json == {"error": "internal server error", "request_id": "trace-123"}


def test_values_that_would_overflow_the_model_are_400(client: FlaskClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"instances": [[1.7e280, 1, 1, 1]]})
    assert response.status_code == 400
    assert response.json == {"error": "instances: values must lie within ±1e+150"}


def test_dataframe_split_columns_must_be_names(client: FlaskClient) -> None:
    for columns in (None, [{}, "a", "b", "c"], ["a", "a", "b", "c"]):
        response = client.post("/invocations", json={"dataframe_split": {"columns": columns, "data": [[1, 2, 3, 4]]}})
        assert response.status_code == 400, columns
    assert response.json == {"error": "dataframe_split.columns: expected distinct feature names (strings)"}
