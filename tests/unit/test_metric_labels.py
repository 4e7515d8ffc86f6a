"""Metric labels come from fixed sets, whatever methods and paths clients send."""

from __future__ import annotations

from flask.testing import FlaskClient

from model_core.metrics import METHODS, method_label, route_label
from model_core.routes import ROUTES

from ..metric_labels import LIVE, random_methods, random_paths, request_label_values
from .conftest import api_of


def test_labels_collapse_to_fixed_values() -> None:
    assert {method_label(m) for m in [*METHODS, "BREW", "get", "", "G\u00e9T", "X" * 500]} == METHODS | {"other"}
    assert {route_label(r) for r in ["/v2/models/{name}/infer", "/v2/models/iris/infer", "/", "x" * 500]} == {
        "/v2/models/{name}/infer",
        "unmatched",
    }
    assert {route_label(route.path) for route in ROUTES} == {route.path for route in ROUTES}


def test_random_methods_and_paths_add_no_label_values(make_client) -> None:
    client: FlaskClient = make_client(max_body_bytes=1024)
    for method in sorted(METHODS):
        client.open(LIVE, method=method)
    for method, path in zip(random_methods(60, seed=1), random_paths(60, seed=2), strict=True):
        assert client.open(LIVE, method=method).status_code == 405
        assert client.open(path, method=method).status_code in (404, 405)
    for path in random_paths(60, seed=3):
        assert client.get(path).status_code == 404
    # A body over the limit is refused inside the route: labelled by its template, not its path.
    too_large = client.post("/v2/models/some-name/infer", data=b"x" * 4096, content_type="application/json")
    assert too_large.status_code == 413
    methods, routes = request_label_values(api_of(client).metrics)
    assert methods == METHODS | {"other"}
    assert routes == {LIVE, "/v2/models/{name}/infer", "unmatched"}
