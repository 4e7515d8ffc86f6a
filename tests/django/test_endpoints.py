"""The Django service answers every route exactly like the Flask one."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from .conftest import GOLDEN_ROWS, infer_body

pytestmark = pytest.mark.django_db


def test_health_and_metadata() -> None:
    client = Client()
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json() == {
        "name": "stackgen",
        "version": "0.1.0",
        "extensions": ["binary_tensor_data"],
        "release": "django-test",
    }
    meta = client.get("/v2/models/iris")
    assert meta.status_code == 200
    assert meta.json()["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert client.get("/v2/models/iris/versions/1/ready").json() == {"name": "iris", "ready": True}
    assert client.get("/v1/models").json() == {"models": ["iris"]}
    assert client.get("/v1/models/iris").json() == {"name": "iris", "ready": True}


def test_v2_infer_golden(authed: Client) -> None:
    response = authed.post("/v2/models/iris/infer", infer_body(GOLDEN_ROWS), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["outputs"][0] == {"name": "label", "datatype": "INT64", "shape": [4], "data": [0, 1, 2, 2]}
    assert response["X-Release-Id"] == "django-test"
    assert len(response["X-Request-ID"]) == 32


def test_v1_and_invocations(authed: Client) -> None:
    response = authed.post("/v1/models/iris:predict", {"instances": GOLDEN_ROWS}, content_type="application/json")
    assert (response.status_code, response.json()) == (200, {"predictions": [0, 1, 2, 2]})
    response = authed.post("/invocations", {"inputs": GOLDEN_ROWS}, content_type="application/json")
    assert (response.status_code, response.json()) == (200, {"predictions": [0, 1, 2, 2]})


def test_binary_extension(authed: Client) -> None:
    import numpy as np

    raw = np.array(GOLDEN_ROWS[:1], dtype=np.float64).tobytes()
    header = json.dumps(
        {
            "inputs": [
                {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": "label"}],
        }
    ).encode()
    response = authed.generic(
        "POST",
        "/v2/models/iris/infer",
        header + raw,
        content_type="application/octet-stream",
        HTTP_INFERENCE_HEADER_CONTENT_LENGTH=str(len(header)),
    )
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == [0]


def test_metrics_and_openapi(authed: Client) -> None:
    authed.post("/v1/models/iris:predict", {"instances": GOLDEN_ROWS}, content_type="application/json")
    text = Client().get("/metrics").content.decode()
    assert 'stackgen_http_requests_total{method="POST",route="/v1/models/{name}:predict",status="200"}' in text
    document = Client().get("/openapi.json").json()
    assert document["openapi"] == "3.0.3"
    assert "/v2/models/{name}/infer" in document["paths"]
