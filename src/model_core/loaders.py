"""Pluggable model loaders: each turns an artifact into a predictor.

A predictor takes a 2-D float array (rows x features) and returns one array per
manifest output, in manifest order. Add a loader by registering a class with
``load``; ``fork_safe`` says whether a loaded model may be shared with forked
workers (copy-on-write) or must be loaded again in each worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ArtifactError
from .manifest import Manifest


class Predictor(Protocol):
    def __call__(self, rows: np.ndarray) -> list[np.ndarray]: ...


class Loader(Protocol):
    fork_safe: bool

    def load(self, artifact: Path, manifest: Manifest) -> Predictor: ...


class SklearnLoader:
    """A joblib-pickled scikit-learn estimator; classifiers give labels and probabilities."""

    fork_safe = True

    def load(self, artifact: Path, manifest: Manifest) -> Predictor:
        import joblib

        estimator = joblib.load(artifact)
        outputs = [o.name for o in manifest.outputs]

        def predict(rows: np.ndarray) -> list[np.ndarray]:
            results = []
            for name in outputs:
                if name == "probabilities":
                    results.append(np.asarray(estimator.predict_proba(rows)))
                else:
                    results.append(np.asarray(estimator.predict(rows)))
            return results

        return predict


class OnnxLoader:
    """An ONNX graph run by ONNX Runtime; graph outputs map to manifest outputs by position."""

    # ONNX Runtime owns thread pools that do not survive fork(): load per worker.
    fork_safe = False

    def load(self, artifact: Path, manifest: Manifest) -> Predictor:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(artifact), options, providers=["CPUExecutionProvider"])
        graph_input = session.get_inputs()[0]
        dtype = np.float64 if "double" in graph_input.type else np.float32
        names = [o.name for o in session.get_outputs()][: len(manifest.outputs)]

        def predict(rows: np.ndarray) -> list[np.ndarray]:
            return [np.asarray(r) for r in session.run(names, {graph_input.name: rows.astype(dtype)})]

        return predict


LOADERS: dict[str, Callable[[], Loader]] = {"sklearn": SklearnLoader, "onnx": OnnxLoader}


def get_loader(name: str) -> Loader:
    try:
        return LOADERS[name]()
    except KeyError:
        raise ArtifactError(f"unknown loader {name!r} (known: {', '.join(sorted(LOADERS))})") from None
