"""The model alone, in-process: CPU per `ModelService.predict(rows)` call and the 2-core ceiling.

predict() computes every output the manifest declares, which is what the benchmarked V2 infer
route computes when a request names no "outputs". Rows are validated once, outside the timing.

- cpu_per_call: time.process_time over a batch of calls, single row and 64 rows interleaved,
  `reps` times; median, min and max of the per-call CPU.
- ceiling: one process per core calling predict(one row) in parallel, in `reps` windows started
  together; the sum of their calls/s (median of the windows) is what the machine can do with no
  server around the model. Beside it the CPU-bound figure: cores / CPU per call.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_measure import summarize
from loadgen import ROWS


def _service(model_dir: Path) -> Any:
    from model_core.service import ModelService

    service = ModelService(model_dir)
    service.load()
    return service


def _rows(service: Any, n: int) -> np.ndarray:
    return service.validate_rows(np.array([ROWS[i % len(ROWS)] for i in range(n)], dtype=np.float64), "bench")


def cpu_per_call(model_dir: Path, seconds: float, reps: int) -> dict[str, Any]:
    service = _service(model_dir)
    batches = {"single_row": _rows(service, 1), "batch_64": _rows(service, 64)}
    for rows in batches.values():  # warm-up, discarded
        for _ in range(50):
            service.predict(rows)
    cpu_ms: dict[str, list[float]] = {name: [] for name in batches}
    wall_calls: dict[str, list[float]] = {name: [] for name in batches}
    for _ in range(reps):
        for name, rows in batches.items():
            calls, wall, cpu = _timed_calls(service, rows, seconds)
            cpu_ms[name].append(cpu * 1000 / calls)
            wall_calls[name].append(calls / wall)
    return {
        "model_load_seconds": round(service.load_seconds or 0, 4),
        "reps": reps,
        **{
            name: {"cpu_ms_per_call": summarize(cpu_ms[name], 4), "calls_per_s": summarize(wall_calls[name], 1)}
            for name in batches
        },
    }


def _timed_calls(service: Any, rows: Any, seconds: float) -> tuple[int, float, float]:
    """predict(rows) for ``seconds`` of wall time: (calls, wall seconds, CPU seconds)."""
    calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall0 < seconds:
        for _ in range(20):
            service.predict(rows)
        calls += 20
    return calls, time.perf_counter() - wall0, time.process_time() - cpu0


def _ceiling_worker(model_dir: str, seconds: float, reps: int, barrier: Any, results: Any) -> None:
    service = _service(Path(model_dir))
    rows = _rows(service, 1)
    for _ in range(200):
        service.predict(rows)
    for rep in range(reps):
        barrier.wait()  # every process starts each window together
        calls, wall, cpu = _timed_calls(service, rows, seconds)
        results.put((rep, calls / wall, cpu / wall))


def ceiling(model_dir: Path, seconds: float, processes: int, reps: int) -> dict[str, Any]:
    """predict(one row) in `processes` processes at once, `reps` windows: the sum of their calls/s.

    cpu_share is the CPU the processes got over their wall time (1.0: a whole core each); below
    that, something else on the machine took cores during the window.
    """
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_ceiling_worker, args=(str(model_dir), seconds, reps, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    rates: list[list[float]] = [[] for _ in range(reps)]
    shares: list[list[float]] = [[] for _ in range(reps)]
    for _ in range(processes * reps):
        rep, rate, share = results.get(timeout=seconds * reps + 120)
        rates[rep].append(rate)
        shares[rep].append(share)
    for worker in workers:
        worker.join(30)
    totals = summarize([sum(r) for r in rates], 1)
    return {
        "processes": processes,
        "seconds": seconds,
        "reps": reps,
        "calls_per_s": totals["median"],
        "calls_per_s_summary": totals,
        "cpu_share": summarize([sum(s) / len(s) for s in shares], 3),
    }
