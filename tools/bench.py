"""Measure the model service; print the figures and write them as JSON.

    python tools/bench.py --model-dir build/model --out build/bench.json [--duration 10]

Sections:
  in_process   predictions/s straight through ModelService (single row, batch of 64)
  gunicorn     wrk against gunicorn on 127.0.0.1 (2 workers): requests/s, p50/p99 latency,
               single-row and 64-row V2 infer
  demo         the same through nginx of the converged demo host, when `make demo` is up
Figures are printed, never asserted: tests assert behaviour, this measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def infer_body(n: int) -> str:
    rows = [ROWS[i % len(ROWS)] for i in range(n)]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [n, 4], "datatype": "FP64", "data": rows}]})


def in_process(model_dir: Path, seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "src"))
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


def wrk(
    url: str, body: str, seconds: int, connections: int = 8, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run wrk (loopback only) with a POST body; parse requests/s and latency percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.body = [[' + body + "]]\n")
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
        for key, value in (headers or {}).items():
            script.write(f'wrk.headers["{key}"] = "{value}"\n')
        script.write(
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format('P50 %d\\nP99 %d\\n', latency:percentile(50), latency:percentile(99)))\n"
            "  io.write(string.format('ERRORS %d\\n', summary.errors.status + summary.errors.connect"
            " + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n"
        )
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = int(re.search(r"P50 (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    p99 = int(re.search(r"P99 (\d+)", out).group(1)) / 1000  # type: ignore[union-attr]
    errors = int(re.search(r"ERRORS (\d+)", out).group(1))  # type: ignore[union-attr]
    return {"requests_per_s": round(rps, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "errors": errors}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def under_gunicorn(model_dir: Path, seconds: int, workers: int) -> dict[str, Any]:
    port = free_port()
    env = {**os.environ, "STACKGEN_MODEL_DIR": str(model_dir), "STACKGEN_LOG_LEVEL": "WARNING"}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--preload",
            "--no-control-socket",
            "--log-level",
            "warning",
            "model_flask.wsgi:app",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", 60)
        url = f"http://127.0.0.1:{port}/v2/models/iris/infer"
        return {
            "workers": workers,
            "single_row": wrk(url, infer_body(1), seconds),
            "batch_64": wrk(url, infer_body(64), seconds),
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def wait_ready(url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {url} was not ready within {timeout:.0f}s")
        time.sleep(0.2)


def through_demo(port: int, seconds: int) -> dict[str, Any] | None:
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/v2/health/ready", 1, {"Host": "localhost"})
    except SystemExit:
        return None
    infer = url + "/v2/models/iris/infer"
    return {
        "single_row": wrk(infer, infer_body(1), seconds, headers={"Host": "localhost"}),
        "batch_64": wrk(infer, infer_body(64), seconds, headers={"Host": "localhost"}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "build" / "model")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the loopback run")
    parser.add_argument("--demo-port", type=int, default=int(os.environ.get("DEMO_PORT", "8080")))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing; install Debian's wrk package (apt-get install wrk)")
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    step(f"in-process predictions ({args.duration}s per case)")
    figures["in_process"] = in_process(args.model_dir, args.duration / 2)
    step(f"gunicorn on 127.0.0.1 with {args.workers} workers, wrk {args.duration}s per case")
    figures["gunicorn"] = under_gunicorn(args.model_dir, args.duration, args.workers)
    step(f"demo host through nginx on 127.0.0.1:{args.demo_port} (skipped unless `make demo` is up)")
    demo = through_demo(args.demo_port, args.duration)
    if demo is not None:
        figures["demo_nginx"] = demo
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
