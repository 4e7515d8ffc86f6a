"""What a release bundle serves, and how it is described in release.json.

The app: stackgen's own model service, a requirement, or a project directory copied into app/
(and, for a django-admin startproject layout, its WSGI callable and settings found from the
layout). Imported by build_bundle.py, which puts src/ and tools/ on sys.path first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundle_resolve import BundleError, Pins

from model_core import __version__

# stackgen's own service, per --extra: the adapter's WSGI callable and its Django settings.
WSGI = {"flask": "model_flask.wsgi:app", "django": "model_django.wsgi:application"}
SETTINGS = {"django": "model_django.settings.production"}
# Never bundled from a project directory: VCS and tool state, local databases, and local
# environment files (they hold a developer's secrets; settings reach a release from the inventory).
PROJECT_SKIP = (
    ".git",
    "__pycache__",
    "*.pyc",
    ".venv",
    "venv",
    ".tox",
    "node_modules",
    "*.sqlite3",
    ".env",
    ".env.*",
    "media",
)


@dataclass(frozen=True)
class App:
    """What the bundle serves: stackgen's own model service, a requirement, or a project's source."""

    source: str
    requirement: str | None = None
    name: str | None = None
    wsgi: str | None = None
    settings: str | None = None
    framework: str | None = None  # stackgen's adapter (flask or django); None for other apps
    wheels: Path | None = None  # --app-wheels
    project: Path | None = None
    project_requirements: Path | None = None

    def describe(self) -> dict[str, str | None]:
        return {
            "source": self.source,
            "requirement": self.requirement,
            "name": self.name,
            "wsgi": self.wsgi,
            "settings": self.settings,
            "pythonpath": "app" if self.project else None,
        }


def stackgen_app(extra: str, onnx: bool = False) -> App:
    requirement = f"stackgen[{extra}{',onnx' if onnx else ''}]=={__version__}"
    return App("stackgen", requirement, "stackgen", WSGI[extra], SETTINGS.get(extra), framework=extra)


def project_entry(project: Path, wsgi: str | None, settings: str | None) -> tuple[str, str | None]:
    """The project's WSGI callable and settings module: the given ones, else found from its layout.

    Raises BundleError (without the '--project DIR: ' prefix, which the caller's message adds) when
    no WSGI callable is given and the layout does not name exactly one.
    """
    # A Django project (django-admin startproject) has one package holding wsgi.py beside settings.py.
    packages = sorted(p.parent.name for p in project.glob("*/wsgi.py") if (p.parent / "settings.py").is_file())
    if wsgi is None:
        if len(packages) != 1:
            found = f"found {len(packages)} ({', '.join(packages)})" if packages else "found none"
            raise BundleError(
                "cannot tell its WSGI callable: looked for one package with wsgi.py "
                f"beside settings.py and {found}; give it with --wsgi module:callable"
            )
        wsgi = f"{packages[0]}.wsgi:application"
    # Only the detected package's own callable implies its settings: a given --wsgi elsewhere may not be Django.
    if settings is None and len(packages) == 1 and wsgi.startswith(f"{packages[0]}."):
        settings = f"{packages[0]}.settings"
    return wsgi, settings


def copy_project(source: Path, dest: Path, skip: list[Path]) -> None:
    patterns = shutil.ignore_patterns(*PROJECT_SKIP)
    # The bundle's own output or wheel cache may sit inside the project (e.g. --project . --out dist).
    skipped = {p.resolve() for p in skip}

    def ignore(directory: str, names: list[str]) -> set[str]:
        return set(patterns(directory, names)) | {n for n in names if (Path(directory) / n).resolve() in skipped}

    try:
        shutil.copytree(source, dest, ignore=ignore)
    except shutil.Error as exc:
        problems = "; ".join(f"{src}: {why}" for src, _, why in exc.args[0][:5])
        raise BundleError(f"cannot copy the project {source}: {problems}") from None


def describe_release(
    app: App,
    release: str,
    pythons: tuple[str, ...],
    locks: dict[str, Pins],
    files: dict[str, str],
    model: dict[str, Any] | None,
) -> dict[str, object]:
    """release.json's content, before the tarball's name and sha256 are known."""
    tags = {python: f"cp{python.replace('.', '')}" for python in pythons}
    if app.source == "stackgen":
        version: str | None = __version__
    else:
        # The app's own version, where the lock pins one (the same on every target Python).
        pinned = {locks[p].get(app.name) for p in pythons} if app.name else {None}
        version = pinned.pop() if len(pinned) == 1 else None
    info: dict[str, object] = {
        "release": release,
        "version": version,
        "framework": app.framework,
        "requirement": app.requirement,
        "wsgi": app.wsgi,
        "app": app.describe(),
    }
    if model is not None:
        info["model"] = {"name": model["name"], "version": model["version"], "sha256": model["sha256"]}
    info["python"] = list(tags.values())
    info["lock"] = {tags[p]: [f"{name}=={pin}" for name, pin in sorted(locks[p].items())] for p in pythons}
    info["files"] = files
    if app.source == "stackgen" and model is not None:
        info["smoke"] = smoke_request(model)
    return info


def smoke_request(manifest: dict[str, Any]) -> dict[str, object]:
    """The request a new release of the model service must answer before it gets traffic:
    a real V2 inference on the manifest's example input (zeros when it declares none). Also the
    header the service puts its release id in, and the side-effect-free path a rerun asks the
    live release (roles/app_release reads both)."""
    spec = manifest["inputs"][0]
    n_features = int(spec["shape"][-1])
    rows = manifest.get("example") or [[0.0] * n_features]
    body = {
        "inputs": [{"name": spec["name"], "shape": [len(rows), n_features], "datatype": spec["datatype"], "data": rows}]
    }
    return {
        "method": "POST",
        "path": f"/v2/models/{manifest['name']}/infer",
        "body": body,
        "status": 200,
        "release_header": "X-Release-Id",
        "live": "/v2/health/ready",
    }
