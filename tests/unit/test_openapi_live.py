"""Schema-based fuzzing against real servers: gunicorn serving the Flask app, and the Django
project on a migrated SQLite database, each on a loopback port. The test clients skip what
only a server does (HTTP parsing, header normalisation, Content-Length, the body limit);
here every generated request crosses a socket. Same checks as test_openapi_fuzz: no 5xx,
and every response matches the document. Then, with bearer tokens required, the 401s and the
accepted token cross the socket too (the fuzzed servers take anonymous requests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from model_core.auth import INVALID, MISSING

BIN = Path(sys.executable).parent
WSGI = {"flask": "model_flask.wsgi:app", "django": "model_django.wsgi:application"}
START_TIMEOUT = 30
EXAMPLES = 300  # requests per server, over all operations: a few seconds each
TOKEN = "live-test-token-0123456789abcdef"  # 20 to 40 visible characters, as ensure_api_token wants
GOLDEN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(framework: str, model_dir: Path, workdir: Path, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STACKGEN_", "DJANGO_")) and k != "API_TOKEN"}
    env.update(STACKGEN_MODEL_DIR=str(model_dir), STACKGEN_MAX_BATCH="8", STACKGEN_LOG_LEVEL="ERROR")
    if token is not None:
        # Flask: the core's own check; Django (dev settings): API_TOKEN turns anonymous inference off.
        if framework == "flask":
            env.update(STACKGEN_AUTH="on", STACKGEN_API_TOKENS=token)
        else:
            env.update(API_TOKEN=token)
    if framework == "django":
        # dev settings: SQLite at STACKGEN_SQLITE_PATH, anonymous inference unless API_TOKEN is set.
        env.update(
            DJANGO_SETTINGS_MODULE="model_django.settings.dev",
            STACKGEN_SQLITE_PATH=str(workdir / "db.sqlite3"),
            STACKGEN_THROTTLE_RATE="1000000/s",
            STACKGEN_ANON_THROTTLE_RATE="1000000/s",
        )
    return env


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} not ready within {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@contextmanager
def gunicorn(framework: str, model_dir: Path, workdir: Path, token: str | None = None) -> Iterator[str]:
    """A server on a loopback port; with ``token``, inference requires that bearer token."""
    env = _environment(framework, model_dir, workdir, token)
    if framework == "django":
        migrate = [str(BIN / "stackgen-django"), "migrate", "--noinput"]
        subprocess.run(migrate, env=env, check=True, capture_output=True, timeout=60)
        if token is not None:  # as the deployment does: a user owning the token, read from stdin
            ensure = [str(BIN / "stackgen-django"), "ensure_api_token", "api"]
            subprocess.run(ensure, env=env, input=f"{token}\n".encode(), check=True, capture_output=True, timeout=60)
    port = _free_port()
    log = workdir / "gunicorn.log"
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"]
    with log.open("wb") as out:
        server = subprocess.Popen([*command, WSGI[framework]], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(f"{base}/v2/health/ready", server, log)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)  # graceful: the master stops its worker
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.parametrize("framework", ["flask", "django"])
@pytest.mark.filterwarnings("ignore")
def test_live_server_matches_its_openapi_document(framework: str, model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(framework, model_dir, tmp_path) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        # Valid and invalid requests for every operation, drawn by one bounded hypothesis run
        # (schemathesis' pytest loader for lazy schemas does not support this pytest).
        cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))

        @given(case=cases)
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call_and_validate(case: Case) -> None:
            excluded = []
            if case.operation.path.endswith("/infer"):
                # As in test_openapi_fuzz: a schema-valid tensor's data need not match its shape.
                excluded.append(positive_data_acceptance)
            case.call_and_validate(excluded_checks=excluded)

        call_and_validate()


def _predict(base: str, authorization: str | None) -> tuple[int, str | None, str | None, object]:
    """POST a prediction over the socket: status, Content-Type, WWW-Authenticate, parsed body."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps({"instances": GOLDEN_ROWS}).encode()
    request = urllib.request.Request(f"{base}/v1/models/iris:predict", data=body, headers=headers, method="POST")
    try:
        reply = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        reply = error
    with reply:
        content = reply.read()
        return reply.status, reply.headers["Content-Type"], reply.headers["WWW-Authenticate"], json.loads(content)


@pytest.mark.parametrize("framework", ["flask", "django"])
def test_live_server_requires_its_bearer_token(framework: str, model_dir: Path, tmp_path: Path) -> None:
    with gunicorn(framework, model_dir, tmp_path, token=TOKEN) as base:
        for authorization, message in [(None, MISSING), ("Bearer not-the-token", INVALID), ("Basic YTpi", MISSING)]:
            status, content_type, challenge, body = _predict(base, authorization)
            assert (status, challenge, body) == (401, "Bearer", {"error": message}), authorization
            assert content_type is not None and content_type.startswith("application/json"), content_type
        # The scheme is case-insensitive (RFC 9110 §11.1).
        for scheme in ("bearer", "Bearer"):
            status, _, challenge, body = _predict(base, f"{scheme} {TOKEN}")
            assert (status, challenge) == (200, None), body
            assert isinstance(body, dict) and len(body["predictions"]) == len(GOLDEN_ROWS), body
