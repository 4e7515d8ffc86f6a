"""Load generation for the benchmarks: wrk against loopback addresses only.

wrk's own CPU time is taken from the kernel's accounting of the wrk process (wait4), so the
load generator's share of the 2 cores is on record beside the server's.
"""

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
WRK_THREADS = 2


def infer_body(n: int) -> str:
    rows = [ROWS[i % len(ROWS)] for i in range(n)]
    return json.dumps({"inputs": [{"name": "input-0", "shape": [n, 4], "datatype": "FP64", "data": rows}]})


def lua_script(body: str, headers: dict[str, str] | None = None) -> str:
    """A wrk script: POST the body; at the end print counts and percentiles (microseconds)."""
    lines = [
        'wrk.method = "POST"',
        "wrk.body = [==[" + body + "]==]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f'wrk.headers["{key}"] = "{value}"' for key, value in (headers or {}).items()]
    lines += [
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        "  io.write(string.format('P50 %d\\nP99 %d\\nREQUESTS %d\\nDURATION_US %d\\n',"
        " latency:percentile(50), latency:percentile(99), summary.requests, summary.duration))",
        # errors.status counts answers with a status above 399: every other answer here is a 2xx.
        "  io.write(string.format('NON2XX %d\\nSOCKET_ERRORS %d\\n', e.status,"
        " e.connect + e.read + e.write + e.timeout))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def parse_wrk(out: str) -> dict[str, Any]:
    """The figures of one wrk run from its output (with the lua_script summary lines)."""

    def number(name: str) -> int:
        match = re.search(rf"^{name} (\d+)$", out, re.MULTILINE)
        if match is None:
            raise SystemExit(f"bench: wrk printed no {name} line:\n{out[-800:]}")
        return int(match.group(1))

    requests, duration_us, non_2xx = number("REQUESTS"), number("DURATION_US"), number("NON2XX")
    return {
        "requests_per_s": round(requests / (duration_us / 1e6), 1) if duration_us else 0.0,
        "p50_ms": round(number("P50") / 1000, 2),
        "p99_ms": round(number("P99") / 1000, 2),
        "requests": requests,
        "non_2xx": non_2xx,
        "ok_2xx": requests - non_2xx,
        "socket_errors": number("SOCKET_ERRORS"),
        "errors": non_2xx + number("SOCKET_ERRORS"),
        "duration_s": round(duration_us / 1e6, 3),
    }


def wrk_command(url: str, script: str, seconds: float, connections: int) -> list[str]:
    return ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", script, url]


def wrk(
    url: str, body: str, seconds: float, connections: int = 8, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run wrk (loopback only) with a POST body: requests/s, p50/p99, counts, wrk's own CPU seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script, tempfile.TemporaryFile("w+") as out:
        script.write(lua_script(body, headers))
        script.flush()
        proc = subprocess.Popen(wrk_command(url, script.name, seconds, connections), stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)  # the rusage of wrk alone
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"bench: wrk exited {proc.returncode}:\n{text[-800:]}")
    figures = parse_wrk(text)
    figures["wrk_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    return figures


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
