"""The loopback comparisons of `make bench`: gunicorn on 127.0.0.1, wrk on loopback.

Every case of a comparison has its own gunicorn, started once with explicit flags and kept up
while the repetitions go round-robin over the cases (rep 1: A, B, C; rep 2: A, B, C; ...), each
measured run after a discarded warm-up. Ratios are taken rep by rep (B_i / A_i) and summarized.

  worker_class  sync vs gthread --threads 4 (Flask, 2 workers, single row); beside them, to split
                the cost: a hello-world app answering the same bytes, and the service with a
                constant model (tools/bench_probe_apps.py)
  frameworks    Flask vs Django with the prediction log on, same workers and threads (Django's shipped
                gthread 4, batching 2 ms, CPUs workers, a bearer token on both), 1 and 64 rows
  batching      micro-batching off vs on (STACKGEN_BATCH_WAIT_MS 0 vs 2) at the Flask service's threads
                (app_flask_threads): random forest and logistic, wrk -c64, single row; the random
                forest also against sync workers (the best unbatched setting); the logistic
                model with batching on against the 2-core ceiling
  workers       2 x CPUs + 1 vs CPUs (sync) vs CPUs with gthread --threads 4 and 16, each example model
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_measure import RUN_METRICS, paired_ratios, ratio, summarize
from bench_server import BENCH_TOKEN, BIN, Case, Server, ServerSpec, measure, spool_supported

from stackgen.rolerender import role_defaults

COMPARISONS = ("worker_class", "frameworks", "batching", "workers")
LOG_MODES = {
    "spool": "through the spool; a drain_prediction_spool --follow process beside gunicorn loads them",
    "synchronous": "synchronously (no drain_prediction_spool command in this service)",
}


@dataclass
class Comparison:
    key: str
    title: str
    servers: dict[str, ServerSpec]
    cases: list[Case]
    ratios: list[tuple[str, str]] = field(default_factory=list)  # (numerator case, denominator case)


def estimator_supported() -> bool:
    help_text = subprocess.run([str(BIN / "stackgen-train"), "--help"], capture_output=True, text=True, check=False)
    return "--estimator" in help_text.stdout


def batching_supported() -> bool:
    """Whether STACKGEN_BATCH_WAIT_MS reaches the service the Flask app builds from its settings."""
    from model_core.api import ModelAPI
    from model_core.config import Config

    try:
        api = ModelAPI(Config.from_env({"STACKGEN_MODEL_DIR": "unused", "STACKGEN_BATCH_WAIT_MS": "2"}))
    except Exception:  # an older Config refuses or ignores the variable
        return False
    return float(getattr(api.service, "batch_wait_ms", 0) or 0) == 2.0


SHIPPED = {"STACKGEN_BATCH_WAIT_MS": "2"}  # what the roles set for the model service
FLASK_TOKEN = {"STACKGEN_AUTH": "on", "STACKGEN_API_TOKENS": BENCH_TOKEN}  # Django checks a token too


def shipped_threads(framework: str) -> int:
    """Threads per worker the app role gives the model service (roles/app_<framework>/defaults)."""
    return int(role_defaults(f"app_{framework}")[f"app_{framework}_threads"])


def comparisons(cpus: int, workers: int, models: list[str], batching: bool) -> list[Comparison]:
    flask = {"framework": "flask", "workers": workers}
    # The frameworks at the same workers and threads (Django's, which the Flask service exceeds).
    same = {"worker_class": "gthread", "threads": shipped_threads("django")}
    threads = shipped_threads("flask")
    found = [
        Comparison(
            "worker_class",
            f"worker class, Flask, {workers} workers, single row",
            {
                "sync": ServerSpec("logistic", **flask),
                "gthread4": ServerSpec("logistic", worker_class="gthread", threads=4, **flask),
                "sync_hello": ServerSpec("logistic", wsgi="bench_probe_apps:hello", **flask),
                "sync_constant_model": ServerSpec("logistic", wsgi="bench_probe_apps:constant_model", **flask),
            },
            [Case(key, key) for key in ("sync", "gthread4", "sync_hello", "sync_constant_model")],
            [("gthread4", "sync"), ("sync_constant_model", "sync")],
        ),
        Comparison(
            "frameworks",
            f"Flask vs Django + prediction log, same workers: gthread {same['threads']} threads, batching 2 ms,"
            f" {workers} workers, bearer token on both",
            {
                "flask": ServerSpec("logistic", env={**SHIPPED, **FLASK_TOKEN}, **same, **flask),
                "django": ServerSpec("logistic", "django", env=SHIPPED, **same, workers=workers),
            },
            [
                Case("flask_1", "flask"),
                Case("django_1", "django"),
                Case("flask_64", "flask", 64),
                Case("django_64", "django", 64),
            ],
            [("django_1", "flask_1"), ("django_64", "flask_64")],
        ),
    ]
    if batching and "random_forest" in models:
        gthread = {"worker_class": "gthread", "threads": threads, "workers": workers}
        found.append(
            Comparison(
                "batching",
                f"micro-batching, gthread {threads} threads (as shipped), {workers} workers, 64 connections,"
                " single row",
                {
                    # The best unbatched setting measured (workers comparison): sync, one request each.
                    "rf_sync": ServerSpec("random_forest", workers=workers),
                    "rf_off": ServerSpec("random_forest", env={"STACKGEN_BATCH_WAIT_MS": "0"}, **gthread),
                    "rf_on": ServerSpec("random_forest", env={"STACKGEN_BATCH_WAIT_MS": "2"}, **gthread),
                    "logistic_off": ServerSpec("logistic", env={"STACKGEN_BATCH_WAIT_MS": "0"}, **gthread),
                    "logistic_on": ServerSpec("logistic", env={"STACKGEN_BATCH_WAIT_MS": "2"}, **gthread),
                },
                [
                    Case("rf_sync", "rf_sync", 1, 64),
                    Case("rf_off", "rf_off", 1, 64),
                    Case("rf_on", "rf_on", 1, 64),
                    Case("logistic_off", "logistic_off", 1, 64),
                    Case("logistic_on", "logistic_on", 1, 64),
                ],
                [("rf_on", "rf_off"), ("rf_on", "rf_sync"), ("logistic_on", "logistic_off")],
            )
        )
    servers, cases, pairs = {}, [], []
    for model in models:
        servers[f"{model}_2n+1"] = ServerSpec(model, workers=2 * cpus + 1)
        servers[f"{model}_n"] = ServerSpec(model, workers=cpus)
        for n in (4, 16):
            servers[f"{model}_n_gthread{n}"] = ServerSpec(
                model, worker_class="gthread", threads=n, workers=cpus, env=SHIPPED
            )
        keys = [f"{model}_{suffix}" for suffix in ("2n+1", "n", "n_gthread4", "n_gthread16")]
        cases += [Case(key, key) for key in keys] + [Case(f"{key}_c64", key, 1, 64) for key in keys[2:]]
        pairs += [(keys[0], keys[1]), (keys[2], keys[1]), (keys[3], keys[2]), (f"{keys[3]}_c64", f"{keys[2]}_c64")]
    title = f"workers ({cpus} CPUs), single row, 8 connections (_c64: 64); gthread with batching 2 ms as shipped"
    found.append(Comparison("workers", title, servers, cases, pairs))
    return found


def run_comparison(
    comparison: Comparison,
    model_dirs: dict[str, Path],
    seconds: float,
    warmup: float,
    reps: int,
    step: Callable[[str], None],
) -> dict[str, Any]:
    use_spool = spool_supported()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        servers = {
            key: Server(spec, model_dirs[spec.model], Path(tmp) / key, use_spool)
            for key, spec in comparison.servers.items()
        }
        runs: dict[str, list[dict[str, Any]]] = {case.name: [] for case in comparison.cases}
        try:
            for key, server in servers.items():
                step(f"{comparison.key}: starting {key}: {' '.join(server.describe()['argv'][1:])}")
                if server.prediction_log:
                    step(f"{comparison.key}: {key} logs predictions {LOG_MODES[server.prediction_log]}")
                server.start()
            for rep in range(reps):
                for case in comparison.cases:
                    step(f"{comparison.key} rep {rep + 1}/{reps}: {case.name} ({warmup:g}s warm-up + {seconds:g}s)")
                    runs[case.name].append(measure(servers[case.server], case, seconds, warmup))
        finally:
            for server in servers.values():
                server.stop()
        cases = {case.name: _case_figures(case, comparison, servers, runs[case.name]) for case in comparison.cases}
    result: dict[str, Any] = {"title": comparison.title, "reps": reps, "cases": cases, "ratios": {}}
    for numerator, denominator in comparison.ratios:
        a, b = runs[numerator], runs[denominator]
        result["ratios"][f"{numerator} / {denominator}"] = {
            metric: paired_ratios([r[metric] for r in a], [r[metric] for r in b])
            for metric in ("requests_per_s", "p99_ms", "server_cpu_ms_per_req")
        }
    return result


def _case_figures(
    case: Case, comparison: Comparison, servers: dict[str, Server], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    spec = comparison.servers[case.server]
    figures: dict[str, Any] = {
        "model": spec.model,
        "rows": case.rows,
        "connections": case.connections,
        "server": servers[case.server].describe(),
        **{metric: summarize([r[metric] for r in runs], 4 if "per_req" in metric else 2) for metric in RUN_METRICS},
        "pss_total_mb": summarize([r["pss_under_load"]["pss_total_mb"] for r in runs if r["pss_under_load"]], 1),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "runs": runs,
    }
    return figures


def add_derived(result: dict[str, Any], in_process: dict[str, Any], ceilings: dict[str, Any]) -> None:
    """Stack overhead per request (server CPU minus the model's own CPU) and the share of the ceiling."""
    for case in result["cases"].values():
        if case["server"]["argv"][-1].startswith("bench_probe_apps:"):
            continue  # no model call to subtract, no model to compare with the ceiling
        model = in_process.get(case["model"])
        kind = "single_row" if case["rows"] == 1 else "batch_64" if case["rows"] == 64 else None
        server_ms = case["server_cpu_ms_per_req"]["median"]
        if float(case["server"]["env"].get("STACKGEN_BATCH_WAIT_MS", "0")) > 0:
            # One model call serves several requests: the model's CPU per request is not one call's.
            case["stack_overhead_cpu_ms_per_req"] = None
        elif model and kind and server_ms is not None:
            model_ms = model[kind]["cpu_ms_per_call"]["median"]
            case["model_cpu_ms_per_call"] = model_ms
            case["stack_overhead_cpu_ms_per_req"] = round(server_ms - model_ms, 4)
        ceiling = ceilings.get(case["model"])
        if ceiling and case["rows"] == 1:
            case["of_in_process_ceiling"] = ratio(case["requests_per_s"]["median"], ceiling["calls_per_s"])
            case["of_cpu_bound_ceiling"] = ratio(case["requests_per_s"]["median"], ceiling["cpu_bound_calls_per_s"])


def busy_cases(result: dict[str, Any], limit: float = 20.0) -> list[str]:
    """Cases during whose runs other processes took more than `limit` % of a core (median)."""
    return [
        f"{name} (others {c['other_cpu_pct']['median']}%)"
        for name, c in result["cases"].items()
        if (c["other_cpu_pct"]["median"] or 0) > limit
    ]


def _span(s: dict[str, Any], fmt: str = "{:,.1f}") -> str:
    if s["median"] is None:
        return "n/a"
    return f"{fmt.format(s['median'])} [{fmt.format(s['min'])}-{fmt.format(s['max'])}]"


def report(result: dict[str, Any]) -> list[str]:
    """Printable lines: every case (median [min-max]) and every ratio of the comparison."""
    lines = [f"--- {result['title']} (median [min-max] of {result['reps']} interleaved reps)"]
    for name, c in result["cases"].items():
        line = (
            f"  {name:<22} {_span(c['requests_per_s'])} req/s  p50 {_span(c['p50_ms'], '{:.2f}')} ms"
            f"  p99 {_span(c['p99_ms'], '{:.2f}')} ms  server CPU {_span(c['server_cpu_ms_per_req'], '{:.3f}')} ms/req"
            f"  wrk CPU {_span(c['wrk_cpu_ms_per_req'], '{:.3f}')} ms/req ({c['wrk_cpu_pct']['median']}% of a core)"
            f"  PSS {c['pss_total_mb']['median']} MB  others {c['other_cpu_pct']['median']}% of a core"
        )
        if c.get("stack_overhead_cpu_ms_per_req") is not None:
            line += f"  model {c['model_cpu_ms_per_call']:.3f} ms, stack {c['stack_overhead_cpu_ms_per_req']:.3f} ms"
        if c.get("of_in_process_ceiling") is not None:
            line += (
                f"  {c['of_in_process_ceiling']:.2f}x of the in-process ceiling"
                f" ({c['of_cpu_bound_ceiling']:.2f}x of cores / model CPU per call)"
            )
        if c["non_2xx"] or c["socket_errors"]:
            line += f"  ({c['non_2xx']} non-2xx, {c['socket_errors']} socket errors)"
        lines.append(line)
        for run in c["runs"]:
            log = run.get("prediction_log")
            if log:
                lines.append(
                    f"    log ({log['mode']}): {log['rows_logged']} rows for {log['answers_2xx']} 2xx answers,"
                    f" caught up {log['caught_up_after_s']} s after the run"
                )
    for label, figures in result["ratios"].items():
        parts = [f"{metric} {_span(s, '{:.3f}')}" for metric, s in figures.items()]
        lines.append(f"  ratio {label}: " + ", ".join(parts))
    return lines
