"""One gunicorn on 127.0.0.1 for the loopback benchmarks, and one measured run against it.

Each server is started with explicit command-line flags (nothing read from a config file), kept
up across the repetitions of a comparison, and stopped with SIGTERM. A Django server logs every
prediction: through the spool and a `drain_prediction_spool --follow` process beside gunicorn when
the installed service has that command, synchronously in the request otherwise.

A measured run: wrk for `warmup` seconds (discarded), then, for a Django server, until the
prediction log has caught up; CPU snapshot of the server's processes; wrk for `seconds` with a
PSS sample in the middle; for a Django server, until the log has caught up again (the drainer's
backlog is part of the work); CPU snapshot.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_measure import CLK_TCK, MidRunSampler, ProcessGroup, machine_busy_ticks, per_request_ms
from loadgen import free_port, infer_body, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BENCH_TOKEN = "bench-token-0123456789abcdef"
WSGI = {"flask": "model_flask.wsgi:app", "django": "model_django.wsgi:application"}


@dataclass(frozen=True)
class ServerSpec:
    model: str  # a key of the models mapping (logistic, random_forest)
    framework: str = "flask"
    worker_class: str = "sync"
    workers: int = 2
    threads: int = 1
    env: dict[str, str] = field(default_factory=dict)
    wsgi: str = ""  # another WSGI target than the framework's (tools/bench_probe_apps.py)


@dataclass(frozen=True)
class Case:
    name: str
    server: str  # a key of the comparison's servers
    rows: int = 1
    connections: int = 8


def spool_supported() -> bool:
    """Whether the installed Django service has the prediction spool's drainer."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "model_django.settings.dev"}
    probe = [str(BIN / "stackgen-django"), "drain_prediction_spool", "--help"]
    return subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0


class Server:
    def __init__(self, spec: ServerSpec, model_dir: Path, workdir: Path, use_spool: bool) -> None:
        self.spec, self.workdir = spec, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v2/models/iris/infer"
        self.headers: dict[str, str] = {}
        self.prediction_log = None if spec.framework == "flask" else ("spool" if use_spool else "synchronous")
        self.env = {
            **os.environ,
            "STACKGEN_MODEL_DIR": str(model_dir),
            "STACKGEN_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tools"), os.environ.get("PYTHONPATH")])),
            **spec.env,
        }
        self.argv = [
            str(BIN / "gunicorn"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(spec.workers)),
            *("--worker-class", spec.worker_class, "--threads", str(spec.threads)),
            *("--keep-alive", "5", "--timeout", "30", "--max-requests", "0", "--worker-tmp-dir", "/dev/shm"),
            *("--preload", "--no-control-socket", "--log-level", "warning", spec.wsgi or WSGI[spec.framework]),
        ]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.group = ProcessGroup({})
        self.sqlite = workdir / "db.sqlite3"

    def describe(self) -> dict[str, Any]:
        keys = sorted(k for k in self.env if k.startswith(("STACKGEN_", "DJANGO_")) and "TOKEN" not in k)
        return {
            "argv": [Path(self.argv[0]).name, *self.argv[1:]],
            "env": {k: self.env[k] for k in keys},
            "prediction_log": self.prediction_log,
        }

    def _django(self, command: list[str], stdin: str = "") -> None:
        subprocess.run(
            [str(BIN / "stackgen-django"), *command],
            env=self.env,
            input=stdin,
            text=True,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.spec.framework == "django":
            self.env.update(
                DJANGO_SETTINGS_MODULE="model_django.settings.dev",
                STACKGEN_SQLITE_PATH=str(self.sqlite),
                API_TOKEN=BENCH_TOKEN,  # dev settings: a token turns anonymous inference off
                STACKGEN_THROTTLE_RATE="1000000/s",
                STACKGEN_PREDICTION_LOG_SAMPLE_RATE="1.0",
            )
            if self.prediction_log == "spool":
                spool = self.workdir / "spool"
                spool.mkdir(exist_ok=True)
                self.env["STACKGEN_PREDICTION_SPOOL"] = str(spool)
            else:
                self.env.pop("STACKGEN_PREDICTION_SPOOL", None)
            self._django(["migrate", "--noinput"])
            self._django(["ensure_api_token", "bench"], BENCH_TOKEN)
            self.headers["Authorization"] = f"Bearer {BENCH_TOKEN}"
        if self.env.get("STACKGEN_AUTH") == "on":
            self.headers["Authorization"] = f"Bearer {BENCH_TOKEN}"
        log = (self.workdir / "gunicorn.log").open("wb")
        self.procs["gunicorn"] = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        if self.prediction_log == "spool":
            drainer = [str(BIN / "stackgen-django"), "drain_prediction_spool", "--follow"]
            dlog = (self.workdir / "drainer.log").open("wb")
            self.procs["drainer"] = subprocess.Popen(drainer, env=self.env, cwd=ROOT, stdout=dlog, stderr=dlog)
        self.group = ProcessGroup({name: proc.pid for name, proc in self.procs.items()})
        try:
            wait_ready(f"http://127.0.0.1:{self.port}/v2/health/ready", 90)
        except SystemExit:
            tail = (self.workdir / "gunicorn.log").read_text(errors="replace")[-1500:]
            raise SystemExit(f"bench: gunicorn {' '.join(self.argv[1:])} did not get ready:\n{tail}") from None
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SystemExit(f"bench: {name} exited with {proc.returncode}; see {self.workdir}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def log_rows(self) -> int | None:
        if self.prediction_log is None:
            return None
        with sqlite3.connect(f"file:{self.sqlite}?mode=ro", uri=True, timeout=30) as db:
            return int(db.execute("SELECT COUNT(*) FROM predictions_predictionlog").fetchone()[0])

    def wait_logged(self, expected: int, timeout: float = 120, settle: float = 5) -> tuple[int, float]:
        """Until the log holds `expected` rows and has been still for 0.5 s (answers in flight when
        wrk stopped are logged too), or stopped growing for `settle` s short of it:
        (rows, seconds until the last row arrived)."""
        started = last_change = time.perf_counter()
        rows = self.log_rows() or 0
        while time.perf_counter() - started < timeout:
            still = time.perf_counter() - last_change
            if (rows >= expected and still >= 0.5) or still > settle:
                break
            time.sleep(0.1)
            now = self.log_rows() or 0
            if now != rows:
                rows, last_change = now, time.perf_counter()
        return rows, round(last_change - started, 2)


def measure(server: Server, case: Case, seconds: float, warmup: float) -> dict[str, Any]:
    """One measured run of a case (after its warm-up); every figure of the run."""
    body = infer_body(case.rows)
    logged0 = server.log_rows()
    warm = wrk(server.url, body, warmup, case.connections, server.headers)
    if logged0 is not None:
        server.wait_logged(logged0 + warm["ok_2xx"])
    logged1 = server.log_rows()
    ticks0, busy0 = server.group.cpu_ticks(), machine_busy_ticks()
    sampler = MidRunSampler(server.group, seconds / 2).start()
    run = wrk(server.url, body, seconds, case.connections, server.headers)
    busy = (machine_busy_ticks() - busy0) / CLK_TCK
    server_in_run = (server.group.cpu_ticks() - ticks0) / CLK_TCK
    pss = sampler.join()
    figures: dict[str, Any] = dict(run)
    if logged1 is not None:
        rows, lag = server.wait_logged(logged1 + run["ok_2xx"])
        # In-flight requests at wrk's stop are answered and logged but not counted by wrk.
        figures["prediction_log"] = {
            "mode": server.prediction_log,
            "rows_logged": rows - logged1,
            "answers_2xx": run["ok_2xx"],
            "missing": max(0, run["ok_2xx"] - (rows - logged1)),
            "caught_up_after_s": lag,
        }
    server_cpu = (server.group.cpu_ticks() - ticks0) / CLK_TCK
    duration = run["duration_s"] or seconds
    # What else ran on the machine during the run (other jobs, this bench's own Python): busy CPU
    # of the whole machine minus the server's and wrk's, in % of one core.
    figures["other_cpu_pct"] = round(max(0.0, busy - server_in_run - run["wrk_cpu_s"]) / duration * 100, 1)
    figures.update(
        server_cpu_s=round(server_cpu, 2),
        server_cpu_ms_per_req=per_request_ms(server_cpu, run["requests"]),
        server_cpu_pct=round(server_cpu / duration * 100, 1),
        wrk_cpu_ms_per_req=per_request_ms(run["wrk_cpu_s"], run["requests"]),
        wrk_cpu_pct=round(run["wrk_cpu_s"] / duration * 100, 1),
        pss_under_load=pss,
        warmup={"seconds": warmup, "requests_per_s": warm["requests_per_s"], "p99_ms": warm["p99_ms"]},
    )
    return figures
