"""Cross-request micro-batching: grouping, per-request results and errors, the adaptive wait, config.

Grouping is made deterministic without sleeps: the first model call is held until every
other request has queued behind it, so the next call must gather them all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from flask.testing import FlaskClient

from model_core.api import ModelAPI
from model_core.batching import MicroBatcher
from model_core.config import Config
from model_core.errors import BadRequest, ConfigError
from model_core.service import ModelService
from model_flask import create_app

from .conftest import GOLDEN_ROWS

BOTH = ("label", "probabilities")
# First feature values that make FakeModel misbehave.
REFUSED, NON_FINITE, BROKEN, FATAL = -1.0, -2.0, -3.0, -4.0


class Fatal(BaseException):
    """Not an Exception: stands for KeyboardInterrupt/SystemExit inside a model call."""


class FakeModel:
    """Identity-like: label = first feature (as an integer), probabilities = rows * 2, so every
    caller can check it got its own rows' results. Records each call's first features and outputs;
    the first call can be held until the test releases it."""

    def __init__(self, hold_first: bool = False) -> None:
        self.calls: list[list[float]] = []
        self.outputs: list[tuple[str, ...]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold_first:
            self.release.set()
        self._lock = threading.Lock()

    def __call__(self, rows: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
        with self._lock:
            first = not self.calls
            self.calls.append(rows[:, 0].tolist())
            self.outputs.append(tuple(outputs))
        if first:
            self.entered.set()
            assert self.release.wait(10), "the test never released the first call"
        features = rows[:, 0]
        if np.any(features == REFUSED):
            raise ValueError("negative rows are refused")
        if np.any(features == BROKEN):
            raise RuntimeError("boom")
        if np.any(features == FATAL):
            raise Fatal()
        probabilities = rows * 2
        probabilities[features == NON_FINITE] = np.nan
        by_name = {"label": features.astype(np.int64), "probabilities": probabilities}
        return [by_name[name] for name in outputs]


class Caller(threading.Thread):
    def __init__(self, predict: Callable[..., list[np.ndarray]], rows: np.ndarray, outputs: Sequence[str]) -> None:
        super().__init__(daemon=True)
        self.predict, self.rows, self.outputs = predict, rows, tuple(outputs)
        self.result: list[np.ndarray] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.predict(self.rows, self.outputs)
        except BaseException as exc:  # the test inspects whatever reached this caller
            self.error = exc


def rows_of(*firsts: float) -> np.ndarray:
    return np.array([[first, 1.0, 2.0, 3.0] for first in firsts])


def expected(rows: np.ndarray, outputs: Sequence[str]) -> list[list[object]]:
    by_name = {"label": rows[:, 0].astype(np.int64).tolist(), "probabilities": (rows * 2).tolist()}
    return [by_name[name] for name in outputs]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


def join_all(callers: Sequence[threading.Thread]) -> None:
    for caller in callers:
        caller.join(10)
    assert not any(c.is_alive() for c in callers), "a caller hangs"


def service_with(model_dir: Path, model: FakeModel, **batching: object) -> ModelService:
    service = ModelService(model_dir, **batching)  # type: ignore[arg-type]
    service.load()  # the real model proves the artifact; the fake then stands in for it
    service._predictor = model
    return service


def held_group(
    service: ModelService, model: FakeModel, requests: Sequence[tuple[np.ndarray, Sequence[str]]]
) -> list[Caller]:
    """Hold one lone request inside the model until ``requests`` have all queued, then release."""
    holder = Caller(service.predict, rows_of(0.5), BOTH)
    holder.start()
    assert model.entered.wait(10)
    callers = [Caller(service.predict, rows, outputs) for rows, outputs in requests]
    for caller in callers:
        caller.start()
    assert service._batcher is not None
    wait_until(lambda: service._batcher is not None and service._batcher.queued == len(callers), "all queued")
    model.release.set()
    join_all([holder, *callers])
    assert holder.error is None
    return callers


def test_concurrent_requests_share_one_call_and_each_gets_its_own_rows(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model, batch_wait_ms=5)
    output_sets = [("label",), ("probabilities",), BOTH]
    # 1 to 3 rows each, distinct values, different output sets: the group computes the union.
    requests = [(rows_of(*(10.0 * i + k for k in range(i % 3 + 1))), output_sets[i % 3]) for i in range(1, 9)]
    callers = held_group(service, model, requests)
    assert len(model.calls) == 2
    assert sorted(model.calls[1]) == sorted(v for rows, _ in requests for v in rows[:, 0].tolist())
    assert model.outputs[1] in (("label", "probabilities"), ("probabilities", "label"))
    for caller in callers:
        assert caller.error is None
        assert caller.result is not None
        assert [a.tolist() for a in caller.result] == expected(caller.rows, caller.outputs)


def test_a_bad_request_in_a_group_fails_alone(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model, batch_wait_ms=5)
    firsts = [1.0, 2.0, REFUSED, NON_FINITE, 5.0]
    callers = held_group(service, model, [(rows_of(v), BOTH) for v in firsts])
    # The held call, the group that failed, then each request on its own.
    assert [len(call) for call in model.calls] == [1, 5, 1, 1, 1, 1, 1]
    outcomes = {c.rows[0, 0]: c.result if c.error is None else c.error for c in callers}
    refused, non_finite = outcomes.pop(REFUSED), outcomes.pop(NON_FINITE)
    assert isinstance(refused, BadRequest)
    assert refused.message == "the model rejected the input: negative rows are refused"
    assert isinstance(non_finite, BadRequest)
    assert non_finite.message == "the model produced non-finite values for output 'probabilities' on this input"
    for first, result in outcomes.items():
        assert isinstance(result, list)
        assert [a.tolist() for a in result] == expected(rows_of(first), BOTH)


def test_an_unexpected_exception_reaches_only_its_caller(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model, batch_wait_ms=5)
    callers = held_group(service, model, [(rows_of(v), ("label",)) for v in (1.0, BROKEN, 3.0)])
    errors = {c.rows[0, 0]: c.error for c in callers}
    assert isinstance(errors.pop(BROKEN), RuntimeError)
    assert errors == {1.0: None, 3.0: None}
    assert sorted(c.result[0].tolist()[0] for c in callers if c.result is not None) == [1, 3]


def test_a_dying_leader_releases_every_caller(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model, batch_wait_ms=5)
    callers = held_group(service, model, [(rows_of(v), ("label",)) for v in (1.0, FATAL, 3.0)])
    # A BaseException is no request's fault to isolate: the whole group gets it, nobody waits forever.
    assert all(isinstance(c.error, Fatal) for c in callers)
    # The batcher is idle again: the next request is served.
    assert service.predict(rows_of(7.0), ("label",))[0].tolist() == [7]


def test_batch_max_rows_bounds_every_call(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model, batch_wait_ms=5, batch_max_rows=3)
    callers = held_group(service, model, [(rows_of(float(v)), BOTH) for v in range(1, 8)])
    assert [len(call) for call in model.calls] == [1, 3, 3, 1]
    assert all(c.error is None for c in callers)


def test_a_request_larger_than_batch_max_rows_runs_alone_and_whole(model_dir: Path) -> None:
    model = FakeModel()
    service = service_with(model_dir, model, batch_wait_ms=5, batch_max_rows=3)
    labels = service.predict(rows_of(1, 2, 3, 4, 5), ("label",))[0]
    assert (labels.tolist(), model.calls) == ([1, 2, 3, 4, 5], [[1, 2, 3, 4, 5]])


def test_without_batching_every_request_calls_the_model(model_dir: Path) -> None:
    model = FakeModel(hold_first=True)
    service = service_with(model_dir, model)
    assert service._batcher is None
    holder = Caller(service.predict, rows_of(0.5), BOTH)
    holder.start()
    assert model.entered.wait(10)
    callers = [Caller(service.predict, rows_of(float(v)), BOTH) for v in range(1, 8)]
    for caller in callers:
        caller.start()
    # All seven reach the model while the first call is still inside it: nothing queues.
    wait_until(lambda: len(model.calls) == 8, "every request called the model")
    model.release.set()
    join_all([holder, *callers])
    assert sorted(model.calls) == [[0.5]] + [[float(v)] for v in range(1, 8)]


# -- the adaptive wait ---------------------------------------------------------------------


def test_a_lone_request_never_waits() -> None:
    model = FakeModel()
    batcher = MicroBatcher(model, wait_seconds=10, max_rows=100)
    started = time.monotonic()
    with batcher.announce(), batcher.announce():  # nested handlers count once
        labels = batcher.submit(rows_of(1.0), ("label",))[0]
    assert (labels.tolist(), model.calls, batcher.waits) == ([1], [[1.0]], 0)
    assert time.monotonic() - started < 5  # a 10 s wait would show


def test_a_leader_waits_for_an_announced_request_and_takes_it_along() -> None:
    model = FakeModel()
    batcher = MicroBatcher(model, wait_seconds=10, max_rows=100)
    go = threading.Event()

    def companion() -> list[np.ndarray]:
        with batcher.announce():  # arrived, still parsing its body
            assert go.wait(10)
            return batcher.submit(rows_of(2.0), ("label",))

    other = Caller(lambda rows, outputs: companion(), rows_of(2.0), ("label",))
    other.start()
    wait_until(lambda: batcher._upcoming == 1, "the companion announced itself")
    leader = Caller(batcher.submit, rows_of(1.0), ("label",))
    started = time.monotonic()
    leader.start()
    wait_until(lambda: batcher.waits == 1, "the leader waits")
    go.set()
    join_all([leader, other])
    # One call for both, and it started as soon as the companion arrived, not after 10 s.
    assert model.calls == [[1.0, 2.0]]
    assert time.monotonic() - started < 5
    assert leader.result is not None and other.result is not None
    assert (leader.result[0].tolist(), other.result[0].tolist()) == ([1], [2])


def test_an_announced_request_that_fails_early_stops_the_wait() -> None:
    model = FakeModel()
    batcher = MicroBatcher(model, wait_seconds=10, max_rows=100)
    give_up = threading.Event()

    def parse_error() -> list[np.ndarray]:
        with batcher.announce():
            assert give_up.wait(10)
            raise BadRequest("instances: expected an array")

    other = Caller(lambda rows, outputs: parse_error(), rows_of(2.0), ("label",))
    other.start()
    wait_until(lambda: batcher._upcoming == 1, "the other request announced itself")
    leader = Caller(batcher.submit, rows_of(1.0), ("label",))
    started = time.monotonic()
    leader.start()
    wait_until(lambda: batcher.waits == 1, "the leader waits")
    give_up.set()
    join_all([leader, other])
    assert (model.calls, batcher._upcoming) == ([[1.0]], 0)
    assert isinstance(other.error, BadRequest)
    assert time.monotonic() - started < 5


# -- configuration and the HTTP path -------------------------------------------------------


def test_batching_configuration(model_dir: Path) -> None:
    base = {"STACKGEN_MODEL_DIR": str(model_dir), "STACKGEN_MAX_BATCH": "64"}
    default = Config.from_env(base)
    assert (default.batch_wait_ms, default.batch_max_rows) == (0.0, 64)
    config = Config.from_env({**base, "STACKGEN_BATCH_WAIT_MS": "2.5", "STACKGEN_BATCH_MAX_ROWS": "16"})
    service = ModelService.from_config(config)
    assert (service.batch_wait_ms, service.batch_max_rows, service.max_batch) == (2.5, 16, 64)
    assert service._batcher is not None and (service._batcher.wait_seconds, service._batcher.max_rows) == (0.0025, 16)
    assert ModelService.from_config(default)._batcher is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STACKGEN_BATCH_WAIT_MS": "soon"}, "STACKGEN_BATCH_WAIT_MS='soon' is not a number"),
        ({"STACKGEN_BATCH_WAIT_MS": "51"}, "STACKGEN_BATCH_WAIT_MS='51' is out of range"),
        ({"STACKGEN_BATCH_WAIT_MS": "-1"}, "STACKGEN_BATCH_WAIT_MS='-1' is out of range"),
        ({"STACKGEN_BATCH_WAIT_MS": "nan"}, "STACKGEN_BATCH_WAIT_MS='nan' is out of range"),
        ({"STACKGEN_BATCH_MAX_ROWS": "0"}, "STACKGEN_BATCH_MAX_ROWS=0 is too small (expected an integer >= 1)"),
    ],
)
def test_bad_batching_configuration(model_dir: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"STACKGEN_MODEL_DIR": str(model_dir), **env})
    assert str(caught.value).startswith(message)
    if "WAIT" in message:
        assert str(caught.value).endswith("(expected milliseconds from 0 to 50)")


def test_concurrent_http_requests_with_batching(model_dir: Path) -> None:
    config = Config(model_dir=model_dir, batch_wait_ms=5)
    app = create_app(config, ModelAPI(config, service=ModelService.from_config(config)))
    clients: list[FlaskClient] = [app.test_client() for _ in range(8)]
    answers: list[object] = [None] * len(clients)

    def post(i: int) -> None:
        answers[i] = clients[i].post("/v1/models/iris:predict", json={"instances": GOLDEN_ROWS}).json

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    join_all(threads)
    assert answers == [{"predictions": [0, 1, 2, 2]}] * len(clients)
    batcher = app.extensions["stackgen_api"].service._batcher
    assert (batcher.queued, batcher._upcoming) == (0, 0)
