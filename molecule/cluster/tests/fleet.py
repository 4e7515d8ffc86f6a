"""Helpers for the cluster's tests: the hosts by role, the token the tests send, requests
straight to one app host, and what each app host served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))

from hostcheck import REPO, Load, curl

RENDERED = REPO / "build" / "cluster"
TOKEN = "a" * 32  # molecule/cluster/vault.yml (alice)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INFER = "https://localhost/v2/models/iris/infer"
APP_HOSTS = ("stackgen-cluster-app1", "stackgen-cluster-app2")
ADDRESSES = {
    "stackgen-cluster-lb": "172.30.57.10",
    "stackgen-cluster-app1": "172.30.57.21",
    "stackgen-cluster-app2": "172.30.57.22",
    "stackgen-cluster-db": "172.30.57.30",
}


def get(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")


def direct(lb, app: str, path: str = "/v2/health/ready", *args: str):
    """A request from the load balancer straight to one app host, with the load balancer's own
    client certificate: what the load balancer itself would get from that host."""
    return curl(
        lb,
        f"https://app-tier.stackgen.internal:8443{path}",
        "--resolve",
        f"app-tier.stackgen.internal:8443:{ADDRESSES[app]}",
        "--cacert",
        "/etc/stackgen/pki/ca.crt",
        "--cert",
        "/etc/stackgen/pki/host.crt",
        "--key",
        "/etc/stackgen/pki/host.key",
        *args,
    )


def served(app_host, since: str, uri: str | None = None) -> list[dict]:
    """The requests (to ``uri``) the app host's nginx answered since ``since`` (its JSON access log)."""
    out = app_host.run("cat /var/log/nginx/access.log").stdout
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [e for e in entries if e["time"] >= since and uri in (None, e["uri"])]


def host_time(host) -> str:
    return host.run("date --iso-8601=seconds").stdout.strip()


def docker(*args: str) -> None:
    subprocess.run(["docker", *args], check=True, capture_output=True, timeout=120)


def wait_until(probe, seconds: float, step: float = 0.5) -> float:
    """Seconds until probe() was true; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if probe():
            return time.monotonic() - started
        time.sleep(step)
    raise AssertionError(f"not within {seconds} s")


__all__ = ["AUTH", "INFER", "RENDERED", "Load", "curl", "direct", "docker", "host_time", "served", "wait_until"]
