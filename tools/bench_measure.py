"""Measurement helpers of `make bench`: CPU and PSS of process trees from /proc, and statistics.

CPU of a process tree over a window: the sum of utime+stime+cutime+cstime (clock ticks) over the
roots and all their descendants, at the end minus at the start. cutime/cstime hold the CPU of
children that ended and were reaped, so a worker recycled during the window still counts (its
time moves from its own line into its parent's).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
# The figures of one measured run that are summarized over the repetitions.
RUN_METRICS = (
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "server_cpu_ms_per_req",
    "server_cpu_pct",
    "wrk_cpu_ms_per_req",
    "wrk_cpu_pct",
    "other_cpu_pct",
)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def ticks(self) -> int:
        return self.utime + self.stime + self.cutime + self.cstime


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line. comm may hold spaces and parentheses: it ends at the last ')'."""
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()  # fields[0] is field 3 (state) of proc(5)
    return ProcStat(
        pid=int(pid),
        comm=comm,
        ppid=int(fields[1]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def read_stat(pid: int, proc: Path = Path("/proc")) -> ProcStat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return None


def all_stats(proc: Path = Path("/proc")) -> dict[int, ProcStat]:
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name), proc)
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def descendants(roots: Iterable[int], stats: dict[int, ProcStat]) -> list[int]:
    """The roots (those alive) and every process below them."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, todo = [], [pid for pid in roots if pid in stats]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def pss_kb(pid: int, proc: Path = Path("/proc")) -> int | None:
    try:
        for line in (proc / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def busy_ticks(proc_stat: str) -> int:
    """Ticks the whole machine spent busy, from /proc/stat's first line (all but idle and iowait)."""
    fields = [int(v) for v in proc_stat.splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already inside user/nice]
    return sum(fields[:8]) - fields[3] - fields[4]


def machine_busy_ticks() -> int:
    return busy_ticks(Path("/proc/stat").read_text())


class ProcessGroup:
    """The server's processes: named roots (gunicorn master, a drainer, nginx) and their descendants."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = dict(roots)

    def members(self) -> dict[str, list[int]]:
        stats = all_stats()
        return {name: descendants([pid], stats) for name, pid in self.roots.items()}

    def cpu_ticks(self) -> int:
        stats = all_stats()
        return sum(stats[pid].ticks for pid in descendants(self.roots.values(), stats))

    def pss(self) -> dict[str, Any]:
        by_role: dict[str, list[int]] = {}
        for name, pids in self.members().items():
            by_role[name] = sorted(kb for kb in (pss_kb(pid) for pid in pids) if kb is not None)
        total = sum(sum(values) for values in by_role.values())
        return {
            "pss_total_mb": round(total / 1024, 1),
            "processes": sum(len(values) for values in by_role.values()),
            "pss_mb": {name: [round(kb / 1024, 1) for kb in values] for name, values in by_role.items()},
        }


class MidRunSampler:
    """Samples a group's PSS once, `delay` seconds after start(): the middle of a measured run."""

    def __init__(self, group: ProcessGroup, delay: float) -> None:
        self.result: dict[str, Any] | None = None
        self._cancel = threading.Event()

        def sample() -> None:
            if not self._cancel.wait(delay):
                self.result = group.pss()

        self._thread = threading.Thread(target=sample, daemon=True)

    def start(self) -> MidRunSampler:
        self._thread.start()
        return self

    def join(self) -> dict[str, Any] | None:
        self._cancel.set()  # a run that ended early gets no sample rather than an idle one
        self._thread.join()
        return self.result


def summarize(values: Sequence[float], digits: int = 2) -> dict[str, float | None]:
    """Median, min and max of the repetitions."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(present), digits),
        "min": round(min(present), digits),
        "max": round(max(present), digits),
    }


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, float | None]:
    """Ratio of the repetitions taken side by side (rep i of B over rep i of A), summarized."""
    values = [ratio(n, d, 6) for n, d in zip(numerators, denominators, strict=True)]
    return summarize([v for v in values if v is not None], 3)


def per_request_ms(seconds: float, requests: int) -> float | None:
    return round(seconds * 1000 / requests, 4) if requests else None


def git_state(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
