"""Readiness, auth, request ids, logs, metrics, OpenAPI and configuration."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from model_core.api import ModelAPI
from model_core.config import Config
from model_core.errors import ArtifactError, ConfigError
from model_core.jsonlog import JsonFormatter
from model_core.routes import ROUTES
from model_flask import create_app

from .conftest import GOLDEN_ROWS, api_of

V1 = "/v1/models/iris:predict"


def test_not_ready_before_load_then_ready(model_dir: Path) -> None:
    config = Config(model_dir=model_dir, load_mode="none")
    client = create_app(config).test_client()
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json) == (503, {"ready": False, "error": "model is not ready: loading"})
    assert client.get("/v2/models/iris/ready").status_code == 503
    response = client.post(V1, json={"instances": GOLDEN_ROWS})
    assert (response.status_code, response.json) == (503, {"error": "model is not ready: still loading"})
    api_of(client).load()
    assert client.get("/v2/health/ready").status_code == 200
    assert client.post(V1, json={"instances": GOLDEN_ROWS}).json == {"predictions": [0, 1, 2, 2]}


def test_tampered_artifact_never_becomes_ready(copied_model: Path) -> None:
    (copied_model / "model.joblib").write_bytes(b"tampered")
    with pytest.raises(ArtifactError):
        create_app(Config(model_dir=copied_model))
    client = create_app(Config(model_dir=copied_model, load_mode="background")).test_client()
    api_of(client).service._lock.acquire()  # wait for the background loader to finish
    api_of(client).service._lock.release()
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503
    assert "refusing to serve it" in ready.json["error"]


def test_bearer_auth_guards_inference_only(make_client, tmp_path: Path) -> None:
    client = make_client(auth_enabled=True, api_tokens=("s3cret", "other"))
    response = client.post(V1, json={"instances": GOLDEN_ROWS})
    assert (response.status_code, response.json) == (
        401,
        {"error": "missing bearer token: send 'Authorization: Bearer <token>'"},
    )
    response = client.post(V1, json={"instances": GOLDEN_ROWS}, headers={"Authorization": "Bearer wrong"})
    assert (response.status_code, response.json) == (401, {"error": "invalid bearer token"})
    response = client.post(V1, json={"instances": GOLDEN_ROWS}, headers={"Authorization": "Bearer other"})
    assert response.status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.post("/invocations", json={"instances": GOLDEN_ROWS}).status_code == 401
    assert client.post("/v2/models/iris/infer", json={}).status_code == 401


def test_request_id_is_propagated_or_generated(client) -> None:
    response = client.get("/v2/health/live", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = client.get("/v2/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["X-Request-ID"]) == 32
    assert generated.headers["X-Release-Id"] == "test-release"


def test_one_json_log_line_per_request(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="stackgen.access"):
        client.post(V1, json={"instances": GOLDEN_ROWS}, headers={"X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "stackgen.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "log-me"
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "POST",
        V1,
        "/v1/models/{name}:predict",
        200,
    )
    assert line["duration_ms"] > 0


def test_proxy_hops_trust_forwarded_for(make_client, caplog: pytest.LogCaptureFixture) -> None:
    headers = {"X-Forwarded-For": "203.0.113.9, 198.51.100.2"}
    for hops, expected in ((0, "127.0.0.1"), (1, "198.51.100.2"), (2, "203.0.113.9")):
        client = make_client(proxy_hops=hops)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="stackgen.access"):
            client.get("/v2/health/live", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert caplog.records[-1].fields["remote_addr"] == expected


def test_metrics_exposition(client) -> None:
    client.post(V1, json={"instances": GOLDEN_ROWS})
    client.post(V1, json={"instances": [[1, 2]]})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'stackgen_http_requests_total{method="POST",route="/v1/models/{name}:predict",status="200"} 1.0' in text
    assert 'stackgen_http_requests_total{method="POST",route="/v1/models/{name}:predict",status="400"} 1.0' in text
    assert 'stackgen_http_request_duration_seconds_count{route="/v1/models/{name}:predict"} 2.0' in text
    assert "stackgen_http_requests_in_flight 1.0" in text  # the /metrics request itself
    assert 'stackgen_model_info{loader="sklearn",name="iris",release="test-release",version="1"} 1.0' in text
    load_line = next(ln for ln in text.splitlines() if ln.startswith("stackgen_model_load_seconds "))
    assert float(load_line.split()[1]) > 0


def test_openapi_document_is_valid_and_complete(client) -> None:
    document = client.get("/openapi.json").json
    validate(document)
    for route in ROUTES:
        assert route.method.lower() in document["paths"][route.path], route.name
    infer = document["paths"]["/v2/models/{name}/infer"]["post"]
    assert sorted(infer["responses"]) == ["200", "400", "404", "413", "415", "500", "503"]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}


def test_openapi_declares_bearer_auth_when_on(make_client) -> None:
    document = make_client(auth_enabled=True, api_tokens=("t",)).get("/openapi.json").json
    validate(document)
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert "401" in document["paths"]["/invocations"]["post"]["responses"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "STACKGEN_MODEL_DIR is not set"),
        ({"STACKGEN_MAX_BATCH": "lots"}, "STACKGEN_MAX_BATCH='lots' is not an integer (expected an integer >= 1)"),
        ({"STACKGEN_MAX_BATCH": "0"}, "STACKGEN_MAX_BATCH=0 is too small (expected an integer >= 1)"),
        ({"STACKGEN_LOG_LEVEL": "LOUD"}, "STACKGEN_LOG_LEVEL='LOUD' is not allowed (expected one of: DEBUG, INFO"),
        ({"STACKGEN_AUTH": "maybe"}, "STACKGEN_AUTH='maybe' is not a boolean"),
        ({"STACKGEN_AUTH": "on"}, "STACKGEN_AUTH is on but no token is configured"),
        ({"STACKGEN_API_TOKENS_FILE": "/nonexistent"}, "STACKGEN_API_TOKENS_FILE='/nonexistent' cannot be read"),
        # A token no Authorization header could carry; the message never quotes it.
        ({"STACKGEN_API_TOKENS": "ok-token,two words"}, "STACKGEN_API_TOKENS/STACKGEN_API_TOKENS_FILE: a token"),
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    if env:
        env = {"STACKGEN_MODEL_DIR": "/m", **env}
    with pytest.raises(ConfigError) as err:
        Config.from_env(env)
    assert str(err.value).startswith(message)


def test_config_reads_tokens_from_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# comment\nalpha\n\nbeta\n")
    config = Config.from_env(
        {
            "STACKGEN_MODEL_DIR": "/m",
            "STACKGEN_AUTH": "on",
            "STACKGEN_API_TOKENS_FILE": str(tokens),
            "STACKGEN_PROXY_HOPS": "1",
        }
    )
    assert config.api_tokens == ("alpha", "beta")
    assert (config.auth_enabled, config.proxy_hops, config.max_batch) == (True, 1, 1024)
    assert "alpha" not in repr(config)


def test_api_is_framework_free() -> None:
    import model_core

    for module in Path(model_core.__file__).parent.glob("*.py"):
        imports = [ln for ln in module.read_text().splitlines() if ln.startswith(("import ", "from "))]
        assert not [ln for ln in imports if "flask" in ln or "django" in ln or "werkzeug" in ln], module
    assert ModelAPI.handle.__module__ == "model_core.api"
