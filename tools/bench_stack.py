"""The local Docker stack part of `make bench`: `stackgen up` to ready, cold and warm, and image sizes."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadgen import free_port

from stackgen.cli import main as stackgen


def _image_mb(tag: str) -> float:
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", tag], capture_output=True, text=True, check=True
    ).stdout
    return round(int(out.strip()) / 1e6, 1)


def measure_stack(step: Callable[[str], None]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = str(Path(tmp) / "stack.yml")
        stackgen(["init", "--no-input", "--out", spec, "--name", "bench-stack"])
        port = str(free_port())
        try:
            for label in ("cold_up_to_ready_s", "warm_up_to_ready_s"):
                step(f"stackgen up ({label.split('_')[0]})")
                started = time.perf_counter()
                if stackgen(["up", spec, "--port", port]) != 0:
                    raise SystemExit("bench: stackgen up failed")
                figures[label] = round(time.perf_counter() - started, 1)
                stackgen(["down", spec])
            figures["app_image_mb"] = _image_mb("stackgen-bench-stack-app:latest")
            figures["nginx_image_mb"] = _image_mb("stackgen-bench-stack-nginx:latest")
        finally:
            stackgen(["down", spec])
    return figures
