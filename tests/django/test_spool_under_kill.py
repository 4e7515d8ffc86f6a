"""Every answered prediction is in the log, when workers and the loader are killed under load.

Real processes on 127.0.0.1: gunicorn (gthread, 2 workers, batching on as shipped) serving the Django service with the
spool on, the loader (drain_prediction_spool --follow) beside it, clients sending inference
requests with their own X-Request-IDs. Workers and the loader get SIGKILL while requests flow;
gunicorn replaces the workers and the test restarts the loader, as systemd does on a host.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROW = [[5.1, 3.5, 1.4, 0.2]]
BODY = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]})
CLIENTS = 6
KILL_ROUNDS = 6
ANSWERS_PER_ROUND = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the service did not become ready")


def client(port: int, name: str, stop: threading.Event, answers: dict[str, int]) -> None:
    conn: http.client.HTTPConnection | None = None
    n = 0
    while not stop.is_set():
        request_id = f"{name}-{n}"
        n += 1
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "POST", "/v2/models/iris/infer", BODY, {"Content-Type": "application/json", "X-Request-ID": request_id}
            )
            response = conn.getresponse()
            response.read()
            answers[request_id] = response.status
        except (OSError, http.client.HTTPException):
            answers[request_id] = 0  # no answer: the worker died with the request
            if conn is not None:
                conn.close()
            conn = None


@pytest.fixture
def service(tmp_path: Path, django_model_dir: Path):
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "model_django.settings.dev",
        "STACKGEN_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "STACKGEN_MODEL_DIR": str(django_model_dir),
        "STACKGEN_PREDICTION_SPOOL": str(spool),
        "STACKGEN_ANON_THROTTLE_RATE": "1000000/s",
        "STACKGEN_LOG_LEVEL": "WARNING",
        "STACKGEN_BATCH_WAIT_MS": "2",  # as shipped: concurrent requests share model calls
    }
    env.pop("API_TOKEN", None)
    manage = [str(BIN / "stackgen-django")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, capture_output=True)
    port = free_port()
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread",
         "--threads", "4", "--preload", "--no-control-socket", "--log-level", "error",
         "model_django.wsgi:application"],
        env=env,
    )  # fmt: skip
    loader_argv = [*manage, "drain_prediction_spool", "--follow", "--interval", "0.05"]
    state = {"loader": subprocess.Popen(loader_argv, env=env)}
    try:
        wait_ready(port)
        yield port, gunicorn, state, lambda: subprocess.Popen(loader_argv, env=env), env, spool
    finally:
        for process in (gunicorn, state["loader"]):
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def test_every_answered_prediction_is_logged_when_workers_and_loader_are_killed(service, tmp_path) -> None:
    port, gunicorn, state, start_loader, env, spool = service
    stop = threading.Event()
    answers: dict[str, int] = {}
    threads = [threading.Thread(target=client, args=(port, f"c{i}", stop, answers)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    killed_workers = 0
    for _ in range(KILL_ROUNDS):
        # Kills land under load: each round waits for more answers first (however slow the machine).
        target = len(answers) + ANSWERS_PER_ROUND
        deadline = time.monotonic() + 60
        while len(answers) < target and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = children(gunicorn.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed_workers += 1
        state["loader"].send_signal(signal.SIGKILL)
        state["loader"].wait(10)
        state["loader"] = start_loader()
    target, deadline = len(answers) + ANSWERS_PER_ROUND, time.monotonic() + 60
    while len(answers) < target and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    # Whatever the last loader has not reached yet: one more pass, as the next loader would do.
    subprocess.run([str(BIN / "stackgen-django"), "drain_prediction_spool"], env=env, check=True, capture_output=True)

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        logged = [row[0] for row in db.execute("select request_id from predictions_predictionlog")]
    answered = {rid for rid, status in answers.items() if status == 200}
    unanswered = {rid for rid, status in answers.items() if status == 0}
    assert killed_workers == KILL_ROUNDS
    assert len(answered) >= KILL_ROUNDS * ANSWERS_PER_ROUND, f"too little load: {len(answered)} answers"
    assert {status for status in answers.values()} <= {0, 200}
    assert answered <= set(logged), f"{len(answered - set(logged))} answered predictions are not in the log"
    # A row without an answer is a request whose worker died after writing it and before answering.
    assert set(logged) - answered <= unanswered
    # The files of killed workers are loaded and gone; only the two live workers' files remain.
    assert len(list(spool.glob("*.jsonl"))) <= 2
