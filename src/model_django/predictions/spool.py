"""The prediction log's spool: each worker appends one line per answered prediction to its own
file before the answer leaves; a separate process (``drain_prediction_spool``) loads the lines
into the database in batches, off the request path.

Why a record survives a killed process:
- a line is written with one ``write(2)`` on an ``O_APPEND`` descriptor before the response is
  returned, so once a client has its answer the line is in the kernel's page cache, whatever
  happens to the worker afterwards (SIGKILL included; a power cut is not covered: no fsync);
- a writer holds an exclusive ``flock`` on its file for as long as it writes to it; the kernel
  drops the lock when the process dies, so the drainer knows a file is finished when it can take
  the lock, and deletes it only then, after loading every line;
- a file is created under a temporary name, locked, then renamed, so the drainer never sees an
  unlocked file that a writer is about to use;
- the drainer may be killed between loading and forgetting lines: it loads them again when it
  restarts, and the table's unique (request_id, input_digest) keeps one row per request.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".jsonl"
FORMAT = 1  # "v" of every line: a loader of another release knows what it reads
REJECTED = "rejected.lines"  # lines no database would take, kept for a person to look at
# A writer starts a new file beyond this size, so that finished files can be deleted while the
# worker lives on, and a restarted drainer re-reads little.
ROTATE_BYTES = 4 * 1024 * 1024

log = logging.getLogger("stackgen.error")


class SpoolWriter:
    """One per process; reopened after fork (gunicorn preloads the app in the master)."""

    def __init__(self, directory: Path, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.directory = Path(directory)
        self.rotate_bytes = rotate_bytes
        self._lock = threading.Lock()  # threaded workers share the descriptor
        self._fd: int | None = None
        self._pid = 0
        self._size = 0

    def append(self, entry: dict[str, Any]) -> None:
        """Write one record; raises OSError when it could not be written (disk full, no directory)."""
        line = (json.dumps({"v": FORMAT, **entry}, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            if self._fd is None or self._pid != os.getpid() or self._size >= self.rotate_bytes:
                self._open()
            assert self._fd is not None
            try:
                written = os.write(self._fd, line)
                if written != len(line):  # a short write on a regular file means the disk is full
                    raise OSError(f"prediction spool: wrote {written} of {len(line)} bytes")
            except OSError:
                # Cut the fragment off, so that the next record does not start glued to it.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                raise
            self._size += written

    def _open(self) -> None:
        if self._fd is not None:
            # Releases the lock once no process holds the descriptor: in the writer, the drainer
            # may finish the old file; in a forked child, the parent's lock then ends with it.
            os.close(self._fd)
        self._fd = None
        name = f"{os.getpid()}-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(temporary, self.directory / f"{name}{SUFFIX}")
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        self._fd, self._pid, self._size = fd, os.getpid(), 0


@dataclass
class SpoolBatch:
    """Complete lines read from one file, and where reading stopped."""

    path: Path
    entries: list[dict[str, Any]]
    end: int  # offset after the last complete line read
    finished: bool  # the writer is gone and every complete line is in entries
    torn: int = 0  # bytes after the last newline of a finished file (a write cut short)


class SpoolReader:
    """What the drainer reads: the complete lines of every file past what it already loaded."""

    def __init__(self, directory: Path, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.offsets: dict[Path, int] = {}

    def pending(self) -> Iterator[SpoolBatch]:
        """One file at a time, so that a backlog of many files is never all in memory."""
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            batch = self._read(path)
            if batch is not None:
                yield batch

    def _read(self, path: Path) -> SpoolBatch | None:
        start = self.offsets.get(path, 0)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            # Taken before reading: if the writer is gone now, nothing is added after this read.
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                writer_gone = True
            except BlockingIOError:
                writer_gone = False
            handle.seek(start)
            data = handle.read(self.max_bytes)
            # A line longer than max_bytes (a big batch's predictions): read on to its end.
            while b"\n" not in data and (more := handle.read(self.max_bytes)):
                data += more
            at_end = not handle.read(1)
        complete = data[: data.rfind(b"\n") + 1]
        entries = []
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError("not an object")
            except ValueError:  # a write torn by a crash: keep it aside, go on with the rest
                self.reject(line, f"unreadable line in {path.name}")
                continue
            entries.append(entry)
        finished = writer_gone and at_end
        torn = len(data) - len(complete) if finished else 0
        return SpoolBatch(path, entries, start + len(complete), finished, torn)

    def reject(self, line: bytes, why: str) -> None:
        log.error("prediction spool: %s; kept in %s", why, REJECTED)
        with (self.directory / REJECTED).open("ab") as rejected:
            rejected.write(line.rstrip(b"\n") + b"\n")

    def done(self, batch: SpoolBatch) -> None:
        """The batch is in the database: remember where to go on, or delete a finished file."""
        if batch.finished:
            batch.path.unlink(missing_ok=True)
            self.offsets.pop(batch.path, None)
        else:
            self.offsets[batch.path] = batch.end
