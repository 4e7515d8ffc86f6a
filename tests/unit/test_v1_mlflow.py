"""KServe V1 and MLflow-style endpoints."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import GOLDEN_ROWS

FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def test_v1_list_and_model(client: FlaskClient) -> None:
    assert client.get("/v1/models").json == {"models": ["iris"]}
    assert client.get("/v1/models/iris").json == {"name": "iris", "ready": True}


def test_v1_predict(client: FlaskClient) -> None:
    response = client.post("/v1/models/iris:predict", json={"instances": GOLDEN_ROWS})
    assert (response.status_code, response.json) == (200, {"predictions": [0, 1, 2, 2]})


def test_v1_predict_with_named_features(client: FlaskClient) -> None:
    instance = dict(zip(FEATURES, GOLDEN_ROWS[1], strict=True))
    response = client.post("/v1/models/iris:predict", json={"instances": [instance]})
    assert response.json == {"predictions": [1]}


def test_invocations_accepts_every_mlflow_format(client: FlaskClient) -> None:
    split = {"columns": list(reversed(FEATURES)), "data": [list(reversed(r)) for r in GOLDEN_ROWS]}
    records = [dict(zip(FEATURES, r, strict=True)) for r in GOLDEN_ROWS]
    for body in (
        {"instances": GOLDEN_ROWS},
        {"inputs": GOLDEN_ROWS},
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"inputs": records},
    ):
        response = client.post("/invocations", json=body)
        assert (response.status_code, response.json) == (200, {"predictions": [0, 1, 2, 2]}), body


def test_invocations_needs_exactly_one_format(client: FlaskClient) -> None:
    response = client.post("/invocations", json={"instances": GOLDEN_ROWS, "inputs": GOLDEN_ROWS})
    assert response.status_code == 400
    assert response.json == {
        "error": "request body: expected exactly one of dataframe_split, dataframe_records, instances, inputs"
    }


def test_invocations_unknown_column(client: FlaskClient) -> None:
    split = {"columns": [*FEATURES[:3], "colour"], "data": [GOLDEN_ROWS[0]]}
    response = client.post("/invocations", json={"dataframe_split": split})
    assert response.status_code == 400
    assert response.json["error"] == (
        "dataframe_split.data[0]: missing features ['petal width (cm)'], unknown features ['colour'] "
        f"(expected {FEATURES})"
    )
