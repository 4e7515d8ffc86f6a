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
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))

from hostcheck import GOLDEN_ROWS, REPO, Load, curl, infer_body

from stackgen.render import APP_HOST_PORT, APP_TIER_NAME, PKI_DIR

SCENARIO = Path(__file__).resolve().parents[1]
RENDERED = REPO / "build" / "cluster"
# Hosts, groups and fixed addresses as molecule.yml declares them; the token from vault.yml.
PLATFORMS = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["platforms"]
ADDRESSES = {p["name"]: p["networks"][0]["ipv4_address"] for p in PLATFORMS}
APP_HOSTS = tuple(p["name"] for p in PLATFORMS if "app" in p["groups"])
TOKEN = yaml.safe_load((SCENARIO / "vault.yml").read_text())["vault_django_api_tokens"][0]["token"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INFER = "https://localhost/v2/models/iris/infer"
INFER_PATH = "/v2/models/iris/infer"


def get(name: str):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={os.environ['MOLECULE_INVENTORY_FILE']}")


def infer(lb, request_id: str | None = None):
    """The golden inference through the load balancer, with the test token (and a request id)."""
    headers = ["-H", f"Authorization: {AUTH['Authorization']}"]
    if request_id:
        headers += ["-H", f"X-Request-ID: {request_id}"]
    return curl(lb, INFER, *headers, data=infer_body(GOLDEN_ROWS))


def direct(lb, app: str, path: str = "/v2/health/ready", *args: str):
    """A request from the load balancer straight to one app host, with the load balancer's own
    client certificate: what the load balancer itself would get from that host."""
    return curl(
        lb,
        f"https://{APP_TIER_NAME}:{APP_HOST_PORT}{path}",
        "--resolve",
        f"{APP_TIER_NAME}:{APP_HOST_PORT}:{ADDRESSES[app]}",
        *CLIENT_CERT,
        *args,
    )


# The host's own certificate and key as curl options (the load balancer's: its client certificate).
CLIENT_CERT = ("--cacert", f"{PKI_DIR}/ca.crt", "--cert", f"{PKI_DIR}/host.crt", "--key", f"{PKI_DIR}/host.key")


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


__all__ = ["Load", "curl"]  # re-exported for the tests
