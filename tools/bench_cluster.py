"""The fleet part of `make bench`: what a load-balanced cluster costs against one host.

Both deployments are rendered by `stackgen render` from molecule/cluster/stack.yml (the cluster
as rendered into build/cluster by `make cluster-inventory`; the single host from the same spec
with `topology: single`), converged by their own `site.yml` on throwaway systemd containers on
one Docker network, each publishing its HTTPS port on 127.0.0.1 only.

Measured: fresh converge of the single Django + PostgreSQL host and of the cluster (load
balancer, two app hosts, PostgreSQL) and their ratio; wrk through the load balancer with two app
hosts, then with one (the second taken out of the inventory and the load balancer converged
again), and through the single host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from bench_host import wait_booted
from loadgen import free_port, infer_body, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "build" / "cluster"
SPEC = ROOT / "molecule" / "cluster" / "stack.yml"
NETWORK = "stackgen-bench-net"
SUBNET = "172.30.58"
HOSTS = {  # container name: (inventory groups, fixed address on the bench network)
    "stackgen-benchc-lb": (["web"], f"{SUBNET}.10"),
    "stackgen-benchc-app1": (["app"], f"{SUBNET}.21"),
    "stackgen-benchc-app2": (["app"], f"{SUBNET}.22"),
    "stackgen-benchc-db": (["db"], f"{SUBNET}.30"),
    "stackgen-benchs": (["web", "app", "db"], f"{SUBNET}.40"),
}


def _run(*cmd: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def _start(name: str, address: str, port: int | None) -> None:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    publish = ["-p", f"127.0.0.1:{port}:443"] if port else []
    _run(
        "docker", "run", "-d", "--name", name, "--hostname", name,
        "--network", NETWORK, "--ip", address,
        "--cap-add", "SYS_ADMIN", "--cgroupns=host", "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--stop-signal", "SIGRTMIN+3",
        *publish, "stackgen/systemd:bookworm", "/lib/systemd/systemd",
    )  # fmt: skip


def _inventory(directory: Path, names: list[str], group_vars: Path) -> Path:
    """hosts.yml for the containers, beside a link to the rendered group_vars (as Molecule does)."""
    groups: dict[str, dict[str, Any]] = {}
    for name in names:
        for group in HOSTS[name][0]:
            groups.setdefault(group, {"hosts": {}})["hosts"][name] = None
    hosts = {
        "all": {
            "children": groups,
            "vars": {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"},
        }
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    link = directory / "group_vars"
    if not link.exists():
        link.symlink_to(group_vars)
    return directory / "hosts.yml"


def _converge(deployment: Path, inventory: Path, *extra: str) -> float:
    started = time.perf_counter()
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    _run(playbook, "-i", str(inventory), "site.yml", *extra, cwd=deployment)
    return round(time.perf_counter() - started, 1)


def _single_deployment(tmp: Path) -> Path:
    """The same spec rendered for one host, with the cluster's test secrets and bundle."""
    sys.path.insert(0, str(ROOT / "src"))
    from stackgen.render import render
    from stackgen.spec import validate

    spec = yaml.safe_load(SPEC.read_text())
    spec.update({"name": "bench-single", "topology": "single", "app_hosts": 1})
    out = tmp / "single"
    render(validate(spec), out)
    for name in ("vault.yml", "test.yml"):
        shutil.copy(CLUSTER / "inventory" / "group_vars" / "all" / name, out / "inventory/group_vars/all" / name)
    (out / "bundle").symlink_to((ROOT / "build" / "bundle-django").resolve())
    return out


def _load(port: int, seconds: int, token: str) -> dict[str, Any]:
    # By name: the default server refuses TLS handshakes without a known server name (SNI).
    url = f"https://localhost:{port}/v2/models/iris/infer"
    headers = {"Host": "localhost", "Authorization": f"Bearer {token}"}
    wait_ready(f"https://localhost:{port}/v2/health/ready", 60, {"Host": "localhost"})
    wrk(url, infer_body(1), 2, headers=headers)  # warm-up, discarded
    return {"single_row": wrk(url, infer_body(1), seconds, headers=headers)}


def measure_cluster(seconds: int, step: Callable[[str], None]) -> dict[str, Any]:
    if not (CLUSTER / "site.yml").exists():
        raise SystemExit("bench: build/cluster is missing; run `make cluster-inventory` first")
    vault = yaml.safe_load((CLUSTER / "inventory/group_vars/all/vault.yml").read_text())
    token = vault["vault_django_api_tokens"][0]["token"]
    figures: dict[str, Any] = {}
    lb_port, single_port = free_port(), free_port()
    subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)
    _run("docker", "network", "create", "--subnet", f"{SUBNET}.0/24", NETWORK)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            step("single Django + PostgreSQL host: fresh converge (site.yml)")
            _start("stackgen-benchs", HOSTS["stackgen-benchs"][1], single_port)
            wait_booted("stackgen-benchs")
            single = _single_deployment(tmp)
            inventory = _inventory(tmp / "single-inv", ["stackgen-benchs"], single / "inventory" / "group_vars")
            figures["single_host_converge_s"] = _converge(single, inventory)
            step(f"wrk through the single host ({seconds}s)")
            figures["single_host"] = _load(single_port, seconds, token)
            subprocess.run(["docker", "rm", "-f", "stackgen-benchs"], capture_output=True, check=False)

            step("cluster (load balancer, 2 app hosts, PostgreSQL): fresh converge (site.yml)")
            names = [n for n in HOSTS if n.startswith("stackgen-benchc")]
            for name in names:
                _start(name, HOSTS[name][1], lb_port if name.endswith("-lb") else None)
            for name in names:
                wait_booted(name)
            group_vars = CLUSTER / "inventory" / "group_vars"
            inventory = _inventory(tmp / "cluster-inv", names, group_vars)
            figures["cluster_converge_s"] = _converge(CLUSTER, inventory)
            figures["cluster_over_single"] = round(figures["cluster_converge_s"] / figures["single_host_converge_s"], 2)
            step(f"wrk through the load balancer, two app hosts ({seconds}s)")
            figures["two_app_hosts"] = _load(lb_port, seconds, token)
            step("one app host: app2 out of the inventory, the load balancer converged again")
            inventory = _inventory(tmp / "cluster-inv", [n for n in names if not n.endswith("app2")], group_vars)
            figures["remove_app_host_s"] = _converge(CLUSTER, inventory, "--limit", "web")
            figures["one_app_host"] = _load(lb_port, seconds, token)
            two = figures["two_app_hosts"]["single_row"]["requests_per_s"]
            one = figures["one_app_host"]["single_row"]["requests_per_s"]
            figures["two_over_one_app_host"] = round(two / one, 2) if one else None
    finally:
        for name in HOSTS:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", NETWORK], capture_output=True, check=False)
    figures["cpus"] = os.cpu_count()
    return figures
