"""Flask and Django answer hostile input alike: the same Authorization headers pass and fail with
the same statuses and messages, metric labels stay within the same fixed sets, and both OpenAPI
documents declare the bearer scheme and the 401 it brings."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from model_core.auth import INVALID, MISSING
from model_core.config import Config
from model_core.metrics import METHODS
from model_core.routes import ROUTES
from model_django.service import get_api
from model_flask import create_app

from ..metric_labels import LIVE, random_methods, random_paths, request_label_values
from .conftest import GOLDEN_ROWS

pytestmark = pytest.mark.django_db
V1 = "/v1/models/iris:predict"
OK = (200, None)
NO_TOKEN = (401, MISSING)
BAD_TOKEN = (401, INVALID)
T = "{token}"  # replaced by the test's token, the same on both adapters

# (Authorization header or None for none, expected status and error message)
HEADERS: list[tuple[str | None, tuple[int, str | None]]] = [
    (None, NO_TOKEN),
    ("", NO_TOKEN),
    (f"Bearer {T}", OK),
    (f"bearer {T}", OK),  # the scheme is case-insensitive (RFC 9110 §11.1)
    (f"BEARER {T}", OK),
    (f"Bearer   {T}", OK),  # repeated spaces and tabs separate, as DRF always allowed
    (f"Bearer\t{T}", OK),
    (f" Bearer {T} ", OK),  # optional whitespace around the field value
    ("Bearer", NO_TOKEN),
    ("Bearer   ", NO_TOKEN),
    (f"Bearer{T}", NO_TOKEN),  # no separator: an unknown scheme
    (f"Bearer,{T}", NO_TOKEN),
    (f"Token {T}", NO_TOKEN),  # DRF's own keyword is not accepted
    ("Basic " + base64.b64encode(b"alice:pw-alice-123").decode(), NO_TOKEN),
    ("Bearer wrong-token-0123456789abcdef", BAD_TOKEN),
    (f"Bearer {T} {T}", BAD_TOKEN),  # a token has no spaces
    (f"Bearer {T}\textra", BAD_TOKEN),
    (f"Bearer {T}\x01", BAD_TOKEN),
    (f"Bearer {T}\x7f", BAD_TOKEN),
    # As a server hands over UTF-8 bytes: decoded as Latin-1 (WSGI).
    ("Bearer t\u00f6k\u00e9n".encode().decode("latin-1"), BAD_TOKEN),
    (f"Bearer {T}\u00e9", BAD_TOKEN),
    (f"B\u00e9arer {T}", NO_TOKEN),
]


@pytest.fixture
def flask_client(django_model_dir, token: str) -> FlaskClient:
    config = Config(model_dir=django_model_dir, release_id="flask-test", auth_enabled=True, api_tokens=(token,))
    return create_app(config).test_client()


def flask_answer(client: FlaskClient, header: str | None) -> tuple[int, str | None, str | None]:
    headers = {} if header is None else {"Authorization": header}
    response = client.post(V1, json={"instances": GOLDEN_ROWS}, headers=headers)
    return response.status_code, (response.json or {}).get("error"), response.headers.get("WWW-Authenticate")


def django_answer(header: str | None) -> tuple[int, str | None, str | None]:
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = Client().post(V1, {"instances": GOLDEN_ROWS}, content_type="application/json", **extra)
    return response.status_code, json.loads(response.content).get("error"), response.get("WWW-Authenticate")


@pytest.mark.parametrize(("header", "expected"), HEADERS, ids=[repr(h) for h, _ in HEADERS])
def test_the_same_authorization_headers_pass_and_fail_alike(
    flask_client: FlaskClient, token: str, header: str | None, expected: tuple[int, str | None]
) -> None:
    header = None if header is None else header.replace(T, token)
    challenge = "Bearer" if expected[0] == 401 else None
    assert flask_answer(flask_client, header) == (*expected, challenge)
    assert django_answer(header) == (*expected, challenge)


def test_django_metric_labels_stay_fixed() -> None:
    client = Client()
    for method in sorted(METHODS):
        client.generic(method, LIVE)
    for method, path in zip(random_methods(60, seed=1), random_paths(60, seed=2), strict=True):
        assert client.generic(method, LIVE).status_code == 405
        assert client.generic(method, path).status_code in (404, 405)
    for path in random_paths(60, seed=3):
        assert client.get(path).status_code == 404
    assert client.post("/v2/models/some-name/infer", {}, content_type="application/json").status_code == 401
    methods, routes = request_label_values(get_api().metrics)
    assert methods == METHODS | {"other"}
    assert routes == {LIVE, "/v2/models/{name}/infer", "unmatched"}


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def assert_declares_bearer(document: dict[str, Any], security: list[dict[str, Any]], throttled: bool) -> None:
    validate(document)
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    protected = {route.name for route in ROUTES if route.protected}
    for name, op in operations(document).items():
        if name in protected:
            assert op["security"] == security, name
            assert set(op["responses"]["401"]["headers"]) == {"WWW-Authenticate"}, name
            assert ("429" in op["responses"]) is throttled, name
        else:
            assert "security" not in op and not {"401", "429"} & set(op["responses"]), name


def test_both_openapi_documents_declare_the_bearer_scheme(flask_client: FlaskClient) -> None:
    assert_declares_bearer(flask_client.get("/openapi.json").json, [{"bearer": []}], throttled=False)
    django_document = Client().get("/openapi.json").json()
    assert_declares_bearer(django_document, [{"bearer": []}], throttled=True)
    assert set(operations(django_document)["v2_infer"]["responses"]["429"]["headers"]) == {"Retry-After"}


def test_django_document_with_anonymous_inference_makes_the_token_optional(settings) -> None:
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    get_api.cache_clear()  # the document reflects the settings the process started with
    get_api().start()
    assert_declares_bearer(Client().get("/openapi.json").json(), [{"bearer": []}, {}], throttled=True)


def test_flask_without_auth_declares_none(client_without_auth: FlaskClient) -> None:
    document = client_without_auth.get("/openapi.json").json
    assert "securitySchemes" not in document["components"]
    assert not [name for name, op in operations(document).items() if "security" in op or "401" in op["responses"]]


@pytest.fixture
def client_without_auth(django_model_dir) -> FlaskClient:
    return create_app(Config(model_dir=django_model_dir)).test_client()


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png;q=1, */*;q=0"])
@pytest.mark.parametrize("with_token", [True, False])
def test_the_accept_header_changes_nothing(
    flask_client: FlaskClient, token: str, accept: str, with_token: bool
) -> None:
    # Both services speak JSON only: no 406, the same answer as without an Accept header.
    auth = {"Authorization": f"Bearer {token}"} if with_token else {}
    flask = flask_client.post(V1, json={"instances": GOLDEN_ROWS}, headers={**auth, "Accept": accept})
    extra = {"HTTP_AUTHORIZATION": auth["Authorization"]} if with_token else {}
    django = Client().post(V1, {"instances": GOLDEN_ROWS}, content_type="application/json", HTTP_ACCEPT=accept, **extra)
    expected = 200 if with_token else 401
    assert (flask.status_code, flask.headers["Content-Type"]) == (expected, "application/json")
    assert (django.status_code, django["Content-Type"]) == (expected, "application/json")
    assert json.loads(django.content) == flask.json
