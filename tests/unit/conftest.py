from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from model_core.api import ModelAPI
from model_core.config import Config
from model_core.train import write_model
from model_flask import create_app

GOLDEN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    write_model(out)
    return out


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx")
    write_model(out, "onnx")
    return out


@pytest.fixture
def make_client(model_dir: Path) -> Callable[..., FlaskClient]:
    def factory(**overrides: object) -> FlaskClient:
        settings: dict[str, object] = {"model_dir": model_dir, "release_id": "test-release"}
        settings.update(overrides)
        return create_app(Config(**settings)).test_client()  # type: ignore[arg-type]

    return factory


@pytest.fixture
def client(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client()


@pytest.fixture
def copied_model(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def api_of(client: FlaskClient) -> ModelAPI:
    return client.application.extensions["stackgen_api"]
