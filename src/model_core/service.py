"""ModelService: loads one model, proves it with a warm-up, and predicts on validated rows."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from .errors import ArtifactError, BadRequest, NotReady
from .loaders import Predictor, get_loader
from .manifest import Manifest, load_manifest, verify_artifact
from .tensors import check_batch

log = logging.getLogger("stackgen.model")

# Larger magnitudes overflow float64 inside typical models (scaling, dot products, exp)
# and would come back as inf/NaN; they are rejected with a 400 instead.
MAX_ABS_INPUT = 1e150


class ModelService:
    def __init__(self, model_dir: Path, max_batch: int = 1024, release_id: str = "") -> None:
        self.model_dir = Path(model_dir)
        self.max_batch = max_batch
        self.manifest: Manifest | None = None
        self.release_id = release_id
        self.load_seconds: float | None = None
        self.error: str | None = None
        self._predictor: Predictor | None = None
        self._lock = threading.Lock()

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
                outputs = predictor(np.zeros((1, manifest.n_features), dtype=np.float64))
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
        if not np.all(np.isfinite(rows)):
            raise BadRequest(f"{field}: values must be finite numbers (no NaN or Infinity)")
        if np.any(np.abs(rows) > MAX_ABS_INPUT):
            raise BadRequest(f"{field}: values must lie within ±{MAX_ABS_INPUT:g}")
        return rows

    def predict(self, rows: np.ndarray) -> list[np.ndarray]:
        """Predict on rows already checked by validate_rows."""
        self.require_ready()
        assert self._predictor is not None
        try:
            outputs = self._predictor(rows)
        except ValueError as exc:  # the model's own input validation: the client's input, not our bug
            raise BadRequest(f"the model rejected the input: {exc}") from None
        for spec, array in zip(self.manifest.outputs if self.manifest else (), outputs, strict=False):
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                raise BadRequest(f"the model produced non-finite values for output {spec.name!r} on this input")
        return outputs
