"""Verify, load and warm up a model directory without serving it.

    stackgen-check-model MODEL_DIR

Exit 0 when the model would be ready; 1 with one clear line otherwise. Deploys
run this as the import smoke test before they switch releases.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ArtifactError
from .service import ModelService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stackgen-check-model", description="Verify a model's sha256, load it and run a warm-up prediction."
    )
    parser.add_argument("model_dir", type=Path, help="directory holding manifest.json and the artifact")
    args = parser.parse_args(argv)
    service = ModelService(args.model_dir)
    try:
        service.load()
    except ArtifactError as exc:
        print(f"stackgen-check-model: {exc}", file=sys.stderr)
        return 1
    m = service.manifest
    assert m is not None
    print(f"ok: model {m.name} version {m.version} ({m.loader}) loaded and warmed up in {service.load_seconds:.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
