"""The converged-host part of `make bench`: times and throughput on a real converged host.

A throwaway container (stackgen-bench) is converged by playbooks/site.yml with nginx
published on 127.0.0.1. Measured: fresh converge, idempotent rerun, a code-only deploy and a
settings-only change (each through the release gate), the switch (new release healthy -> old
release stopped); then load from wrk inside the container (tools/bench_host_load.py): through
nginx, interleaved reps after warm-ups, server CPU per request and PSS under load.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_host_load import measure_load
from loadgen import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
NAME = "stackgen-bench"
INVENTORY = """---
all:
  children:
    app: {hosts: {%(name)s: null}}
    web: {hosts: {%(name)s: null}}
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
    stackgen_framework: flask
    nginx_tls_mode: none
    nginx_sites:
      - {name: model, server_names: [localhost], app: model}
"""
SETTINGS_CHANGE = json.dumps(
    {
        "app_flask_env": {
            "STACKGEN_MODEL_DIR": "bundle/model",
            "STACKGEN_PROXY_HOPS": "1",
            "STACKGEN_AUTH": "off",
            "STACKGEN_LOG_LEVEL": "WARNING",
        }
    }
)


def _run(*cmd: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, check=False, text=True, capture_output=True, **kwargs)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise SystemExit(f"bench: {' '.join(cmd[:4])} ... exited {result.returncode}:\n{tail}")
    return result


def _timed_playbook(playbook: str, inventory: Path, *extra: str) -> dict[str, float]:
    """Seconds the playbook took and the tasks it reported changed."""
    started = time.perf_counter()
    result = _run(
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(inventory),
        str(ROOT / "playbooks" / playbook),
        *extra,
        cwd=ROOT,
    )
    changed = sum(int(n) for n in re.findall(r"\bchanged=(\d+)", result.stdout))
    return {"seconds": round(time.perf_counter() - started, 1), "changed": changed}


def _start_container(nginx_port: int) -> None:
    subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, check=False)
    _run(
        "docker",
        "run",
        "-d",
        "--name",
        NAME,
        "--cap-add",
        "SYS_ADMIN",
        "--cgroupns=host",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--stop-signal",
        "SIGRTMIN+3",
        "-p",
        f"127.0.0.1:{nginx_port}:80",
        "stackgen/systemd:bookworm",
        "/lib/systemd/systemd",
    )
    wait_booted(NAME)


def wait_booted(name: str) -> None:
    """Until systemd in the container reports running (degraded counts: a unit may fail)."""
    for _ in range(60):
        state = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise SystemExit(f"bench: systemd did not boot in {name}")


def _exec(script: str) -> str:
    return _run("docker", "exec", NAME, "sh", "-c", script).stdout.strip()


def _live() -> str:
    return _exec("readlink /srv/model/current").removeprefix("releases/")


def _switch_seconds(old: str, new: str) -> float:
    """From the new release passing its smoke test (.healthy written) to the old one stopped."""
    healthy = float(_exec(f"stat -c %.3Y /srv/model/releases/{new}/.healthy"))
    stopped = _exec(
        f"journalctl -u gunicorn-model@{old}.service -o short-unix --no-pager | grep 'Stopped gunicorn' | tail -1"
    )
    return round(float(stopped.split()[0]) - healthy, 2)


def measure_host(
    bundle_dir: Path, seconds: float, warmup: float, reps: int, step: Callable[[str], None], notes: list[str]
) -> dict[str, Any]:
    nginx_port = free_port()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "bench.yml"
        inventory.write_text(INVENTORY % {"name": NAME})
        bundle = f"app_flask_bundle_dir={bundle_dir.resolve()}"
        try:
            step("starting the bench container")
            _start_container(nginx_port)
            step("fresh converge (site.yml)")
            figures["fresh_converge_s"] = _timed_playbook("site.yml", inventory, "-e", bundle)
            step("idempotent rerun (site.yml)")
            figures["idempotent_rerun_s"] = _timed_playbook("site.yml", inventory, "-e", bundle)
            step("code-only deploy of a new release (deploy.yml)")
            new = Path(tmp) / "bundle"
            _run(sys.executable, str(ROOT / "tools" / "build_bundle.py"), "--out", str(new), cwd=ROOT)
            before = _live()
            figures["code_only_deploy_s"] = _timed_playbook(
                "deploy.yml", inventory, "-e", f"app_flask_bundle_dir={new}"
            )
            figures["release"] = _live()
            figures["switch_s"] = _switch_seconds(before, figures["release"])
            step("settings-only change (deploy.yml with another log level)")
            figures["settings_only_change_s"] = _timed_playbook(
                "deploy.yml", inventory, "-e", f"app_flask_bundle_dir={new}", "-e", SETTINGS_CHANGE
            )
            figures["settings_release"] = _live()
            figures["settings_switch_s"] = _switch_seconds(figures["release"], figures["settings_release"])
            step("idempotent rerun of that deploy")
            figures["idempotent_deploy_s"] = _timed_playbook(
                "deploy.yml", inventory, "-e", f"app_flask_bundle_dir={new}", "-e", SETTINGS_CHANGE
            )
            wait_ready(f"http://127.0.0.1:{nginx_port}/v2/health/ready", 30, {"Host": "localhost"})
            figures["load"] = measure_load(NAME, seconds, warmup, reps, step, notes)
        finally:
            subprocess.run(["docker", "rm", "-f", NAME], capture_output=True, check=False)
    return figures
