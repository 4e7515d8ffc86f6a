"""Helpers shared by the Molecule scenarios' testinfra tests. Requests are sent from inside
the container (testinfra's ansible/docker connection), so no traffic leaves the project's
containers."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]
GOLDEN_LABELS = [0, 1, 2, 2]


@dataclass
class Reply:
    exit_code: int
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> object:
        return json.loads(self.body)


def curl(host, url: str, *args: str, data: str | None = None, host_header: str = "localhost") -> Reply:
    """One request with curl inside the host; headers are lower-cased. Request headers go
    through a file (curl -H @file): a bearer token in curl's argv would be a secret on a
    command line, which the Django scenario's watcher rightly reports."""
    headers = [f"Host: {host_header}"]
    rest: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "-H":
            headers.append(next(it))
        else:
            rest.append(arg)
    host.run("echo %s | base64 -d > /tmp/hdr", base64.b64encode("\n".join(headers).encode()).decode())
    cmd = [
        "curl",
        "-sk",
        "--max-time",
        "30",
        "-D",
        "/tmp/h",
        "-o",
        "/tmp/b",
        "-w",
        "%{http_code}",
        "-H",
        "@/tmp/hdr",
        *rest,
    ]
    if data is not None:
        host.run("echo %s | base64 -d > /tmp/req", base64.b64encode(data.encode()).decode())
        cmd += ["--data-binary", "@/tmp/req", "-H", "Content-Type: application/json"]
    result = host.run(
        shlex.join([*cmd, url]) + "; rc=$?; echo; cat /tmp/h; echo; echo --body--; cat /tmp/b; "
        "rm -f /tmp/h /tmp/b; exit $rc"
    )
    head, _, body = result.stdout.partition("--body--\n")
    lines = head.splitlines()
    status = int(lines[0]) if lines and lines[0].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return Reply(result.rc, status, headers, body)


def infer_body(rows: list[list[float]]) -> str:
    return json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]})


def ansible_playbook(
    playbook: str, *args: str, limit: str | None = None, directory: Path = REPO / "playbooks"
) -> subprocess.CompletedProcess[str]:
    """Run one of the repo's playbooks (or a rendered deployment's entry in ``directory``) against
    the Molecule instances (or ``limit``), from the controller."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            inventory,
            str(directory / playbook),
            *(["--limit", limit] if limit else []),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )


def recap(stdout: str, host: str) -> dict[str, int]:
    """One host's PLAY RECAP counters (ok, changed, failed, ...) from ansible-playbook's output."""
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", stdout, re.MULTILINE)
    assert match, stdout[-3000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def build_bundle(out: Path, *args: str) -> dict[str, object]:
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_bundle.py"), "--out", str(out), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads((out / "release.json").read_text())
    info["_dir"] = str(out)
    return info


RELEASE_ID = r"\d{14}-[0-9a-f]{8}-[0-9a-f]{8}"


class Load:
    """Four (or more) clients sending real inference requests through the host's nginx for the
    duration of a ``with`` block; ``summary`` then holds their answers by status and release."""

    def __init__(
        self,
        host,
        clients: int = 4,
        url: str = "https://localhost/v2/models/iris/infer",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.host, self.clients, self.url, self.headers = host, clients, url, headers or {}
        self.summary: dict[str, object] = {}

    def __enter__(self) -> Load:
        script = (Path(__file__).with_name("loadclient.py")).read_bytes()
        self.host.run("echo %s | base64 -d > /tmp/loadclient.py", base64.b64encode(script).decode())
        self.host.run(
            "systemctl stop stackgen-load; systemctl reset-failed stackgen-load; rm -f /tmp/load.stop /tmp/load.json"
        )
        lines = "".join(f"{name}: {value}\n" for name, value in self.headers.items()).encode()
        self.host.run("umask 077; echo %s | base64 -d > /tmp/load.headers", base64.b64encode(lines or b"\n").decode())
        started = self.host.run(
            "systemd-run --quiet --collect --unit=stackgen-load python3 /tmp/loadclient.py --clients %s --url %s"
            " --header-file /tmp/load.headers",
            str(self.clients),
            self.url,
        )
        assert started.rc == 0, started.stderr
        self.host.run("sleep 2")  # let every client get answers before the change starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.run("touch /tmp/load.stop")
        for _ in range(120):
            result = self.host.run("cat /tmp/load.json")
            if result.rc == 0:
                self.summary = json.loads(result.stdout)
                return
            self.host.run("sleep 1")
        raise AssertionError("the load clients did not stop within 120 s")

    @property
    def statuses(self) -> dict[str, int]:
        return dict(self.summary["status"])  # type: ignore[arg-type]

    @property
    def releases(self) -> set[str]:
        return set(self.summary["release"])  # type: ignore[arg-type]

    def last_releases(self) -> set[str]:
        return {order[-1] for order in self.summary["order"]}  # type: ignore[union-attr]


def live_release(host) -> str:
    """The release that answers through nginx (X-Release-Id of the readiness route)."""
    reply = curl(host, "https://localhost/v2/health/ready")
    assert reply.status == 200, (reply.status, reply.body)
    return reply.headers["x-release-id"]


def running_releases(host, app: str = "model") -> list[str]:
    """Releases whose gunicorn service is active."""
    out = host.run(
        "systemctl list-units --plain --no-legend --state=active,activating 'gunicorn-%s@*.service'", app
    ).stdout
    return sorted(line.split()[0].split("@", 1)[1].removesuffix(".service") for line in out.splitlines() if line)


def socket_release(host, app: str = "model") -> str:
    """The release whose socket nginx connects to: /srv/<app>/current/gunicorn.sock, resolved."""
    path = host.run("readlink -f /srv/%s/current/gunicorn.sock", app).stdout.strip()
    match = re.fullmatch(rf"/run/gunicorn/{app}/({RELEASE_ID})\.sock", path)
    return match.group(1) if match else ""


def link_target(host, path: str) -> str:
    return host.run("readlink %s", path).stdout.strip()
