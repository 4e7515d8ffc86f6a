"""Training, manifest checks, loaders and the check command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_core.check import main as check_main
from model_core.errors import ArtifactError
from model_core.manifest import load_manifest, sha256_of
from model_core.service import ModelService
from model_core.train import write_model

from .conftest import GOLDEN_ROWS

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
