"""Build the release bundle of a WSGI app on the controller.

    python tools/build_bundle.py --out build/bundle [--extra flask|django]     stackgen's model service
    python tools/build_bundle.py --out OUT --requirement 'myapp==1.2' [--app-wheels DIR] [--wsgi M:CALLABLE]
    python tools/build_bundle.py --out OUT --project DIR [--project-requirements FILE] [--wsgi ...] [--settings ...]

The bundle is one tarball, ``stackgen-<release>.tar.gz``, holding:
  wheels/          every wheel the target needs, for CPython 3.11 and 3.13 on manylinux x86_64
  app/             the project's source (--project only)
  model/           the model and its manifest, sha256 inside (stackgen's service, or --model-dir)
  requirements.txt the lock: every package pinned, per target Python where the pins differ
  release.env      release-level settings (empty unless --env is given)
  release.json     release id, what app it is, the locks, files and their sha256
A copy of release.json sits next to the tarball so that deploys can read the id without
unpacking. Targets install with `pip install --no-index --find-links wheels -r requirements.txt`:
they never reach a package index. gunicorn is always in the lock (the release's unit runs it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_project import WSGI, App, copy_project, describe_release, project_entry, stackgen_app  # noqa: E402
from bundle_resolve import BundleError, Pins, fetch, local_wheels, lock_text, pip_config, resolve, run_pip, step  # noqa: E402
from packaging.requirements import InvalidRequirement, Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

from model_core.errors import ArtifactError  # noqa: E402
from model_core.manifest import load_manifest, sha256_of, verify_artifact  # noqa: E402
from model_core.train import write_model  # noqa: E402

# The spec's own patterns for app.wsgi and app.settings: the flags accept exactly what a spec may say.
from stackgen.appspec import SETTINGS as MODULE_SPEC  # noqa: E402
from stackgen.appspec import WSGI as WSGI_SPEC  # noqa: E402

# Debian 12 ships CPython 3.11 and Debian 13 ships 3.13: one bundle installs on both.
PYTHONS = ("3.11", "3.13")


def build(
    out: Path,
    app: App,
    release_id: str | None,
    env: list[str],
    wheel_cache: Path,
    model_dir: Path | None = None,
    pythons: tuple[str, ...] = PYTHONS,
) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    wheel_cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        stage, local = Path(tmp) / "bundle", Path(tmp) / "local"
        (stage / "wheels").mkdir(parents=True)
        local.mkdir()
        # The model first: a model that fails its checksum stops the build before any download.
        model_manifest = _stage_model(stage / "model", model_dir, train=app.source == "stackgen")
        local_dirs = [d for d in (local, app.wheels) if d is not None]
        if app.source == "stackgen":
            step("building the stackgen wheel")
            run_pip(
                ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(local), str(ROOT)],
                "building the stackgen wheel",
            )
        inputs, constraints = _inputs(app, Path(tmp))
        config, given = pip_config(), local_wheels(local_dirs)
        locks: dict[str, Pins] = {}
        for python in pythons:
            step(f"resolving for CPython {python} with uv")
            locks[python] = resolve(python, inputs, constraints, local_dirs, config)
            for wheel in fetch(python, locks[python], given, wheel_cache):
                if not (stage / "wheels" / wheel.name).exists():
                    shutil.copy2(wheel, stage / "wheels" / wheel.name)
        if app.project is not None:
            step(f"copying the project {app.project} into app/")
            copy_project(app.project, stage / "app", skip=[out, wheel_cache])
        (stage / "requirements.txt").write_text(lock_text(locks))
        (stage / "release.env").write_text("".join(f"{item}\n" for item in env))
        files = {str(p.relative_to(stage)): sha256_of(p) for p in sorted(stage.rglob("*")) if p.is_file()}
        # What the bundle serves is part of its identity too, not only its files (same wheels, other --wsgi).
        identity = {"files": files, "app": app.describe()}
        content = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        release = release_id or time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + content[:8]
        if model_manifest is not None:
            _stamp_model_release(stage / "model" / "manifest.json", release)
            files["model/manifest.json"] = sha256_of(stage / "model" / "manifest.json")
        info = describe_release(app, release, pythons, locks, files, model_manifest)
        (stage / "release.json").write_text(json.dumps(info, indent=2) + "\n")
        # Only now: a build that fails leaves the previous bundle in place, whole.
        for previous in out.glob("stackgen-*.tar.gz"):
            previous.unlink()
        tarball = out / f"stackgen-{release}.tar.gz"
        step(f"writing {tarball}")
        with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
            for path in sorted(stage.iterdir()):
                tar.add(path, arcname=path.name)
        info["tarball"] = tarball.name
        info["tarball_sha256"] = sha256_of(tarball)
        (out / "release.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _inputs(app: App, tmp: Path) -> tuple[list[Path], list[Path]]:
    """uv's input files and constraint files for this app."""
    wanted = tmp / "requirements.in"
    # gunicorn always: the release's systemd unit runs <bundle>/venv/bin/gunicorn.
    wanted.write_text("".join(f"{line}\n" for line in (app.requirement, "gunicorn") if line))
    inputs = [wanted] if app.project_requirements is None else [app.project_requirements, wanted]
    if app.source == "stackgen":
        return inputs, [ROOT / "constraints.txt"]
    # Another app brings its own pins, which must win over the repo's: only gunicorn's is ours.
    (tmp / "constraints.txt").write_text(_pin_of("gunicorn", ROOT / "constraints.txt") + "\n")
    return inputs, [tmp / "constraints.txt"]


def _pin_of(name: str, constraints: Path) -> str:
    for raw in constraints.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        try:
            if line and canonicalize_name(Requirement(line).name) == name:
                return line
        except InvalidRequirement:
            continue
    raise BundleError(f"{constraints} has no pin for {name}")


def _stage_model(dest: Path, model_dir: Path | None, train: bool) -> dict[str, Any] | None:
    if model_dir is not None:
        step(f"verifying and copying the model in {model_dir}")
        verify_artifact(model_dir, load_manifest(model_dir))
        shutil.copytree(model_dir, dest)
        return json.loads((dest / "manifest.json").read_text())
    if train:
        step("training the example model")
        return write_model(dest)
    return None


def _stamp_model_release(path: Path, release: str) -> None:
    # The service reports this id (GET /v2, X-Release-Id), so a deploy can prove which release serves.
    manifest = json.loads(path.read_text())
    manifest["release"] = release
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _app_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> App:
    """Check the flags together and say what the bundle serves; argparse errors exit with status 2."""
    app_mode = args.requirement is not None or args.project is not None
    if not app_mode:
        for flag, value in (
            ("--wsgi", args.wsgi),
            ("--settings", args.settings),
            ("--app-wheels", args.app_wheels),
            ("--project-requirements", args.project_requirements),
        ):
            if value is not None:
                parser.error(f"{flag} describes another app: give it with --requirement or --project")
        return stackgen_app(args.extra or "flask", args.with_onnx)
    # --extra is accepted and ignored here (callers such as `stackgen build` always pass their framework);
    # ONNX Runtime, though, would be asked for and silently missing.
    if args.with_onnx:
        parser.error("--with-onnx is for stackgen's own service; list onnxruntime in the app's requirements")
    if args.project_requirements is not None and args.project is None:
        parser.error("--project-requirements needs --project")
    if args.wsgi is not None and not WSGI_SPEC.fullmatch(args.wsgi):
        parser.error(f"--wsgi {args.wsgi!r}: expected module:callable, e.g. mysite.wsgi:application")
    if args.settings is not None and not MODULE_SPEC.fullmatch(args.settings):
        parser.error(f"--settings {args.settings!r}: expected a dotted module name, e.g. mysite.settings")
    if args.app_wheels is not None and not args.app_wheels.is_dir():
        parser.error(f"--app-wheels {args.app_wheels}: no such directory")
    if args.requirement is not None:
        try:
            name = canonicalize_name(Requirement(args.requirement).name)
        except InvalidRequirement as exc:
            parser.error(f"--requirement {args.requirement!r} is not a valid requirement: {exc}")
        return App("requirement", args.requirement, name, args.wsgi, args.settings, wheels=args.app_wheels)
    project: Path = args.project.resolve()
    if not project.is_dir():
        parser.error(f"--project {args.project}: no such directory")
    requirements = (args.project_requirements or project / "requirements.txt").resolve()
    if not requirements.is_file():
        parser.error(
            f"--project {args.project}: no requirements file {requirements}; the bundle installs the project's "
            "dependencies from it (name another with --project-requirements)"
        )
    try:
        wsgi, settings = project_entry(project, args.wsgi, args.settings)
    except BundleError as exc:
        parser.error(f"--project {args.project}: {exc}")
    return App(
        "project",
        None,
        None,
        wsgi,
        settings,
        wheels=args.app_wheels,
        project=project,
        project_requirements=requirements,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="build_bundle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundle", help="output directory")
    parser.add_argument(
        "--extra",
        choices=sorted(WSGI),
        help="which stackgen service to bundle (default: flask; ignored with --requirement or --project)",
    )
    parser.add_argument("--with-onnx", action="store_true", help="include ONNX Runtime (for onnx models)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--requirement",
        metavar="REQ",
        help="bundle another app: what targets install instead of stackgen, e.g. 'myapp==1.2' "
        "(from the package index or --app-wheels)",
    )
    mode.add_argument("--project", type=Path, metavar="DIR", help="bundle a project's source directory into app/")
    parser.add_argument(
        "--project-requirements",
        type=Path,
        metavar="FILE",
        help="the --project's requirements file (default: DIR/requirements.txt)",
    )
    parser.add_argument("--app-wheels", type=Path, metavar="DIR", help="directory with the app's own wheels")
    parser.add_argument(
        "--wsgi",
        metavar="MODULE:CALLABLE",
        help="the app's WSGI callable (with --project, found from DIR/<pkg>/wsgi.py when not given)",
    )
    parser.add_argument("--settings", metavar="MODULE", help="the app's Django settings module")
    parser.add_argument("--release-id", help="release id (default: UTC timestamp + content hash)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="release-level setting written to release.env (repeatable)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="bundle this model directory (stackgen: instead of the example model; apps: no model without it)",
    )
    parser.add_argument(
        "--python",
        action="append",
        dest="pythons",
        metavar="X.Y",
        help=f"target CPython version, repeatable (default: {' and '.join(PYTHONS)})",
    )
    parser.add_argument(
        "--wheel-cache",
        type=Path,
        default=ROOT / ".cache" / "wheels",
        help="where downloaded wheels are kept between builds",
    )
    args = parser.parse_args()
    for item in args.env:
        if "=" not in item or not item.split("=", 1)[0].isidentifier():
            parser.error(f"--env {item!r}: expected KEY=VALUE")
    for python in args.pythons or ():
        if not re.fullmatch(r"3\.\d+", python):
            parser.error(f"--python {python!r}: expected a CPython version like 3.13")
    if args.model_dir is not None and not args.model_dir.is_dir():
        parser.error(f"--model-dir {args.model_dir}: no such directory")
    app = _app_from_args(parser, args)
    pythons = tuple(dict.fromkeys(args.pythons or PYTHONS))
    try:
        info = build(args.out, app, args.release_id, args.env, args.wheel_cache, args.model_dir, pythons)
    except (BundleError, ArtifactError) as exc:
        print(f"build_bundle: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"build_bundle: cannot write the bundle: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"release {info['release']}: {args.out / str(info['tarball'])} ({len(info['files'])} files)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
