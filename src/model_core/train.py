"""Train the example model deterministically and write artifact + manifest.

    stackgen-train --out build/model [--format sklearn|onnx]

The iris data set ships inside scikit-learn, so training needs no download; a
fixed seed and a deterministic solver make the predictions reproducible.
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


def fit() -> tuple[Any, list[str], list[str]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=SEED))
    pipeline.fit(data.data, data.target)
    return pipeline, [str(f) for f in data.feature_names], [str(c) for c in data.target_names]


def write_model(out: Path, fmt: str = "sklearn") -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    pipeline, features, classes = fit()
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
            "estimator": "StandardScaler+LogisticRegression",
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
    parser.add_argument("--format", choices=("sklearn", "onnx"), default="sklearn", help="artifact format")
    args = parser.parse_args(argv)
    manifest = write_model(args.out, args.format)
    print(f"wrote {args.out / manifest['artifact']} (sha256 {manifest['sha256'][:12]}…) and {MANIFEST_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
