"""Bad input gets the same statuses and JSON errors as the Flask service."""

from __future__ import annotations

import pytest
from django.test import Client

from .conftest import GOLDEN_ROWS, infer_body

pytestmark = pytest.mark.django_db
INFER = "/v2/models/iris/infer"


def test_malformed_json(authed: Client) -> None:
    response = authed.post(INFER, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON in request body")


def test_wrong_feature_count(authed: Client) -> None:
    response = authed.post("/v1/models/iris:predict", {"instances": [[1, 2, 3]]}, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"error": "instances: expected 4 features per row, got 3"})


def test_too_many_rows_is_413(authed: Client) -> None:
    rows = GOLDEN_ROWS * 3
    response = authed.post(INFER, infer_body(rows), content_type="application/json")
    assert (response.status_code, response.json()) == (
        413,
        {"error": "inputs[0]: 12 rows exceed the maximum batch of 8"},
    )


def test_body_over_the_limit_is_413(authed: Client, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.MAX_BODY_BYTES = 100
    response = authed.post(INFER, "x" * 500, content_type="application/json")
    assert (response.status_code, response.json()) == (
        413,
        {"error": "request body larger than the limit of 100 bytes"},
    )


def test_unknown_model_and_route_are_404(authed: Client) -> None:
    response = authed.get("/v2/models/wine")
    assert (response.status_code, response.json()) == (404, {"error": "model 'wine' not found (served: 'iris')"})
    response = authed.get("/nowhere")
    assert (response.status_code, response.json()) == (404, {"error": "no such route: /nowhere"})


def test_wrong_method_is_405(authed: Client) -> None:
    response = authed.get(INFER)
    assert (response.status_code, response.json()) == (
        405,
        {"error": "method GET is not allowed for /v2/models/iris/infer"},
    )
    assert response["Allow"] == "POST"  # as Flask: OPTIONS is a 405 too, never DRF's own metadata
    assert authed.options(INFER).status_code == 405


def test_unsupported_content_type_is_415(authed: Client) -> None:
    response = authed.post(INFER, "a,b", content_type="text/csv")
    assert response.status_code == 415
    assert response.json() == {
        "error": "Content-Type 'text/csv' is not supported (expected application/json or application/octet-stream)"
    }
