"""Load on the converged bench host, generated INSIDE its container (no docker-proxy on the path).

wrk is Debian's package, installed in the container with apt-get (the container's apt sources
are the host's mirror, written by debootstrap in docker/base/build-images.sh; checked here).
wrk's own CPU comes from the cutime+cstime of the shell that ran it. Server CPU and PSS come
from /proc on the Docker host: the nginx and gunicorn process trees under the container's init.

Paths: through nginx (127.0.0.1:80 in the container). Directly against gunicorn only when the
release's gunicorn listens on TCP; the roles have no variable for that today (see DIRECT_NOTE).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_measure import (
    CLK_TCK,
    RUN_METRICS,
    MidRunSampler,
    ProcessGroup,
    all_stats,
    descendants,
    machine_busy_ticks,
    parse_stat,
    per_request_ms,
)
from bench_measure import summarize as _summarize
from loadgen import infer_body, lua_script, parse_wrk, wrk_command

ROOT = Path(__file__).resolve().parent.parent
DIRECT_NOTE = (
    "host: the direct path (wrk -> gunicorn on TCP inside the container) is skipped: gunicorn runs "
    "socket-activated (gunicorn-<app>@<release>.socket, a unix socket), and under socket activation "
    "gunicorn ignores `bind`, so roles/gunicorn's gunicorn_bind cannot add a TCP listener; "
    "app_release/app_flask pass no bind or listen variable either. Needed: a role variable for extra "
    "ListenStream addresses in the release's socket unit (with ReusePort=yes, since two releases run "
    "side by side during a switch), passed through app_release and app_flask"
)


def _docker(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, check=check)


def install_wrk(name: str) -> dict[str, Any]:
    """apt-get install wrk in the container; whether its apt sources name the host's mirror."""
    mirror = subprocess.run([str(ROOT / "docker/base/apt-mirror.sh")], capture_output=True, text=True, check=True)
    sources = _docker("exec", name, "sh", "-c", "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null; true")
    same = mirror.stdout.strip().rstrip("/") in sources.stdout
    script = "command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; } >/tmp/apt-wrk.log 2>&1"
    installed = _docker("exec", name, "sh", "-c", script, check=False)
    if installed.returncode != 0:
        log = _docker("exec", name, "tail", "-20", "/tmp/apt-wrk.log", check=False).stdout
        raise SystemExit(f"bench: apt-get install wrk failed in {name}:\n{log}")
    return {"apt_sources_use_host_mirror": same}  # the mirror's name stays out of the figures


def server_group(name: str) -> ProcessGroup:
    """The nginx and gunicorn trees under the container's init, seen from the Docker host's /proc."""
    init = int(_docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip())
    stats = all_stats()
    inside = set(descendants([init], stats))
    roots: dict[str, int] = {}
    for pid in sorted(inside):
        comm, parent = stats[pid].comm, stats.get(stats[pid].ppid)
        kind = "nginx" if comm.startswith("nginx") else "gunicorn" if comm.startswith("gunicorn") else None
        if kind and not (parent and parent.pid in inside and parent.comm.startswith(kind)):
            roots[kind if kind not in roots else f"{kind}-{pid}"] = pid
    if "nginx" not in roots or "gunicorn" not in roots:
        raise SystemExit(f"bench: no nginx and gunicorn process trees found in {name}: {roots}")
    return ProcessGroup(roots)


def container_wrk(name: str, url: str, body: str, seconds: float, connections: int, headers: dict[str, str]) -> dict:
    """wrk inside the container; its CPU is the cutime+cstime of the shell that waited for it."""
    script = f"/tmp/bench-{connections}-{len(body)}.lua"
    _docker("exec", "-i", name, "sh", "-c", f"cat > {script}", stdin=lua_script(body, headers))
    command = " ".join(wrk_command(url, script, seconds, connections))
    out = _docker("exec", name, "sh", "-c", f"{command}; rc=$?; cat /proc/$$/stat; exit $rc", check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench: wrk in {name} exited {out.returncode}:\n{(out.stdout + out.stderr)[-800:]}")
    figures = parse_wrk(out.stdout)
    shell = parse_stat(out.stdout.strip().splitlines()[-1])
    figures["wrk_cpu_s"] = round((shell.cutime + shell.cstime) / CLK_TCK, 3)
    return figures


def measure_load(
    name: str, seconds: float, warmup: float, reps: int, step: Callable[[str], None], notes: list[str]
) -> dict[str, Any]:
    step("installing wrk inside the bench container (apt-get, the host's mirror)")
    figures: dict[str, Any] = {"wrk": install_wrk(name)}
    print(f"NOTE: {DIRECT_NOTE}", flush=True)
    notes.append(DIRECT_NOTE)
    group = server_group(name)
    figures["server_processes"] = {role: len(pids) for role, pids in group.members().items()}
    url, headers = "http://127.0.0.1:80/v2/models/iris/infer", {"Host": "localhost"}
    cases = {"through_nginx_single_row": 1, "through_nginx_batch_64": 64}
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for rep in range(reps):
        for case, rows in cases.items():
            step(f"host rep {rep + 1}/{reps}: {case} (wrk in the container, {warmup:g}s warm-up + {seconds:g}s)")
            body = infer_body(rows)
            container_wrk(name, url, body, warmup, 8, headers)
            ticks0, busy0 = group.cpu_ticks(), machine_busy_ticks()
            sampler = MidRunSampler(group, seconds / 2).start()
            run = container_wrk(name, url, body, seconds, 8, headers)
            busy = (machine_busy_ticks() - busy0) / CLK_TCK
            cpu = (group.cpu_ticks() - ticks0) / CLK_TCK
            run["pss_under_load"] = sampler.join()
            run["other_cpu_pct"] = round(max(0.0, busy - cpu - run["wrk_cpu_s"]) / run["duration_s"] * 100, 1)
            run.update(
                server_cpu_s=round(cpu, 2),
                server_cpu_ms_per_req=per_request_ms(cpu, run["requests"]),
                server_cpu_pct=round(cpu / run["duration_s"] * 100, 1),
                wrk_cpu_ms_per_req=per_request_ms(run["wrk_cpu_s"], run["requests"]),
                wrk_cpu_pct=round(run["wrk_cpu_s"] / run["duration_s"] * 100, 1),
            )
            runs[case].append(run)
    for case, case_runs in runs.items():
        figures[case] = {
            **{
                metric: _summarize([r[metric] for r in case_runs], 4 if "per_req" in metric else 2)
                for metric in RUN_METRICS
            },
            "pss_total_mb": _summarize([r["pss_under_load"]["pss_total_mb"] for r in case_runs if r["pss_under_load"]]),
            "connections": 8,
            "runs": case_runs,
        }
        s = figures[case]
        print(
            f"  host {case}: {s['requests_per_s']['median']} req/s, p99 {s['p99_ms']['median']} ms,"
            f" server CPU {s['server_cpu_ms_per_req']['median']} ms/req (nginx + gunicorn),"
            f" wrk CPU {s['wrk_cpu_ms_per_req']['median']} ms/req, PSS {s['pss_total_mb']['median']} MB",
            flush=True,
        )
    figures["direct_to_gunicorn"] = {"skipped": DIRECT_NOTE}
    return figures
