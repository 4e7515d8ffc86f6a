"""Open Inference Protocol (V2) endpoints, JSON and binary."""

from __future__ import annotations

import json
import struct

import numpy as np
from flask.testing import FlaskClient

from .conftest import GOLDEN_ROWS


def infer_body(rows: list[list[float]], **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]
    }
    body.update(extra)
    return body


def test_health_and_server_metadata(client: FlaskClient) -> None:
    assert client.get("/v2/health/live").json == {"live": True}
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json) == (200, {"ready": True})
    meta = client.get("/v2")
    assert meta.status_code == 200
    assert meta.json == {
        "name": "stackgen",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
        "release": "test-release",
    }


def test_model_metadata_and_readiness(client: FlaskClient) -> None:
    meta = client.get("/v2/models/iris")
    assert meta.status_code == 200
    assert meta.json == {
        "name": "iris",
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }
    assert client.get("/v2/models/iris/versions/1").json == meta.json
    assert client.get("/v2/models/iris/ready").json == {"name": "iris", "ready": True}
    assert client.get("/v2/models/iris/versions/1/ready").status_code == 200


def test_infer_nested_rows(client: FlaskClient) -> None:
    response = client.post("/v2/models/iris/infer", json=infer_body(GOLDEN_ROWS, id="req-7"))
    assert response.status_code == 200
    body = response.json
    assert body["model_name"] == "iris"
    assert body["model_version"] == "1"
    assert body["id"] == "req-7"
    label, probabilities = body["outputs"]
    assert label == {"name": "label", "datatype": "INT64", "shape": [4], "data": [0, 1, 2, 2]}
    assert probabilities["shape"] == [4, 3]
    assert len(probabilities["data"]) == 12
    assert round(sum(probabilities["data"][:3]), 9) == 1.0


def test_infer_flat_data_and_no_content_type(client: FlaskClient) -> None:
    flat = [v for row in GOLDEN_ROWS[:2] for v in row]
    body = {
        "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": flat}],
        "outputs": [{"name": "label"}],
    }
    response = client.post("/v2/models/iris/versions/1/infer", data=json.dumps(body))
    assert response.status_code == 200
    assert response.json["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [2], "data": [0, 1]}]


def test_binary_tensor_extension_round_trip(client: FlaskClient) -> None:
    rows = np.array(GOLDEN_ROWS, dtype=np.float32)
    raw = rows.tobytes()
    header = json.dumps(
        {
            "inputs": [
                {"name": "input-0", "shape": [4, 4], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "probabilities"}],
        }
    ).encode()
    response = client.post(
        "/v2/models/iris/infer",
        data=header + raw,
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    json_len = int(response.headers["Inference-Header-Content-Length"])
    document = json.loads(response.data[:json_len])
    label, probabilities = document["outputs"]
    assert label == {"name": "label", "datatype": "INT64", "shape": [4], "parameters": {"binary_data_size": 32}}
    assert "data" in probabilities
    assert list(struct.unpack("<4q", response.data[json_len:])) == [0, 1, 2, 2]


def test_binary_output_for_all_outputs(client: FlaskClient) -> None:
    response = client.post(
        "/v2/models/iris/infer", json=infer_body(GOLDEN_ROWS[:1], parameters={"binary_data_output": True})
    )
    json_len = int(response.headers["Inference-Header-Content-Length"])
    document = json.loads(response.data[:json_len])
    sizes = [o["parameters"]["binary_data_size"] for o in document["outputs"]]
    assert sizes == [8, 24]
    assert len(response.data) == json_len + 32


def test_binary_size_mismatch_is_400(client: FlaskClient) -> None:
    header = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}]}
    ).encode()
    response = client.post(
        "/v2/models/iris/infer", data=header + b"\0" * 16, headers={"Inference-Header-Content-Length": str(len(header))}
    )
    assert response.status_code == 400
    assert response.json == {
        "error": "inputs[0].parameters.binary_data_size: 32 bytes declared, 16 bytes follow the JSON header"
    }
