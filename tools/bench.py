"""Measure the stack; print the figures and write them as JSON (never asserted: tests assert behaviour).

    python tools/bench.py [--duration 10] [--reps 3] [--warmup 2] [--only loopback] [--out build/bench.json]
                          [--skip-host] [--skip-cluster] [--skip-stack] [--comparisons worker_class,workers]

Sections (--only takes a comma-separated list of them; loopback implies in_process):
  in_process  the model alone: CPU per ModelService.predict() call (1 and 64 rows, interleaved
              reps), and the 2-core ceiling (predict(one row) in one process per core at once)
  refusal     ms until an 8 MiB body of ~838k rows gets its 413 (Flask test client)
  loopback    gunicorn on 127.0.0.1, wrk on loopback, one gunicorn per case started with explicit
              flags and kept up; interleaved reps, each after a discarded warm-up. Comparisons:
              worker_class, frameworks (Django with the prediction log), batching, workers.
              Per case: requests/s, p50, p99, server CPU per request (gunicorn master + workers
              + drainer, /proc), wrk's own CPU, PSS sampled mid-run; stack overhead per request
              (server CPU minus the model's in-process CPU) and the share of the in-process ceiling
  host        a throwaway systemd container converged by the real playbooks: converge, rerun and
              deploy times; wrk inside the container through nginx; server CPU and PSS under load
  cluster     one Django + PostgreSQL host vs a load-balanced cluster: converge times and wrk
  stack       `stackgen up` to ready, cold (the stack's images removed and the build cache pruned
              first) and warm; image sizes
Figures are medians with min and max of the repetitions; ratios are taken rep by rep.
Load goes to 127.0.0.1 (or into the bench container) only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_inproc import ceiling, cpu_per_call
from bench_loopback import (
    COMPARISONS,
    add_derived,
    batching_supported,
    busy_cases,
    comparisons,
    estimator_supported,
    report,
    run_comparison,
)
from bench_measure import git_state, now_iso
from loadgen import WRK_THREADS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECTIONS = ("in_process", "refusal", "loopback", "host", "cluster", "stack")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def note(notes: list[str], message: str) -> None:
    print(f"NOTE: {message}", flush=True)
    notes.append(message)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=ROOT / "build" / "model", help="the logistic model")
    parser.add_argument(
        "--rf-model-dir",
        type=Path,
        default=ROOT / "build" / "model-rf",
        help="the random-forest model (trained there when missing and stackgen-train can)",
    )
    parser.add_argument("--bundle-dir", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of discarded load before each run")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions per comparison")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of the loopback comparisons")
    parser.add_argument("--only", help=f"comma-separated sections to run: {', '.join(SECTIONS)}")
    parser.add_argument("--comparisons", help=f"loopback comparisons to run (default all): {', '.join(COMPARISONS)}")
    parser.add_argument("--skip-host", action="store_true", help="skip the converged-host section (Docker)")
    parser.add_argument("--skip-stack", action="store_true", help="skip the local Docker stack section")
    parser.add_argument("--skip-cluster", action="store_true", help="skip the load-balanced cluster section")
    args = parser.parse_args()
    wanted = set(SECTIONS)
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - set(SECTIONS)
        if unknown:
            parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    for name in ("host", "stack", "cluster"):
        if getattr(args, f"skip_{name}"):
            wanted.discard(name)
    if "loopback" in wanted:
        wanted.add("in_process")
    args.sections = wanted
    args.comparison_keys = [c.strip() for c in args.comparisons.split(",")] if args.comparisons else list(COMPARISONS)
    if set(args.comparison_keys) - set(COMPARISONS):
        parser.error(f"--comparisons: choose from {', '.join(COMPARISONS)}")
    return args


def models(args: argparse.Namespace, notes: list[str]) -> dict[str, Path]:
    found = {"logistic": args.model_dir}
    if (args.rf_model_dir / "manifest.json").exists():
        found["random_forest"] = args.rf_model_dir
    elif estimator_supported():
        step(f"training the random-forest model into {args.rf_model_dir}")
        command = [str(BIN / "stackgen-train"), "--estimator", "random_forest", "--out", str(args.rf_model_dir)]
        subprocess.run(command, check=True, capture_output=True)
        found["random_forest"] = args.rf_model_dir
    else:
        note(
            notes,
            "stackgen-train has no --estimator yet: no random-forest model, so the batching comparison "
            "and the random-forest half of the workers comparison are skipped",
        )
    return found


def in_process(model_dirs: dict[str, Path], args: argparse.Namespace, cpus: int, notes: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {"models": {}, "ceiling": {}}
    per_rep = max(0.5, min(2.0, args.duration / 5))
    for name, directory in model_dirs.items():
        step(f"in-process CPU per predict() call, {name}: 1 and 64 rows, {args.reps} interleaved reps of {per_rep:g}s")
        figures["models"][name] = cpu_per_call(directory, per_rep, args.reps)
        seconds = max(1.0, min(3.0, args.duration / 3))
        step(f"in-process ceiling, {name}: predict(one row) in {cpus} processes at once, {args.reps} x {seconds:g}s")
        roof = ceiling(directory, seconds, cpus, args.reps)
        model_ms = figures["models"][name]["single_row"]["cpu_ms_per_call"]["median"]
        roof["cpu_bound_calls_per_s"] = round(cpus * 1000 / model_ms, 1) if model_ms else None
        figures["ceiling"][name] = roof
        if (roof["cpu_share"]["median"] or 0) < 0.9:
            note(notes, f"in-process ceiling, {name}: each process got only {roof['cpu_share']['median']} of a core")
    return figures


def loopback(
    model_dirs: dict[str, Path], args: argparse.Namespace, cpus: int, notes: list[str], inproc: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    batching = batching_supported()
    if "batching" in args.comparison_keys and not batching:
        note(notes, "the service does not read STACKGEN_BATCH_WAIT_MS yet: the batching comparison is skipped")
    elif "batching" in args.comparison_keys and "random_forest" not in model_dirs:
        note(notes, "no random-forest model: the batching comparison is skipped")
    figures: dict[str, Any] = {}
    lines: list[str] = []
    for comparison in comparisons(cpus, args.workers, list(model_dirs), batching):
        if comparison.key not in args.comparison_keys:
            continue
        step(f"loopback comparison {comparison.key}: {comparison.title}")
        result = run_comparison(comparison, model_dirs, args.duration, args.warmup, args.reps, step)
        add_derived(result, inproc["models"], inproc["ceiling"])
        busy = busy_cases(result)
        if busy:
            note(notes, f"{comparison.key}: other processes took over 20% of a core during {', '.join(busy)}")
        figures[comparison.key] = result
        lines += report(result)
        print("\n".join(report(result)), flush=True)
    return figures, lines


def main() -> int:
    args = parse_args()
    # As the Makefile sets them, for a run without make: the project's collections and ansible.cfg.
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".cache" / "collections"))
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    if str(BIN) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    started = time.perf_counter()
    cpus = len(os.sched_getaffinity(0))
    notes: list[str] = []
    figures: dict[str, Any] = {
        **git_state(ROOT),
        "started": now_iso(),
        "machine": {"cpus": cpus, "python": platform.python_version(), "platform": platform.platform()},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "reps": args.reps,
            "wrk_threads": WRK_THREADS,
            "sections": sorted(args.sections),
        },
        "notes": notes,
    }
    summary: list[str] = []
    model_dirs = models(args, notes) if args.sections & {"in_process", "loopback"} else {"logistic": args.model_dir}
    if "in_process" in args.sections:
        figures["in_process"] = in_process(model_dirs, args, cpus, notes)
    if "refusal" in args.sections:
        from bench_refusal import measure_refusal

        step("refusal of oversized bodies (8 MiB, ~838k rows; medians of 5, interleaved)")
        figures["refusal"] = measure_refusal(args.model_dir)
    if "loopback" in args.sections:
        figures["loopback"], summary = loopback(model_dirs, args, cpus, notes, figures["in_process"])
    if "host" in args.sections:
        from bench_host import measure_host

        step("converged host: a throwaway systemd container and the real playbooks")
        figures["host"] = measure_host(args.bundle_dir, args.duration, args.warmup, args.reps, step, notes)
    if "cluster" in args.sections:
        from bench_cluster import measure_cluster

        step("cluster: single host vs load balancer with two app hosts (converge, wrk)")
        figures["cluster"] = measure_cluster(args.duration, step)
    if "stack" in args.sections:
        from bench_stack import measure_stack

        step("local Docker stack: stackgen up to ready, cold (no image, no build cache) then warm; image sizes")
        figures["docker_stack"] = measure_stack(step)
    figures["elapsed_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    if "in_process" in figures:
        for name, model in figures["in_process"]["models"].items():
            one, many = model["single_row"]["cpu_ms_per_call"], model["batch_64"]["cpu_ms_per_call"]
            roof = figures["in_process"]["ceiling"][name]
            print(
                f"in-process {name}: {one['median']} ms CPU per 1-row call, {many['median']} ms per 64-row call;"
                f" ceiling {roof['calls_per_s']:,.0f} calls/s on {cpus} processes (each got"
                f" {roof['cpu_share']['median']} of a core; {cpus} cores / CPU per call:"
                f" {roof['cpu_bound_calls_per_s']:,.0f} calls/s)"
            )
    print("\n".join(summary))
    for message in notes:
        print(f"NOTE: {message}")
    print(f"written to {args.out} ({figures['elapsed_s']} s, commit {figures['commit']}, dirty {figures['dirty']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
