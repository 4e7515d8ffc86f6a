"""The pure helpers of `make bench` (tools/bench_measure.py, tools/loadgen.py, tools/bench_stack.py)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

from bench_measure import (  # noqa: E402
    ProcStat,
    busy_ticks,
    descendants,
    paired_ratios,
    parse_stat,
    per_request_ms,
    pss_kb,
    ratio,
    read_stat,
    summarize,
)
from bench_stack import stack_images  # noqa: E402
from loadgen import parse_wrk  # noqa: E402

# A real /proc/<pid>/stat line, with a comm holding a space and parentheses.
STAT = (
    "4242 (gunicorn: (w) 1) S 4200 4200 4200 0 -1 4194560 1503 0 0 0 "
    "731 129 17 5 20 0 1 0 12345 123456789 9000 18446744073709551615 1 1 0 0 0 0 0 16781312 0 0 0 0 17 1 0 0 0 0 0"
)


def test_parse_stat_reads_pid_comm_ppid_and_cpu_fields() -> None:
    stat = parse_stat(STAT)
    assert stat == ProcStat(pid=4242, comm="gunicorn: (w) 1", ppid=4200, utime=731, stime=129, cutime=17, cstime=5)
    assert stat.ticks == 882


def test_read_stat_and_pss_from_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "stat").write_text(STAT + "\n")
    (tmp_path / "4242" / "smaps_rollup").write_text("Rss:  20480 kB\nPss:  10240 kB\nPss_Anon:  8000 kB\n")
    assert read_stat(4242, tmp_path) == parse_stat(STAT)
    assert read_stat(4243, tmp_path) is None
    assert pss_kb(4242, tmp_path) == 10240
    assert pss_kb(4243, tmp_path) is None


def test_descendants_follow_ppid_links_from_the_roots_only() -> None:
    def proc(pid: int, ppid: int) -> ProcStat:
        return ProcStat(pid, "x", ppid, 0, 0, 0, 0)

    stats = {p.pid: p for p in (proc(1, 0), proc(10, 1), proc(11, 10), proc(12, 10), proc(13, 12), proc(20, 1))}
    assert descendants([10], stats) == [10, 11, 12, 13]
    assert descendants([10, 20, 99], stats) == [10, 11, 12, 13, 20]
    assert descendants([99], stats) == []


def test_machine_busy_ticks_leave_out_idle_and_iowait() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice
    proc_stat = "cpu  1000 20 300 50000 400 10 5 7 100 0\ncpu0 500 10 150 25000 200 5 2 3 50 0\n"
    assert busy_ticks(proc_stat) == 1000 + 20 + 300 + 10 + 5 + 7


def test_summarize_gives_median_min_max() -> None:
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert summarize([1.0, 4.0]) == {"median": 2.5, "min": 1.0, "max": 4.0}
    assert summarize([1.23456, 2.0, 9.87654], 3) == {"median": 2.0, "min": 1.235, "max": 9.877}
    assert summarize([]) == {"median": None, "min": None, "max": None}


def test_ratios_are_taken_rep_by_rep() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 3.0) == 0.333
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    # rep 1: 200/100 = 2.0, rep 2: 330/110 = 3.0, rep 3: 250/100 = 2.5
    assert paired_ratios([200.0, 330.0, 250.0], [100.0, 110.0, 100.0]) == {"median": 2.5, "min": 2.0, "max": 3.0}


def test_cpu_per_request_in_milliseconds() -> None:
    assert per_request_ms(1.5, 1000) == 1.5
    assert per_request_ms(0.25, 3) == 83.3333
    assert per_request_ms(1.0, 0) is None


def test_parse_wrk_reads_the_summary_lines() -> None:
    out = (
        "Running 10s test @ http://127.0.0.1:8000/v2/models/iris/infer\n"
        "Requests/sec:   1500.00\n"
        "P50 5250\nP99 9125\nREQUESTS 15000\nDURATION_US 10000000\nNON2XX 12\nSOCKET_ERRORS 3\n"
    )
    assert parse_wrk(out) == {
        "requests_per_s": 1500.0,
        "p50_ms": 5.25,
        "p99_ms": 9.12,
        "requests": 15000,
        "non_2xx": 12,
        "ok_2xx": 14988,
        "socket_errors": 3,
        "errors": 15,
        "duration_s": 10.0,
    }


def test_stack_images_are_the_local_stacks_only() -> None:
    listing = (
        "stackgen-bench-stack-app:latest\nstackgen-bench-stack-nginx:latest\nstackgen-demo-app:latest\n"
        "stackgen/systemd:bookworm\nstackgen/postgres:local\ndebian:bookworm-slim\n<none>:<none>\n"
    )
    assert stack_images(listing) == [
        "stackgen-bench-stack-app:latest",
        "stackgen-bench-stack-nginx:latest",
        "stackgen-demo-app:latest",
    ]


def test_the_probe_apps_answer_like_the_service(model_dir: Path, monkeypatch) -> None:
    # The split of the cost per request holds only if the probes send what the service sends.
    import io
    import json

    import bench_probe_apps
    from loadgen import infer_body

    monkeypatch.setenv("STACKGEN_MODEL_DIR", str(model_dir))
    monkeypatch.delitem(sys.modules, "model_flask.wsgi", raising=False)
    body = infer_body(1).encode()
    answers = []
    for app in (bench_probe_apps.hello, bench_probe_apps.constant_model):
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/v2/models/iris/infer",
            "SCRIPT_NAME": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        statuses: list[str] = []
        answer = b"".join(app(environ, lambda s, h, e=None, seen=statuses: seen.append(s)))
        answers.append((statuses[0], json.loads(answer), len(answer)))
    assert answers[0] == answers[1]
    assert answers[0][0] == "200 OK"
