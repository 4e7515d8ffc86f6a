"""Training, manifest checks, loaders (computing only the outputs asked for) and the check command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from model_core.api import ModelAPI
from model_core.check import main as check_main
from model_core.config import Config
from model_core.errors import ArtifactError
from model_core.loaders import Predictor, SklearnLoader
from model_core.manifest import load_manifest, sha256_of
from model_core.messages import ApiRequest, InferenceRecord
from model_core.service import ModelService
from model_core.train import main as train_main
from model_core.train import write_model
from model_flask import create_app

from .conftest import GOLDEN_ROWS, api_of

GOLDEN_LABELS = [0, 1, 2, 2]
GOLDEN_PROBABILITIES = [
    [0.985, 0.015, 0.0],
    [0.008, 0.894, 0.098],
    [0.0, 0.006, 0.994],
    [0.003, 0.294, 0.703],
]


def test_manifest_describes_the_artifact(model_dir: Path) -> None:
    manifest = load_manifest(model_dir)
    assert manifest.name == "iris"
    assert manifest.version == "1"
    assert manifest.loader == "sklearn"
    assert manifest.sha256 == sha256_of(model_dir / "model.joblib")
    assert manifest.feature_names == (
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    )
    assert [(o.name, o.datatype, o.shape) for o in manifest.outputs] == [
        ("label", "INT64", (-1,)),
        ("probabilities", "FP64", (-1, 3)),
    ]


def test_golden_predictions(model_dir: Path) -> None:
    service = ModelService(model_dir)
    service.load()
    labels, probabilities = service.predict(np.array(GOLDEN_ROWS))
    assert labels.tolist() == GOLDEN_LABELS
    assert np.round(probabilities, 3).tolist() == GOLDEN_PROBABILITIES


def test_training_is_reproducible(model_dir: Path, tmp_path: Path) -> None:
    again = ModelService(write_model(tmp_path) and tmp_path)
    again.load()
    first = ModelService(model_dir)
    first.load()
    rows = np.array(GOLDEN_ROWS)
    np.testing.assert_array_equal(again.predict(rows)[1], first.predict(rows)[1])


def test_onnx_loader_matches_sklearn(onnx_dir: Path) -> None:
    service = ModelService(onnx_dir)
    service.load()
    labels, probabilities = service.predict(np.array(GOLDEN_ROWS))
    assert service.manifest is not None and service.manifest.loader == "onnx"
    assert labels.tolist() == GOLDEN_LABELS
    assert np.round(probabilities.astype(np.float64), 3).tolist() == GOLDEN_PROBABILITIES


def test_sha256_mismatch_refuses_to_load(copied_model: Path) -> None:
    with (copied_model / "model.joblib").open("ab") as fh:
        fh.write(b"tampered")
    service = ModelService(copied_model)
    with pytest.raises(ArtifactError, match=r"sha256 \w+ but the manifest says"):
        service.load()
    assert service.ready is False
    assert "refusing to serve it" in (service.error or "")


def test_unknown_loader_is_a_clear_error(copied_model: Path) -> None:
    manifest = json.loads((copied_model / "manifest.json").read_text())
    manifest["loader"] = "pickle-from-the-internet"
    (copied_model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unknown loader 'pickle-from-the-internet' \\(known: onnx, sklearn\\)"):
        ModelService(copied_model).load()


def test_check_command_exit_codes(model_dir: Path, copied_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([str(model_dir)]) == 0
    assert capsys.readouterr().out.startswith("ok: model iris version 1 (sklearn) loaded and warmed up in ")
    (copied_model / "model.joblib").write_bytes(b"not a model")
    assert check_main([str(copied_model)]) == 1
    assert "refusing to serve it" in capsys.readouterr().err


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=f"no manifest at {tmp_path}/manifest.json"):
        ModelService(tmp_path).load()


def test_random_forest_example(tmp_path: Path, model_dir: Path) -> None:
    manifest = write_model(tmp_path, estimator="random_forest")
    assert manifest["training"]["estimator"] == "RandomForestClassifier"
    default = json.loads((model_dir / "manifest.json").read_text())
    assert default["training"]["estimator"] == "StandardScaler+LogisticRegression"
    # Same contract as the default model: only the artifact and the estimator's name differ.
    for document in (manifest, default):
        document.pop("sha256")
        document["training"].pop("estimator")
    assert manifest == default
    service = ModelService(tmp_path)
    service.load()
    labels, probabilities = service.predict(np.array(manifest["example"]))
    assert labels.tolist() == [0]
    assert probabilities.shape == (1, 3) and probabilities[0].sum() == pytest.approx(1.0)
    assert service.predict(np.array(GOLDEN_ROWS), ["label"])[0].tolist() == GOLDEN_LABELS


def test_random_forest_has_no_onnx_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        train_main(["--out", str(tmp_path), "--format", "onnx", "--estimator", "random_forest"])
    assert exited.value.code == 2
    assert "--format onnx supports only --estimator logistic, not random_forest" in capsys.readouterr().err
    assert not (tmp_path / "manifest.json").exists()


class SpyEstimator:
    def __init__(self) -> None:
        self.methods: list[str] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.methods.append("predict")
        return np.zeros(len(rows), dtype=np.int64)

    def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        self.methods.append("predict_proba")
        return np.full((len(rows), 3), 1 / 3)


@pytest.mark.parametrize(
    ("outputs", "methods"),
    [
        (["label"], ["predict"]),
        (["probabilities"], ["predict_proba"]),
        (["probabilities", "label"], ["predict_proba", "predict"]),
    ],
)
def test_sklearn_loader_computes_only_the_outputs_asked_for(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, outputs: list[str], methods: list[str]
) -> None:
    import joblib

    spy = SpyEstimator()
    monkeypatch.setattr(joblib, "load", lambda path: spy)
    predictor = SklearnLoader().load(model_dir / "model.joblib", load_manifest(model_dir))
    results = predictor(np.zeros((2, 4)), outputs)
    assert spy.methods == methods
    assert [r.shape for r in results] == [(2,) if name == "label" else (2, 3) for name in outputs]


def test_onnx_loader_runs_only_the_outputs_asked_for(onnx_dir: Path) -> None:
    service = ModelService(onnx_dir)
    service.load()
    (probabilities,) = service.predict(np.array(GOLDEN_ROWS), ["probabilities"])
    assert np.round(probabilities.astype(np.float64), 3).tolist() == GOLDEN_PROBABILITIES
    (labels,) = service.predict(np.array(GOLDEN_ROWS), ["label"])
    assert labels.tolist() == GOLDEN_LABELS


def test_unknown_output_is_a_programming_error(model_dir: Path) -> None:
    service = ModelService(model_dir)
    service.load()
    with pytest.raises(ValueError, match=r"model iris has no outputs \['score'\]"):
        service.predict(np.array(GOLDEN_ROWS), ["label", "score"])


def spy_on_outputs(client: FlaskClient) -> list[tuple[str, ...]]:
    """Record the outputs each model call of the client's app computes."""
    service = api_of(client).service
    real: Predictor | None = service._predictor
    assert real is not None
    asked: list[tuple[str, ...]] = []

    def predictor(rows: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        asked.append(tuple(outputs))
        return real(rows, outputs)

    service._predictor = predictor
    return asked


def infer(outputs: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": GOLDEN_ROWS[:2]}]
    }
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


def test_routes_compute_only_what_they_answer(client: FlaskClient) -> None:
    asked = spy_on_outputs(client)
    assert client.post("/v1/models/iris:predict", json={"instances": GOLDEN_ROWS}).json == {
        "predictions": GOLDEN_LABELS
    }
    assert client.post("/invocations", json={"inputs": GOLDEN_ROWS}).json == {"predictions": GOLDEN_LABELS}
    only_probabilities = client.post("/v2/models/iris/infer", json=infer(["probabilities"])).json
    assert [o["name"] for o in only_probabilities["outputs"]] == ["probabilities"]
    everything = client.post("/v2/models/iris/infer", json=infer()).json
    assert [o["name"] for o in everything["outputs"]] == ["label", "probabilities"]
    twice = client.post("/v2/models/iris/infer", json=infer(["label", "label"])).json
    assert [o["data"] for o in twice["outputs"]] == [[0, 1], [0, 1]]
    assert asked == [("label",), ("label",), ("probabilities",), ("label", "probabilities"), ("label",)]


def test_an_observer_still_records_labels_when_only_probabilities_are_asked(model_dir: Path) -> None:
    records: list[InferenceRecord] = []

    def observe(record: InferenceRecord, request: ApiRequest) -> None:
        records.append(record)

    config = Config(model_dir=model_dir)
    client = create_app(config, ModelAPI(config, observer=observe)).test_client()
    asked = spy_on_outputs(client)
    response = client.post("/v2/models/iris/infer", json=infer(["probabilities"]))
    assert [o["name"] for o in response.json["outputs"]] == ["probabilities"]
    assert asked == [("probabilities", "label")]
    assert [r.predictions for r in records] == [[0, 1]]
