"""Train the example model deterministically and write artifact + manifest.

    stackgen-train --out build/model [--format sklearn|onnx] [--estimator logistic|random_forest]

The iris data set ships inside scikit-learn, so training needs no download; a
fixed seed and a deterministic solver make the predictions reproducible. The
random forest is a heavier model with the same inputs and outputs, for measuring
what batching buys when one prediction costs more than the request around it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .manifest import MANIFEST_NAME, sha256_of

MODEL_NAME = "iris"
MODEL_VERSION = "1"
SEED = 0
# --estimator choice -> the manifest's training.estimator
ESTIMATORS = {"logistic": "StandardScaler+LogisticRegression", "random_forest": "RandomForestClassifier"}
FORMATS = ("sklearn", "onnx")


def fit(estimator: str = "logistic") -> tuple[Any, list[str], list[str]]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    if estimator == "random_forest":
        # n_jobs=1: the workers' threads are the parallelism; a joblib pool per call would fight them.
        model: Any = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=1)
    elif estimator == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=SEED))
    else:
        raise ValueError(f"unknown estimator {estimator!r} (known: {', '.join(ESTIMATORS)})")
    model.fit(data.data, data.target)
    return model, [str(f) for f in data.feature_names], [str(c) for c in data.target_names]


def write_model(out: Path, fmt: str = "sklearn", estimator: str = "logistic") -> dict[str, Any]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "onnx" and estimator != "logistic":
        raise ValueError(f"--format onnx supports only the logistic estimator, not {estimator!r}")
    out.mkdir(parents=True, exist_ok=True)
    pipeline, features, classes = fit(estimator)
    n = len(features)
    if fmt == "onnx":
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        onnx_model = to_onnx(
            pipeline,
            initial_types=[("input", FloatTensorType([None, n]))],
            options={id(pipeline.steps[-1][1]): {"zipmap": False}},
            target_opset=17,
        )
        artifact = out / "model.onnx"
        artifact.write_bytes(onnx_model.SerializeToString())
        prob_type = "FP32"
    else:
        import joblib

        artifact = out / "model.joblib"
        joblib.dump(pipeline, artifact)
        prob_type = "FP64"
    manifest = {
        "name": MODEL_NAME,
        "version": MODEL_VERSION,
        "loader": fmt,
        "artifact": artifact.name,
        "sha256": sha256_of(artifact),
        "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, n], "features": features}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": prob_type, "shape": [-1, len(classes)]},
        ],
        "classes": classes,
        # One real row: deploys send it as the smoke request a new release must answer.
        "example": [[5.1, 3.5, 1.4, 0.2]],
        "training": {
            "dataset": "sklearn.datasets.load_iris",
            "estimator": ESTIMATORS[estimator],
            "seed": SEED,
        },
    }
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stackgen-train",
        description="Train the example iris model and write the artifact and manifest.json into --out.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    parser.add_argument("--format", choices=FORMATS, default="sklearn", help="artifact format")
    parser.add_argument(
        "--estimator",
        choices=tuple(ESTIMATORS),
        default="logistic",
        help="logistic: StandardScaler + LogisticRegression; random_forest: 100 trees (sklearn format only)",
    )
    args = parser.parse_args(argv)
    if args.format == "onnx" and args.estimator != "logistic":
        parser.error(f"--format onnx supports only --estimator logistic, not {args.estimator}")
    manifest = write_model(args.out, args.format, args.estimator)
    print(f"wrote {args.out / manifest['artifact']} (sha256 {manifest['sha256'][:12]}…) and {MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
