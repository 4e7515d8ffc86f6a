"""ModelService: loads one model, proves it with a warm-up, and predicts on validated rows."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .batching import MicroBatcher
from .errors import ArtifactError, BadRequest, NotReady
from .loaders import Predictor, get_loader
from .manifest import Manifest, load_manifest, verify_artifact
from .tensors import check_batch

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger("stackgen.model")

# Larger magnitudes overflow float64 inside typical models (scaling, dot products, exp)
# and would come back as inf/NaN; they are rejected with a 400 instead.
MAX_ABS_INPUT = 1e150


class ModelService:
    def __init__(
        self,
        model_dir: Path,
        max_batch: int = 1024,
        release_id: str = "",
        batch_wait_ms: float = 0.0,
        batch_max_rows: int | None = None,
    ) -> None:
        """``batch_wait_ms`` > 0 groups concurrent predictions into one model call of at most
        ``batch_max_rows`` rows (default ``max_batch``); 0 calls the model once per request."""
        self.model_dir = Path(model_dir)
        self.max_batch = max_batch
        self.batch_wait_ms = batch_wait_ms
        self.batch_max_rows = batch_max_rows or max_batch
        self._batcher = self._new_batcher()
        self.manifest: Manifest | None = None
        self.release_id = release_id
        self.load_seconds: float | None = None
        self.error: str | None = None
        self._predictor: Predictor | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> ModelService:
        return cls(
            config.model_dir,
            config.max_batch,
            config.release_id,
            batch_wait_ms=config.batch_wait_ms,
            batch_max_rows=config.batch_max_rows,
        )

    def _new_batcher(self) -> MicroBatcher | None:
        if self.batch_wait_ms <= 0:
            return None
        return MicroBatcher(self._compute, self.batch_wait_ms / 1000, self.batch_max_rows)

    # -- lifecycle -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._predictor is not None

    @property
    def name(self) -> str | None:
        return self.manifest.name if self.manifest else None

    def read_manifest(self) -> Manifest:
        """Read the manifest alone (cheap) so metadata routes answer before the model loads."""
        if self.manifest is None:
            self.manifest = load_manifest(self.model_dir)
            if not self.release_id:
                self.release_id = str(self.manifest.extra.get("release", "")) or "dev"
        return self.manifest

    def load(self) -> None:
        """Verify, load and warm up; ready only if all three succeed. Raises ArtifactError."""
        with self._lock:
            started = time.perf_counter()
            self._predictor = None
            try:
                manifest = self.read_manifest()
                artifact = verify_artifact(self.model_dir, manifest)
                predictor = get_loader(manifest.loader).load(artifact, manifest)
                names = [o.name for o in manifest.outputs]
                outputs = predictor(np.zeros((1, manifest.n_features), dtype=np.float64), names)
                if len(outputs) != len(manifest.outputs):
                    raise ArtifactError(
                        f"warm-up returned {len(outputs)} outputs, manifest declares {len(manifest.outputs)}"
                    )
            except ArtifactError as exc:
                self.error = str(exc)
                log.error("model not loaded: %s", exc)
                raise
            except Exception as exc:  # a loader's own failure must not leave a half-ready service
                self.error = f"loading failed: {exc}"
                log.exception("model not loaded")
                raise ArtifactError(self.error) from exc
            self._predictor = predictor
            self.error = None
            self.load_seconds = time.perf_counter() - started
            log.info(
                "model %s version %s loaded and warmed up in %.3fs", manifest.name, manifest.version, self.load_seconds
            )

    def reload_after_fork(self) -> None:
        """Loaders that cannot be shared across fork() load again in each worker."""
        # Fresh locks per worker: nothing may hold the inherited ones, whatever the master did.
        self._batcher = self._new_batcher()
        if self.manifest is not None and not get_loader(self.manifest.loader).fork_safe:
            self.load()

    # -- inference ---------------------------------------------------------------
    def require_ready(self) -> Manifest:
        if not self.ready or self.manifest is None:
            raise NotReady(f"model is not ready: {self.error or 'still loading'}")
        return self.manifest

    def validate_rows(self, rows: np.ndarray, field: str) -> np.ndarray:
        """Check a batch against the manifest; errors name ``field`` and what was expected."""
        manifest = self.require_ready()
        n = manifest.n_features
        if rows.ndim != 2:
            raise BadRequest(f"{field}: expected rows of {n} features (shape [-1, {n}]), got shape {list(rows.shape)}")
        if rows.shape[1] != n:
            raise BadRequest(f"{field}: expected {n} features per row, got {rows.shape[1]}")
        if rows.shape[0] == 0:
            raise BadRequest(f"{field}: expected at least one row")
        check_batch(rows.shape[0], self.max_batch, field)
        # One reduction for the common case: the largest magnitude is NaN if any value is NaN.
        largest = float(np.abs(rows).max())
        if not largest <= MAX_ABS_INPUT:
            if not np.all(np.isfinite(rows)):
                raise BadRequest(f"{field}: values must be finite numbers (no NaN or Infinity)")
            raise BadRequest(f"{field}: values must lie within ±{MAX_ABS_INPUT:g}")
        return rows

    def announce(self) -> AbstractContextManager[None]:
        """Wrap an inference request from arrival to predict(): with batching on, a model call
        about to start may wait (briefly) for it; with batching off this costs nothing."""
        return self._batcher.announce() if self._batcher is not None else contextlib.nullcontext()

    def predict(self, rows: np.ndarray, outputs: Sequence[str] | None = None) -> list[np.ndarray]:
        """Predict on rows already checked by validate_rows: one array per name in ``outputs``
        (default: every manifest output), in that order. Only those outputs are computed."""
        manifest = self.require_ready()
        known = [o.name for o in manifest.outputs]
        names = tuple(known) if outputs is None else tuple(outputs)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"model {manifest.name} has no outputs {unknown} (known: {known})")
        if not names:
            return []
        if self._batcher is None:
            return self._compute(rows, names)
        return self._batcher.submit(rows, names)

    def _compute(self, rows: np.ndarray, outputs: tuple[str, ...]) -> list[np.ndarray]:
        predictor = self._predictor
        if predictor is None:
            raise NotReady(f"model is not ready: {self.error or 'still loading'}")
        try:
            arrays = predictor(rows, outputs)
        except ValueError as exc:  # the model's own input validation: the client's input, not our bug
            raise BadRequest(f"the model rejected the input: {exc}") from None
        for name, array in zip(outputs, arrays, strict=True):
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                raise BadRequest(f"the model produced non-finite values for output {name!r} on this input")
        return arrays
