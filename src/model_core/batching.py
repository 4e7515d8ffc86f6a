"""Adaptive cross-request micro-batching: concurrent requests in one process share one model call.

Under a threaded worker (gunicorn gthread) several request threads run in one process, and
one model call on 8 rows costs little more than one on a single row. Leader/follower scheme,
with no thread of its own (so nothing runs in a preloaded master before fork):

* a request finding the model idle becomes the leader and calls the model at once;
* requests arriving while a call runs queue and sleep; when the call ends, one of them leads
  and runs the queued requests (up to ``max_rows`` rows) as one call, then each caller takes
  its own slice;
* a leader waits up to ``wait_seconds`` for companions only when requests are known to be on
  their way (announced, still parsing their bodies), never when it is alone.

A grouped call that fails is retried request by request, so an error (a row the model
refuses, a non-finite output, an unexpected exception) reaches only the request it belongs to.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

# (rows, output names) -> one array per name whose first axis is the rows. May raise.
BatchFunction = Callable[[np.ndarray, tuple[str, ...]], list[np.ndarray]]


class _Job:
    __slots__ = ("done", "error", "outputs", "result", "rows")

    def __init__(self, rows: np.ndarray, outputs: tuple[str, ...]) -> None:
        self.rows = rows
        self.outputs = outputs
        self.result: list[np.ndarray] | None = None
        self.error: BaseException | None = None
        self.done = False

    def outcome(self) -> list[np.ndarray]:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class MicroBatcher:
    def __init__(self, run: BatchFunction, wait_seconds: float, max_rows: int) -> None:
        self._run = run
        self.wait_seconds = wait_seconds
        self.max_rows = max_rows
        lock = threading.Lock()
        self._arrival = threading.Condition(lock)  # a leader waiting for companions
        self._progress = threading.Condition(lock)  # followers waiting for their result or their turn
        self._lock = lock
        self._queue: deque[_Job] = deque()
        self._busy = False  # a leader is taking or running a batch
        self._upcoming = 0  # announced requests that have not submitted (or given up) yet
        self._local = threading.local()
        self.waits = 0  # how often a leader waited for companions; tests prove a lone request never does

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    @contextmanager
    def announce(self) -> Iterator[None]:
        """Wrap a request from its arrival to its submit(): while it is still parsing its body,
        a leader knows one more request is coming and may wait for it."""
        if getattr(self._local, "announced", False):  # nested handlers count once
            yield
            return
        with self._lock:
            self._upcoming += 1
            self._local.announced = True
        try:
            yield
        finally:
            with self._lock:
                # A request that failed before submit() must not keep a leader waiting.
                if self._forget_announcement():
                    self._arrival.notify_all()

    def _forget_announcement(self) -> bool:
        """With the lock held: stop counting this thread as upcoming; True if it was."""
        if not getattr(self._local, "announced", False):
            return False
        self._local.announced = False
        self._upcoming -= 1
        return True

    def submit(self, rows: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        """Return one array per name in ``outputs`` for ``rows`` alone, or raise its own error."""
        job = _Job(rows, outputs)
        with self._lock:
            self._forget_announcement()
            self._queue.append(job)
            self._arrival.notify_all()
            while not job.done and self._busy:
                self._progress.wait()
            lead = not job.done
            if lead:
                self._busy = True
        if lead:
            try:
                while not job.done:  # FIFO: batches taken ahead of ours are run first
                    self._execute(self._take())
            finally:
                with self._lock:
                    self._busy = False
                    self._progress.notify_all()
        return job.outcome()

    def _take(self) -> list[_Job]:
        with self._lock:
            if self.wait_seconds > 0 and self._upcoming > 0 and self._queued_rows() < self.max_rows:
                self.waits += 1
                deadline = time.monotonic() + self.wait_seconds
                while self._upcoming > 0 and self._queued_rows() < self.max_rows:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._arrival.wait(remaining)
            batch = [self._queue.popleft()]
            rows = len(batch[0].rows)
            # Stop at the first request that does not fit rather than skip it: order stays FIFO.
            while self._queue and rows + len(self._queue[0].rows) <= self.max_rows:
                batch.append(self._queue.popleft())
                rows += len(batch[-1].rows)
        return batch

    def _queued_rows(self) -> int:
        return sum(len(job.rows) for job in self._queue)

    def _execute(self, batch: list[_Job]) -> None:
        try:
            if len(batch) == 1:
                self._run_alone(batch[0])
            else:
                self._run_group(batch)
        except BaseException as exc:
            # Only a non-Exception (KeyboardInterrupt, SystemExit) gets here. A job taken from
            # the queue is in no other thread's hands: finish it or its caller waits forever.
            for job in batch:
                if not job.done:
                    job.error, job.done = exc, True
            raise
        finally:
            with self._lock:
                self._progress.notify_all()

    def _run_alone(self, job: _Job) -> None:
        try:
            job.result = self._run(job.rows, job.outputs)
        except Exception as exc:
            job.error = exc
        job.done = True

    def _run_group(self, batch: list[_Job]) -> None:
        # The union of the outputs asked for: one call serves requests wanting different outputs.
        names = tuple(dict.fromkeys(name for job in batch for name in job.outputs))
        try:
            rows = np.concatenate([job.rows for job in batch])
            arrays = self._run(rows, names)
            if len(arrays) != len(names) or any(np.shape(a)[:1] != (len(rows),) for a in arrays):
                raise ValueError("the model's outputs do not have one entry per row")
        except Exception:
            for job in batch:
                self._run_alone(job)
            return
        by_name = dict(zip(names, arrays, strict=True))
        start = 0
        for job in batch:
            stop = start + len(job.rows)
            job.result = [by_name[name][start:stop] for name in job.outputs]
            job.done = True
            start = stop
