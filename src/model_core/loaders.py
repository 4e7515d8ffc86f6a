"""Pluggable model loaders: each turns an artifact into a predictor.

A predictor takes a 2-D float array (rows x features) and the names of the manifest
outputs wanted, and returns one array per name, in that order: a route that answers
with labels alone never pays for probabilities. Add a loader by registering a class with
``load``; ``fork_safe`` says whether a loaded model may be shared with forked
workers (copy-on-write) or must be loaded again in each worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ArtifactError
from .manifest import Manifest


class Predictor(Protocol):
    def __call__(self, rows: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]: ...


class Loader(Protocol):
    fork_safe: bool

    def load(self, artifact: Path, manifest: Manifest) -> Predictor: ...


class SklearnLoader:
    """A joblib-pickled scikit-learn estimator; classifiers give labels and probabilities."""

    fork_safe = True

    def load(self, artifact: Path, manifest: Manifest) -> Predictor:
        import joblib
        import sklearn

        estimator = joblib.load(artifact)

        def predict(rows: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
            # Each estimator method runs at most once, however many outputs share it.
            computed: dict[str, np.ndarray] = {}
            results = []
            # predict methods take no parameters worth validating on every call. The finite-value
            # checks stay: a pipeline step may turn a valid input into NaN or infinity, and the
            # estimator's error is then the only sign. config_context is per thread.
            with sklearn.config_context(skip_parameter_validation=True):
                for name in outputs:
                    method = "predict_proba" if name == "probabilities" else "predict"
                    if method not in computed:
                        computed[method] = np.asarray(getattr(estimator, method)(rows))
                    results.append(computed[method])
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
        graph_names = [o.name for o in session.get_outputs()]
        if len(graph_names) < len(manifest.outputs):
            raise ArtifactError(
                f"the ONNX graph has {len(graph_names)} outputs, the manifest declares {len(manifest.outputs)}"
            )
        by_manifest_name = dict(zip((o.name for o in manifest.outputs), graph_names, strict=False))

        def predict(rows: np.ndarray, outputs: Sequence[str]) -> list[np.ndarray]:
            wanted = [by_manifest_name[name] for name in outputs]
            return [np.asarray(r) for r in session.run(wanted, {graph_input.name: rows.astype(dtype)})]

        return predict


LOADERS: dict[str, Callable[[], Loader]] = {"sklearn": SklearnLoader, "onnx": OnnxLoader}


def get_loader(name: str) -> Loader:
    try:
        return LOADERS[name]()
    except KeyError:
        raise ArtifactError(f"unknown loader {name!r} (known: {', '.join(sorted(LOADERS))})") from None
