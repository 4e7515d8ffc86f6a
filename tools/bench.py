"""Measure the stack; print the figures and write them as JSON (never asserted: tests assert behaviour).

    python tools/bench.py [--duration 10] [--skip-host] [--skip-cluster] [--skip-stack] [--out build/bench.json]

Sections:
  in_process  predictions/s straight through ModelService (single row, batch of 64)
  refusal     ms until an 8 MiB body of ~838k rows gets its 413 (plain and padded), beside a
              1024-row request (Flask test client, after the body was read)
  loopback    wrk against gunicorn on 127.0.0.1 (2 workers): Flask, and Django with the
              prediction log on (SQLite); requests/s and p50/p99 for single-row and 64-row infer
  host        a throwaway systemd container converged by the real playbook: fresh converge,
              idempotent rerun and code-only deploy times; wrk through nginx and directly
              against gunicorn (same workers); PSS of the gunicorn processes
  cluster     the same spec as one Django + PostgreSQL host and as a load-balanced cluster (load
              balancer, 2 app hosts, PostgreSQL): fresh converge of each and the ratio; wrk
              through the single host, and through the load balancer with two then one app host
  docker_stack  `stackgen up` to ready (cold: images built; warm: cached), image sizes
Load goes to 127.0.0.1 only (container ports are published on loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_cluster import measure_cluster
from bench_host import measure_host
from bench_refusal import measure_refusal
from bench_stack import measure_stack
from loadgen import ROWS, free_port, infer_body, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_TOKEN = "bench-token-0123456789abcdef"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def in_process(model_dir: Path, seconds: float) -> dict[str, Any]:
    from model_core.service import ModelService

    service = ModelService(model_dir)
    service.load()
    results: dict[str, Any] = {"model_load_seconds": round(service.load_seconds or 0, 4)}
    for label, n in (("single_row", 1), ("batch_64", 64)):
        rows = np.array([ROWS[i % len(ROWS)] for i in range(n)])
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            service.predict(service.validate_rows(rows, "bench"))
            calls += 1
        elapsed = time.perf_counter() - started
        results[label] = {"calls_per_s": round(calls / elapsed, 1), "predictions_per_s": round(calls * n / elapsed, 1)}
    return results


def under_gunicorn(framework: str, model_dir: Path, seconds: int, workers: int) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "STACKGEN_MODEL_DIR": str(model_dir), "STACKGEN_LOG_LEVEL": "WARNING"}
    headers: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if framework == "django":
            env.update(
                DJANGO_SETTINGS_MODULE="model_django.settings.dev",
                STACKGEN_SQLITE_PATH=f"{tmp}/db.sqlite3",
                API_TOKEN=BENCH_TOKEN,  # dev settings: a token turns anonymous inference off
                STACKGEN_THROTTLE_RATE="1000000/s",
            )
            for command, stdin in ((["migrate", "--noinput"], ""), (["ensure_api_token", "bench"], BENCH_TOKEN)):
                subprocess.run(
                    [str(BIN / "stackgen-django"), *command],
                    env=env,
                    input=stdin,
                    text=True,
                    check=True,
                    capture_output=True,
                )
            headers["Authorization"] = f"Bearer {BENCH_TOKEN}"
        wsgi = "model_flask.wsgi:app" if framework == "flask" else "model_django.wsgi:application"
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--preload",
                "--no-control-socket",
                "--log-level",
                "warning",
                wsgi,
            ],
            env=env,
            cwd=ROOT,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", 60)
            url = f"http://127.0.0.1:{port}/v2/models/iris/infer"
            figures: dict[str, Any] = {"workers": workers}
            figures["single_row"] = wrk(url, infer_body(1), seconds, headers=headers)
            figures["batch_64"] = wrk(url, infer_body(64), seconds, headers=headers)
            if framework == "django":
                figures["prediction_log_rows"] = _count_log_rows(env)
            return figures
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def _count_log_rows(env: dict[str, str]) -> int:
    code = "from model_django.predictions.models import PredictionLog as P; print(P.objects.count())"
    out = subprocess.run(
        [str(BIN / "stackgen-django"), "shell", "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    return int(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "build" / "model")
    parser.add_argument("--bundle-dir", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the loopback runs")
    parser.add_argument("--skip-host", action="store_true", help="skip the converged-host section (no Docker)")
    parser.add_argument("--skip-stack", action="store_true", help="skip the local Docker stack section")
    parser.add_argument("--skip-cluster", action="store_true", help="skip the load-balanced cluster section")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "duration_s": args.duration,
    }
    step(f"in-process predictions ({args.duration / 2:.0f}s per case)")
    figures["in_process"] = in_process(args.model_dir, args.duration / 2)
    step("refusal of oversized bodies (8 MiB, ~838k rows; medians of 5, interleaved)")
    figures["refusal"] = measure_refusal(args.model_dir)
    figures["loopback"] = {}
    for framework in ("flask", "django"):
        step(f"{framework} under gunicorn on 127.0.0.1, {args.workers} workers, wrk {args.duration}s per case")
        figures["loopback"][framework] = under_gunicorn(framework, args.model_dir, args.duration, args.workers)
    if not args.skip_host:
        step("converged host: a throwaway systemd container and the real playbooks")
        figures["host"] = measure_host(args.bundle_dir, args.duration, step)
    if not args.skip_cluster:
        step("cluster: single host vs load balancer with two app hosts (converge, wrk)")
        figures["cluster"] = measure_cluster(args.duration, step)
    if not args.skip_stack:
        step("local Docker stack: stackgen up to ready, cold then warm; image sizes")
        figures["docker_stack"] = measure_stack(step)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
