"""The prediction spool: written before the answer, loaded by drain_prediction_spool, nothing
lost or doubled when a writer or the loader dies (predictions/spool.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from model_django.predictions.models import PredictionLog
from model_django.predictions.recorder import _spool
from model_django.predictions.spool import SpoolReader, SpoolWriter

from .conftest import GOLDEN_ROWS


def entry(n: int) -> dict:
    return {
        "request_id": f"req-{n}",
        "model_name": "iris",
        "model_version": "1",
        "route": "/v2/models/{name}/infer",
        "input_digest": "d" * 64,
        "output": [n],
        "latency_ms": 1.5,
        "status": 200,
        "caller_id": None,
        "created_at": "2026-01-02T03:04:05.123456+00:00",
    }


def files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def test_a_live_writers_file_is_read_up_to_its_last_line_and_kept(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    for n in range(3):
        writer.append(entry(n))
    reader = SpoolReader(tmp_path)
    (batch,) = reader.pending()
    assert [e["request_id"] for e in batch.entries] == ["req-0", "req-1", "req-2"]
    assert batch.finished is False  # the writer holds its lock
    reader.done(batch)
    assert [p.suffix for p in files(tmp_path)] == [".jsonl"]
    writer.append(entry(3))
    (batch,) = reader.pending()
    assert [e["request_id"] for e in batch.entries] == ["req-3"]  # from where it stopped


def test_a_line_being_written_is_not_read_until_complete(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append(entry(0))
    (path,) = files(tmp_path)
    with path.open("ab") as raw:
        raw.write(b'{"request_id": "half')
    reader = SpoolReader(tmp_path)
    (batch,) = reader.pending()
    assert [e["request_id"] for e in batch.entries] == ["req-0"]
    assert batch.end == len(path.read_bytes()) - len(b'{"request_id": "half')


def test_a_line_longer_than_one_read_is_read_whole(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append({**entry(0), "output": list(range(200))})  # about 1 kB
    writer.append(entry(1))
    (batch,) = SpoolReader(tmp_path, max_bytes=64).pending()
    assert [e["request_id"] for e in batch.entries] == ["req-0"]  # whole, then the rest next time
    assert batch.entries[0]["output"] == list(range(200))


def test_a_failed_write_leaves_no_fragment_for_the_next_line_to_stick_to(tmp_path: Path, monkeypatch) -> None:
    from model_django.predictions import spool

    writer = SpoolWriter(tmp_path)
    writer.append(entry(0))
    real_write = os.write
    monkeypatch.setattr(spool.os, "write", lambda fd, data: real_write(fd, data[:10]))  # the disk filled up
    with pytest.raises(OSError, match="wrote 10 of"):
        writer.append(entry(1))
    monkeypatch.setattr(spool.os, "write", real_write)
    writer.append(entry(2))
    (batch,) = SpoolReader(tmp_path).pending()
    assert [e["request_id"] for e in batch.entries] == ["req-0", "req-2"]
    assert not (tmp_path / "rejected.lines").exists()


def _write_then_die(directory: str, count: int) -> None:
    writer = SpoolWriter(Path(directory))
    for n in range(count):
        writer.append(entry(n))
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_writers_file_is_finished_and_deleted_once_loaded(tmp_path: Path) -> None:
    process = multiprocessing.get_context("fork").Process(target=_write_then_die, args=(str(tmp_path), 5))
    process.start()
    process.join(10)
    assert process.exitcode == -signal.SIGKILL
    reader = SpoolReader(tmp_path)
    (batch,) = reader.pending()
    assert len(batch.entries) == 5
    assert (batch.finished, batch.torn) == (True, 0)
    reader.done(batch)
    assert files(tmp_path) == []


def test_a_writer_rotates_and_the_closed_file_is_finished(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, rotate_bytes=1)  # every line in a file of its own
    for n in range(3):
        writer.append(entry(n))
    reader = SpoolReader(tmp_path)
    batches = list(reader.pending())
    assert [b.finished for b in batches] == [True, True, False]
    assert [b.entries[0]["request_id"] for b in batches] == ["req-0", "req-1", "req-2"]


def test_after_fork_a_child_writes_its_own_file(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path)
    writer.append(entry(0))
    pid = os.fork()
    if pid == 0:  # the child: like a gunicorn worker forked from a master that had written
        try:
            writer.append(entry(1))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    names = [p.name.split("-")[0] for p in files(tmp_path)]
    assert sorted(names) == sorted([str(os.getpid()), str(pid)])


def test_files_are_private_to_the_app_and_temporary_names_are_never_read(tmp_path: Path) -> None:
    (tmp_path / ".123-1-abcd.tmp").write_text(json.dumps(entry(9)) + "\n")
    SpoolWriter(tmp_path).append(entry(0))
    spooled = [p for p in files(tmp_path) if p.suffix == ".jsonl"]
    assert len(spooled) == 1 and spooled[0].stat().st_mode & 0o777 == 0o640
    (batch,) = SpoolReader(tmp_path).pending()
    assert [e["request_id"] for e in batch.entries] == ["req-0"]


@pytest.fixture
def spool_dir(tmp_path: Path, settings) -> Path:
    settings.PREDICTION_LOG_SPOOL = str(tmp_path)
    _spool.cache_clear()
    yield tmp_path
    _spool.cache_clear()


def test_inference_is_spooled_then_loaded_with_its_caller_and_time(spool_dir: Path, client, token, db) -> None:
    started = timezone.now()
    body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": GOLDEN_ROWS[:1]}]}
    reply = client.post(
        "/v2/models/iris/infer",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "spooled-1"},
    )
    assert reply.status_code == 200
    assert PredictionLog.objects.count() == 0  # not inside the request
    call_command("drain_prediction_spool", verbosity=0)
    row = PredictionLog.objects.get(request_id="spooled-1")
    assert (row.status, row.output, row.caller.username) == (200, [0], "alice")
    assert started <= row.created_at <= timezone.now()  # when it was answered


def test_loading_the_same_lines_again_adds_no_row(spool_dir: Path, db) -> None:
    writer = SpoolWriter(spool_dir)
    for n in range(3):
        writer.append(entry(n))
    (path,) = files(spool_dir)
    copy = path.with_name("copy-" + path.name)  # as if a killed loader had not recorded its progress
    copy.write_bytes(path.read_bytes())
    call_command("drain_prediction_spool", verbosity=0)
    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-0", "req-1", "req-2"]
    assert str(PredictionLog.objects.get(request_id="req-1").created_at) == "2026-01-02 03:04:05.123456+00:00"
    assert files(spool_dir) == [path]  # the copy's writer is gone: loaded and deleted; the live one stays


def test_a_spool_write_failure_answers_503_not_an_unrecorded_prediction(settings, client, token, tmp_path) -> None:
    settings.PREDICTION_LOG_SPOOL = str(tmp_path / "gone")  # the spool cannot take a file
    _spool.cache_clear()
    try:
        body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": GOLDEN_ROWS[:1]}]}
        reply = client.post(
            "/v2/models/iris/infer",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        _spool.cache_clear()
    assert reply.status_code == 503
    assert reply.json()["error"].startswith("the prediction could not be recorded")


def test_lines_no_code_or_database_takes_are_kept_aside_and_the_rest_loads(spool_dir: Path, db) -> None:
    writer = SpoolWriter(spool_dir)
    writer.append(entry(0))
    (path,) = files(spool_dir)
    with path.open("ab") as raw:
        raw.write(b'{"request_id": "torn-by-a-cra\n[1, 2]\n')  # a torn line, a line that is no record
    writer.append({k: v for k, v in entry(1).items() if k != "route"})  # written by some other code
    writer.append({**entry(3), "model_version": {"v": 1}})  # a type no text column takes
    writer.append(entry(2))
    call_command("drain_prediction_spool", verbosity=0)
    assert sorted(PredictionLog.objects.values_list("request_id", flat=True)) == ["req-0", "req-2"]
    rejected = (spool_dir / "rejected.lines").read_text().splitlines()
    assert len(rejected) == 4
    assert json.loads(rejected[3])["request_id"] == "req-3"
    assert rejected[0] == '{"request_id": "torn-by-a-cra'
    assert json.loads(rejected[2])["request_id"] == "req-1"


def test_draining_without_a_spool_is_a_clear_error(settings) -> None:
    settings.PREDICTION_LOG_SPOOL = ""
    with pytest.raises(CommandError, match="STACKGEN_PREDICTION_SPOOL is not set"):
        call_command("drain_prediction_spool")


def test_a_record_whose_caller_was_deleted_is_loaded_without_it_and_blocks_nothing(
    spool_dir: Path, transactional_db
) -> None:
    from django.contrib.auth import get_user_model

    # Committed transactions: the database checks the caller when the loader inserts, as in production.
    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    writer = SpoolWriter(spool_dir)
    writer.append({**entry(0), "caller_id": user.pk})
    writer.append({**entry(1), "caller_id": user.pk + 1000})  # deleted before the loader ran
    writer.append({**entry(2), "caller_id": user.pk})
    call_command("drain_prediction_spool", verbosity=0)
    callers = dict(PredictionLog.objects.values_list("request_id", "caller__username"))
    assert callers == {"req-0": "alice", "req-1": None, "req-2": "alice"}
