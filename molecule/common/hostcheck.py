"""Helpers shared by the Molecule scenarios' testinfra tests. Requests are sent from inside
the container (testinfra's ansible/docker connection), so no traffic leaves the project's
containers."""

from __future__ import annotations

import base64
import json
import os
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
    """One request with curl inside the host; headers are lower-cased."""
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
        f"Host: {host_header}",
        *args,
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


def ansible_playbook(playbook: str, *args: str, limit: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the repo's playbooks against the Molecule instances (or ``limit``), from the controller."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            inventory,
            str(REPO / "playbooks" / playbook),
            *(["--limit", limit] if limit else []),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )


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
