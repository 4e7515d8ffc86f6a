"""The local Docker stack for a generated spec: up, an inference through nginx, down.

Needs a Docker engine and the local base images (make stack-test sets both up)."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request

import pytest

from stackgen.cli import main

GOLDEN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]
PROJECT = "stackgen-stack-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def docker_ids(kind: str) -> list[str]:
    cmd = ["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"]
    if kind == "container":
        cmd = ["docker", "ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("stack")
    spec = workdir / "stack.yml"
    assert (
        main(
            [
                "init",
                "--no-input",
                "--out",
                str(spec),
                "--name",
                "stack-test",
                "--framework",
                "django",
                "--database",
                "postgresql",
            ]
        )
        == 0
    )
    port = free_port()
    assert main(["up", str(spec), "--port", str(port)]) == 0
    yield spec, port
    main(["down", str(spec)])


def request(port: int, path: str, body: object | None = None) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers={"Content-Type": "application/json", "Host": "localhost"}
    )
    with urllib.request.urlopen(req, timeout=10) as reply:
        return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()


def test_inference_through_nginx(stack) -> None:
    _, port = stack
    body = {"inputs": [{"name": "input-0", "shape": [4, 4], "datatype": "FP64", "data": GOLDEN_ROWS}]}
    status, headers, raw = request(port, "/v2/models/iris/infer", body)
    assert status == 200
    assert json.loads(raw)["outputs"][0]["data"] == [0, 1, 2, 2]
    assert headers["server"] == "nginx"
    assert headers["x-content-type-options"] == "nosniff"


def test_static_files_come_from_nginx(stack) -> None:
    _, port = stack
    status, headers, _ = request(port, "/static/admin/css/base.css")
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "text/css", "public")
    assert "x-release-id" not in headers


def test_status_lists_the_services(stack, capsys: pytest.CaptureFixture[str]) -> None:
    spec, _ = stack
    assert main(["status", str(spec)]) == 0
    out = capsys.readouterr().out
    for service in ("app", "nginx", "db"):
        assert f"{PROJECT}_{service}_1" in out or f"{PROJECT}-{service}-1" in out


def test_down_keeps_data_only_when_asked(stack) -> None:
    spec, _ = stack
    assert main(["down", str(spec), "--keep-data"]) == 0
    assert docker_ids("container") == []
    assert docker_ids("network") == []
    assert len(docker_ids("volume")) == 1
    assert main(["down", str(spec)]) == 0
    assert docker_ids("volume") == []
