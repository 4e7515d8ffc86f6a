"""The release bundle: one tarball whose release.json lists every file with its sha256,
wheels for both target Pythons, and room for another app's wheels."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def build(out: Path, *args: str) -> dict[str, object]:
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_bundle.py"), "--out", str(out), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads((out / "release.json").read_text())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("bundle")
    return out, build(out, "--release-id", "20260101000000-test")


def test_release_json_matches_the_tarball(bundle: tuple[Path, dict[str, object]]) -> None:
    out, info = bundle
    assert info["release"] == "20260101000000-test"
    assert info["requirement"] == "stackgen[flask]==0.1.0"
    assert info["python"] == ["cp311", "cp313"]
    tarball = out / str(info["tarball"])
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == info["tarball_sha256"]
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        assert set(members) == set(info["files"]) | {"release.json"}  # type: ignore[arg-type]
        for name, digest in info["files"].items():  # type: ignore[union-attr]
            data = tar.extractfile(members[name]).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == digest, name
        manifest = json.loads(tar.extractfile(members["model/manifest.json"]).read())  # type: ignore[union-attr]
    assert manifest["release"] == "20260101000000-test"


def test_wheels_for_both_target_pythons(bundle: tuple[Path, dict[str, object]]) -> None:
    _, info = bundle
    wheels = [name.split("/", 1)[1] for name in info["files"] if name.startswith("wheels/")]  # type: ignore[union-attr]
    numpy = sorted(w for w in wheels if w.startswith("numpy-"))
    assert [w.split("-")[2] for w in numpy] == ["cp311", "cp313"]
    assert any(w.startswith("flask-") for w in wheels)
    assert any(w.startswith("gunicorn-") for w in wheels)
    assert not any(w.startswith(("django-", "onnxruntime-")) for w in wheels)


def test_another_apps_wheels_and_requirement(tmp_path: Path) -> None:
    app = tmp_path / "hello"
    (app / "hello").mkdir(parents=True)
    (app / "hello" / "__init__.py").write_text("from flask import Flask\n\napp = Flask(__name__)\n")
    (app / "pyproject.toml").write_text(
        '[project]\nname = "hello"\nversion = "0.1"\ndependencies = ["flask"]\n'
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(app)],
        check=True,
        capture_output=True,
    )
    info = build(tmp_path / "out", "--requirement", "hello==0.1", "--app-wheels", str(wheels), "--python", "3.11")
    assert info["requirement"] == "hello==0.1"
    names = [n.split("/", 1)[1] for n in info["files"] if n.startswith("wheels/")]  # type: ignore[union-attr]
    assert any(n.startswith("hello-0.1-") for n in names)
    assert any(n.startswith("flask-") for n in names)


def test_a_model_that_fails_its_checksum_is_refused(tmp_path: Path, model_dir: Path) -> None:
    import shutil

    bad = tmp_path / "model"
    shutil.copytree(model_dir, bad)
    (bad / "model.joblib").write_bytes(b"tampered")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_bundle.py"),
            "--out",
            str(tmp_path / "o"),
            "--model-dir",
            str(bad),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing to serve it" in result.stderr
