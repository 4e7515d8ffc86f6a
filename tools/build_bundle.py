"""Build the release bundle on the controller.

    python tools/build_bundle.py --out build/bundle [--extra flask] [--release-id ID] [--env KEY=VALUE ...]

The bundle is one tarball, ``stackgen-<release>.tar.gz``, holding:
  wheels/          every wheel the target needs, for CPython 3.11 and 3.13 on manylinux x86_64
  model/           the trained artifact and its manifest (sha256 inside)
  requirements.txt what to install from wheels/ (pins from constraints.txt)
  release.env      release-level settings (empty unless --env is given)
  release.json     release id, package, files and their sha256
A copy of release.json sits next to the tarball so that deploys can read the id
without unpacking. Targets install with pip --no-index: they never reach PyPI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from model_core import __version__  # noqa: E402
from model_core.errors import ArtifactError  # noqa: E402
from model_core.manifest import load_manifest, sha256_of, verify_artifact  # noqa: E402
from model_core.train import write_model  # noqa: E402

# Debian 12 ships glibc 2.36; accept every manylinux tag it can run.
PLATFORMS = ["manylinux2014_x86_64"] + [f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)]
# Debian 12 ships CPython 3.11 and Debian 13 ships 3.13: one bundle installs on both.
PYTHONS = ("3.11", "3.13")
WSGI = {"flask": "model_flask.wsgi:app", "django": "model_django.wsgi:application"}


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--progress-bar", "off"], check=True)


def build(
    out: Path,
    extra: str,
    release_id: str | None,
    env: list[str],
    wheel_cache: Path,
    model_dir: Path | None = None,
    onnx: bool = False,
    pythons: tuple[str, ...] = PYTHONS,
    app_requirement: str | None = None,
    app_wheels: Path | None = None,
) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("stackgen-*.tar.gz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "bundle"
        wheels = stage / "wheels"
        wheels.mkdir(parents=True)
        step("building the stackgen wheel")
        pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(ROOT))
        requirement = app_requirement or f"stackgen[{extra}{',onnx' if onnx else ''}]=={__version__}"
        if app_wheels is not None:
            # Another app's own wheels; its dependencies come from the registries like ours.
            for wheel in app_wheels.glob("*.whl"):
                shutil.copy2(wheel, wheels / wheel.name)
        wheel_cache.mkdir(parents=True, exist_ok=True)
        # The cache holds third-party wheels only: a stale stackgen wheel there would win.
        for stale in wheel_cache.glob("stackgen-*.whl"):
            stale.unlink()
        platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
        needed: set[str] = set()
        for python in pythons:
            step(f"downloading dependency wheels for CPython {python} (cache: {wheel_cache})")
            needed |= _download(wheel_cache, wheels, requirement, platform_args, python)
        for name in sorted(needed):
            if not (wheels / name).exists():
                shutil.copy2(wheel_cache / name, wheels / name)
        if model_dir is None:
            step("training the example model")
            model_manifest = write_model(stage / "model")
        else:
            step(f"verifying and copying the model in {model_dir}")
            verify_artifact(model_dir, load_manifest(model_dir))
            shutil.copytree(model_dir, stage / "model")
            model_manifest = json.loads((stage / "model" / "manifest.json").read_text())
        (stage / "requirements.txt").write_text(requirement + "\n")
        (stage / "release.env").write_text("".join(f"{item}\n" for item in env))
        files = {str(p.relative_to(stage)): sha256_of(p) for p in sorted(stage.rglob("*")) if p.is_file()}
        content = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        release = release_id or time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + content[:8]
        _stamp_model_release(stage / "model" / "manifest.json", release)
        files["model/manifest.json"] = sha256_of(stage / "model" / "manifest.json")
        info = {
            "release": release,
            "version": __version__,
            "framework": extra,
            "requirement": requirement,
            "wsgi": WSGI[extra],
            "model": {
                "name": model_manifest["name"],
                "version": model_manifest["version"],
                "sha256": model_manifest["sha256"],
            },
            "python": [f"cp{p.replace('.', '')}" for p in pythons],
            "files": files,
        }
        if app_requirement is None:
            info["smoke"] = smoke_request(model_manifest)
        (stage / "release.json").write_text(json.dumps(info, indent=2) + "\n")
        tarball = out / f"stackgen-{release}.tar.gz"
        step(f"writing {tarball}")
        with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
            for path in sorted(stage.iterdir()):
                tar.add(path, arcname=path.name)
        info["tarball"] = tarball.name
        info["tarball_sha256"] = sha256_of(tarball)
        (out / "release.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def smoke_request(manifest: dict[str, Any]) -> dict[str, object]:
    """The request a new release of the model service must answer before it gets traffic:
    a real V2 inference on the manifest's example input (zeros when it declares none)."""
    spec = manifest["inputs"][0]
    n_features = int(spec["shape"][-1])
    rows = manifest.get("example") or [[0.0] * n_features]
    body = {
        "inputs": [{"name": spec["name"], "shape": [len(rows), n_features], "datatype": spec["datatype"], "data": rows}]
    }
    return {"method": "POST", "path": f"/v2/models/{manifest['name']}/infer", "body": body, "status": 200}


def _stamp_model_release(path: Path, release: str) -> None:
    # The service reports this id (GET /v2, X-Release-Id), so a deploy can prove which release serves.
    manifest = json.loads(path.read_text())
    manifest["release"] = release
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _download(cache: Path, local: Path, requirement: str, platform_args: list[str], python: str) -> set[str]:
    pip(
        "download",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--implementation",
        "cp",
        *platform_args,
        "--constraint",
        str(ROOT / "constraints.txt"),
        "--find-links",
        str(local),
        "--dest",
        str(cache),
        requirement,
    )
    # The cache holds third-party wheels only: a stale stackgen wheel there would win.
    for copied in cache.glob("stackgen-*.whl"):
        copied.unlink()
    return set(_resolve_names(cache, local, requirement, platform_args, python))


def _resolve_names(cache: Path, local: Path, requirement: str, platform_args: list[str], python: str) -> list[str]:
    # `pip download --report` names exactly the files the target needs, cache or not.
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip(
            "install",
            "--dry-run",
            "--ignore-installed",
            "--only-binary=:all:",
            "--python-version",
            python,
            "--implementation",
            "cp",
            *platform_args,
            "--target",
            str(Path(tmp) / "t"),
            "--no-index",
            "--find-links",
            str(cache),
            "--find-links",
            str(local),
            "--report",
            str(report),
            requirement,
        )
        items = json.loads(report.read_text())["install"]
    return [item["download_info"]["url"].rsplit("/", 1)[-1] for item in items]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bundle", help="output directory")
    parser.add_argument("--extra", choices=sorted(WSGI), default="flask", help="which service to bundle")
    parser.add_argument("--release-id", help="release id (default: UTC timestamp + content hash)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="release-level setting written to release.env (repeatable)",
    )
    parser.add_argument("--model-dir", type=Path, help="bundle this model directory instead of the example model")
    parser.add_argument(
        "--python",
        action="append",
        dest="pythons",
        metavar="X.Y",
        help=f"target CPython version, repeatable (default: {' and '.join(PYTHONS)})",
    )
    parser.add_argument(
        "--requirement",
        help="what targets install instead of stackgen, e.g. 'myapp==1.2' "
        "(deploy it with app_flask_requirement/app_django_requirement)",
    )
    parser.add_argument("--app-wheels", type=Path, help="directory with the wheels of the app named by --requirement")
    parser.add_argument("--with-onnx", action="store_true", help="include ONNX Runtime (for onnx models)")
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
    try:
        info = build(
            args.out,
            args.extra,
            args.release_id,
            args.env,
            args.wheel_cache,
            args.model_dir,
            args.with_onnx,
            tuple(args.pythons or PYTHONS),
            args.requirement,
            args.app_wheels,
        )
    except ArtifactError as exc:
        raise SystemExit(f"build_bundle: {exc}") from None
    print(f"release {info['release']}: {args.out / str(info['tarball'])} ({len(info['files'])} files)")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
