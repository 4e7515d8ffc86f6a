from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from model_core.api import ModelAPI
from model_core.train import write_model
from model_django.api.auth import TOKENS
from model_django.service import get_api

GOLDEN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]


@pytest.fixture(scope="session")
def django_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("django-model")
    write_model(out)
    return out


@pytest.fixture(autouse=True)
def api(django_model_dir: Path, settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelAPI]:
    monkeypatch.setenv("STACKGEN_MODEL_DIR", str(django_model_dir))
    monkeypatch.setenv("STACKGEN_MAX_BATCH", "8")
    monkeypatch.setenv("STACKGEN_RELEASE_ID", "django-test")
    get_api.cache_clear()
    instance = get_api()
    instance.start()
    from django.core.cache import cache

    cache.clear()  # throttle counters
    TOKENS.clear()
    yield instance
    get_api.cache_clear()


@pytest.fixture
def token(db) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    return Token.objects.create(user=user).key


@pytest.fixture
def authed(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def infer_body(rows: list[list[float]]) -> dict[str, object]:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]}
