"""Load generation for the benchmarks: wrk against loopback addresses only."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from typing import Any

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.1, 4.4, 1.4], [6.3, 3.3, 6.0, 2.5], [5.9, 3.0, 5.1, 1.8]]


def infer_body(n: int) -> str:
    rows = [ROWS[i % len(ROWS)] for i in range(n)]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [n, 4], "datatype": "FP64", "data": rows}]})


def wrk(
    url: str, body: str, seconds: int, connections: int = 8, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run wrk (loopback only) with a POST body; parse requests/s and latency percentiles."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\nwrk.body = [==[' + body + "]==]\n")
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


def wait_ready(url: str, timeout: float, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    # Bench hosts serve a self-signed certificate on 127.0.0.1; nothing else is ever asked.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2, context=context) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {url} was not ready within {timeout:.0f}s")
        time.sleep(0.2)
