"""The local Docker stack part of `make bench`: `stackgen up` to ready, cold and warm, and image sizes.

Cold means no build cache: before the cold `stackgen up`, the images of the local stacks
(stackgen-<name>-app / stackgen-<name>-nginx: every `stackgen up` builds them again) are removed,
so are dangling images built on debian:bookworm-slim (the legacy builder's leftover stage
layers, its cache), and the BuildKit cache is pruned (`docker builder prune -af`).
Base images stay: debian:bookworm-slim and stackgen/systemd:* (debootstrap, minutes to build) and
stackgen/postgres:local. After the cold build, every layer of the stack's images above its base
image must be newer than the cold start: the number of older ones (cache hits) is recorded.
The cold time includes building the release bundle (the spec's state directory is new); the warm
run reuses the bundle and the image cache.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from loadgen import free_port

from stackgen.cli import main as stackgen

STACK_IMAGE = re.compile(r"^stackgen-[a-z0-9][a-z0-9-]*-(app|nginx):")
BASE_IMAGE = "debian:bookworm-slim"


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _image_mb(tag: str) -> float:
    return round(int(_docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip()) / 1e6, 1)


def stack_images(listing: str) -> list[str]:
    """The local stacks' images among `docker image ls` lines of repository:tag."""
    return sorted(line for line in listing.split() if STACK_IMAGE.match(line))


def _dangling_on_base() -> list[str]:
    """Dangling images (leftover build stages) whose ancestry reaches the base image."""
    ids = _docker("image", "ls", "-aq", "--no-trunc").stdout.split()
    if not ids:
        return []
    pairs = _docker("image", "inspect", "-f", "{{.Id}} {{.Parent}}", *ids).stdout.splitlines()
    parent = dict([*line.split(), ""][:2] for line in pairs)
    base = _docker("image", "inspect", "-f", "{{.Id}}", BASE_IMAGE).stdout.strip()
    found = []
    for image in _docker("image", "ls", "-q", "--no-trunc", "-f", "dangling=true").stdout.split():
        node, seen = image, set()
        while node and node not in seen:
            seen.add(node)
            if node == base:
                found.append(image)
                break
            node = parent.get(node, "")
    return found


def remove_build_cache(step: Callable[[str], None]) -> dict[str, Any]:
    listing = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
    images = stack_images(listing)
    step(f"cold: removing the local stacks' images ({', '.join(images) or 'none'}); base images stay")
    kept = [image for image in images if _docker("image", "rm", image, check=False).returncode != 0]
    dangling = _dangling_on_base()
    step(f"cold: removing {len(dangling)} dangling build-stage images built on {BASE_IMAGE} (legacy builder cache)")
    for image in dangling:
        _docker("image", "rm", image, check=False)
    step("cold: docker builder prune -af (BuildKit's build cache, where the engine has one)")
    builder = _docker("builder", "prune", "-af", check=False)
    return {
        "removed": [i for i in images if i not in kept],
        "in_use_kept": kept,
        "dangling_stage_images_removed": len(dangling),
        "builder_prune_rc": builder.returncode,
    }


def _created(value: str) -> float:
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()


def cached_layers(image: str, since: float) -> int:
    """Layers of the image above its base that are older than `since` (came from the cache)."""
    fmt = ["history", "--no-trunc", "--human=false", "--format", "{{.CreatedAt}}"]
    layers = _docker(*fmt, image).stdout.split()
    base = len(_docker(*fmt, BASE_IMAGE).stdout.split())
    above = layers[: len(layers) - base] if base <= len(layers) else layers
    return sum(1 for created in above if _created(created) < int(since))


def measure_stack(step: Callable[[str], None]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        spec = str(Path(tmp) / "stack.yml")
        stackgen(["init", "--no-input", "--out", spec, "--name", "bench-stack"])
        port = str(free_port())
        images = ("stackgen-bench-stack-app:latest", "stackgen-bench-stack-nginx:latest")
        try:
            figures["cold_cache_removal"] = remove_build_cache(step)
            for label in ("cold_up_to_ready_s", "warm_up_to_ready_s"):
                step(f"stackgen up ({label.split('_')[0]})")
                started = time.time()
                if stackgen(["up", spec, "--port", port]) != 0:
                    raise SystemExit("bench: stackgen up failed")
                figures[label] = round(time.time() - started, 1)
                if label.startswith("cold"):
                    figures["cold_cached_layers"] = {image: cached_layers(image, started) for image in images}
                stackgen(["down", spec])
            figures["app_image_mb"] = _image_mb(images[0])
            figures["nginx_image_mb"] = _image_mb(images[1])
        finally:
            stackgen(["down", spec])
    return figures
