"""The release bundle: one tarball whose release.json lists every file with its sha256, a lock per
target Python (resolved for that Python, not the one running the build), wheels for both target
Pythons, and any WSGI app: stackgen's own service, a requirement, or a project's source."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON_313 = Path("/root/.pyenv/versions/3.13.0/bin/python")
sys.path.insert(0, str(REPO / "tools"))

from bundle_resolve import lock_lines, pip_config  # noqa: E402


def run(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_bundle.py"), "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def build(out: Path, *args: str) -> dict[str, object]:
    result = run(out, *args)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "release.json").read_text())


def tar_files(out: Path, info: dict[str, object]) -> dict[str, bytes]:
    with tarfile.open(out / str(info["tarball"])) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def wheel_names(info: dict[str, object]) -> list[str]:
    return [name.split("/", 1)[1] for name in info["files"] if name.startswith("wheels/")]  # type: ignore[union-attr]


def gunicorn_pin() -> str:
    return next(line for line in (REPO / "constraints.txt").read_text().splitlines() if line.startswith("gunicorn=="))


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
    assert info["app"] == {
        "source": "stackgen",
        "requirement": "stackgen[flask]==0.1.0",
        "name": "stackgen",
        "wsgi": "model_flask.wsgi:app",
        "settings": None,
        "pythonpath": None,
    }
    assert info["framework"] == "flask" and info["wsgi"] == "model_flask.wsgi:app"
    assert set(info["model"]) == {"name", "version", "sha256"}  # type: ignore[arg-type]
    smoke = dict(info["smoke"])  # type: ignore[call-overload]
    assert smoke.pop("body")["inputs"][0]["name"] == "input-0"
    assert smoke == {
        "method": "POST",
        "path": "/v2/models/iris/infer",
        "status": 200,
        "release_header": "X-Release-Id",
        "live": "/v2/health/ready",
    }
    # The repo's pins hold for its own service.
    assert "numpy==2.4.6" in info["lock"]["cp311"]  # type: ignore[index]
    assert "stackgen==0.1.0" in info["lock"]["cp313"]  # type: ignore[index]


def test_wheels_for_both_target_pythons(bundle: tuple[Path, dict[str, object]]) -> None:
    _, info = bundle
    wheels = [name.split("/", 1)[1] for name in info["files"] if name.startswith("wheels/")]  # type: ignore[union-attr]
    numpy = sorted(w for w in wheels if w.startswith("numpy-"))
    assert [w.split("-")[2] for w in numpy] == ["cp311", "cp313"]
    assert any(w.startswith("flask-") for w in wheels)
    assert any(w.startswith("gunicorn-") for w in wheels)
    assert not any(w.startswith(("django-", "onnxruntime-")) for w in wheels)


def test_another_apps_wheels_and_requirement(tmp_path: Path, model_dir: Path) -> None:
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
    args = ["--requirement", "hello==0.1", "--app-wheels", str(wheels), "--python", "3.11"]
    info = build(tmp_path / "out", *args, "--model-dir", str(model_dir))
    assert info["requirement"] == "hello==0.1"
    assert info["app"]["name"] == "hello" and info["version"] == "0.1"  # type: ignore[index]
    names = wheel_names(info)
    assert any(n.startswith("hello-0.1-") for n in names)
    assert any(n.startswith("flask-") for n in names)
    assert any(n.startswith("gunicorn-") for n in names)
    assert not any(n.startswith("stackgen-") for n in names)
    assert "hello==0.1" in info["lock"]["cp311"]  # type: ignore[index]
    # A model given to another app is bundled and described, but the smoke request is stackgen's own.
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert info["model"]["sha256"] == manifest["sha256"]  # type: ignore[index]
    assert "model/manifest.json" in info["files"] and "smoke" not in info  # type: ignore[operator]


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
    assert "Traceback" not in result.stderr


# --- another app: a requirement whose dependencies differ per target Python ---------------------


@pytest.fixture(scope="module")
def httpbin_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    # httpbin needs greenlet<3 on Python < 3.12 and greenlet>=3 from 3.12 on: pip alone, running
    # on 3.11, cannot resolve that for 3.13.
    out = tmp_path_factory.mktemp("httpbin")
    return out, build(out, "--requirement", "httpbin==0.10.4")


def test_a_requirement_is_locked_per_target_python(httpbin_bundle: tuple[Path, dict[str, object]]) -> None:
    out, info = httpbin_bundle
    lock: dict[str, list[str]] = info["lock"]  # type: ignore[assignment]
    assert set(lock) == {"cp311", "cp313"}
    greenlet = {tag: next(p for p in pins if p.startswith("greenlet==")) for tag, pins in lock.items()}
    assert int(greenlet["cp311"].split("==")[1].split(".")[0]) < 3
    assert int(greenlet["cp313"].split("==")[1].split(".")[0]) >= 3
    for pins in lock.values():
        assert "httpbin==0.10.4" in pins
        assert gunicorn_pin().lower() in pins
    files = tar_files(out, info)
    requirements = files["requirements.txt"].decode().splitlines()
    assert f'{greenlet["cp311"]} ; python_version == "3.11"' in requirements
    assert f'{greenlet["cp313"]} ; python_version == "3.13"' in requirements
    assert "httpbin==0.10.4" in requirements  # the same on both: no marker
    # Every line is a pin: the target installs exactly the lock.
    assert all(re.fullmatch(r"[a-z0-9-]+==\S+( ; python_version == \"3\.1[13]\")?", line) for line in requirements[1:])
    names = wheel_names(info)
    assert any(n.startswith("gunicorn-") for n in names)
    assert not any(n.startswith("stackgen-") for n in names)
    assert not any(name.startswith("model/") for name in files)
    assert "model" not in info and "smoke" not in info
    assert info["app"] == {
        "source": "requirement",
        "requirement": "httpbin==0.10.4",
        "name": "httpbin",
        "wsgi": None,
        "settings": None,
        "pythonpath": None,
    }
    assert (info["requirement"], info["wsgi"], info["framework"], info["version"]) == (
        "httpbin==0.10.4",
        None,
        None,
        "0.10.4",
    )
    inside = json.loads(files["release.json"])
    assert inside == {k: v for k, v in info.items() if k not in ("tarball", "tarball_sha256")}


def _target_pythons() -> list[object]:
    missing = pytest.mark.skipif(not PYTHON_313.exists(), reason=f"{PYTHON_313} is not installed")
    return [pytest.param(sys.executable, id="cp311"), pytest.param(str(PYTHON_313), id="cp313", marks=missing)]


@pytest.mark.parametrize("python", _target_pythons())
@pytest.mark.parametrize("which", ["httpbin_bundle", "bundle"])
def test_the_bundle_installs_offline_on_each_target_python(
    which: str, python: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    out, info = request.getfixturevalue(which)
    with tarfile.open(out / str(info["tarball"])) as tar:
        tar.extractall(tmp_path, filter="data")
    # No pip configuration: only the bundle's wheels/ may satisfy the lock, as on a target.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    pip = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-index", "--quiet"]
    pip += ["--disable-pip-version-check", "--report", "-", "--find-links", str(tmp_path / "wheels")]
    result = subprocess.run(
        [*pip, "-r", str(tmp_path / "requirements.txt")], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [python, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = sorted(
        re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower() + "==" + item["metadata"]["version"]
        for item in json.loads(result.stdout)["install"]
    )
    assert installed == sorted(pin.lower() for pin in info["lock"][version])  # type: ignore[index]


# --- another app: a project's source directory ----------------------------------------------------


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("project") / "mysite"
    project.mkdir()
    django_admin = Path(sys.executable).parent / "django-admin"
    subprocess.run([str(django_admin), "startproject", "mysite", str(project)], check=True, capture_output=True)
    # The app's own pin must win over constraints.txt (which pins sqlparse 0.6.1).
    (project / "requirements.txt").write_text("Django>=5.2,<6\nsqlparse==0.5.3\n")
    # What a working copy also holds and a bundle must not.
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / "db.sqlite3").write_bytes(b"SQLite format 3\x00")
    (project / "mysite" / "__pycache__").mkdir()
    (project / "mysite" / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"\x00")
    return project


@pytest.fixture(scope="module")
def project_bundle(django_project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("project-bundle")
    return out, build(out, "--project", str(django_project))


def test_a_django_project_is_bundled_with_its_source(project_bundle: tuple[Path, dict[str, object]]) -> None:
    out, info = project_bundle
    assert info["app"] == {
        "source": "project",
        "requirement": None,
        "name": None,
        "wsgi": "mysite.wsgi:application",
        "settings": "mysite.settings",
        "pythonpath": "app",
    }
    assert info["wsgi"] == "mysite.wsgi:application" and info["framework"] is None
    files = tar_files(out, info)
    source = {"app/manage.py", "app/requirements.txt", "app/mysite/settings.py", "app/mysite/wsgi.py"}
    assert source <= set(files)
    for name in source:
        assert hashlib.sha256(files[name]).hexdigest() == info["files"][name]  # type: ignore[index]
    assert not any(n.endswith((".pyc", ".sqlite3")) or n.startswith("app/.git") for n in files)
    for pins in info["lock"].values():  # type: ignore[union-attr]
        assert "sqlparse==0.5.3" in pins
        assert any(pin.startswith("django==5.") for pin in pins)
        assert gunicorn_pin().lower() in pins
    assert not any(n.startswith("stackgen-") for n in wheel_names(info))
    assert "model" not in info and "smoke" not in info


# --- user errors: one line, no traceback ------------------------------------------------------------


def _no_requirements(tmp_path: Path) -> list[str]:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "manage.py").write_text("")
    return ["--project", str(tmp_path / "p")]


def _no_wsgi(tmp_path: Path) -> list[str]:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "requirements.txt").write_text("flask\n")
    return ["--project", str(tmp_path / "p")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (lambda tmp: ["--project", str(tmp / "no-such-dir")], "no such directory"),
        (_no_requirements, "no requirements file"),
        (_no_wsgi, "--wsgi module:callable"),
        (lambda tmp: ["--requirement", "stackgen-no-such-package-xyz==1"], "stackgen-no-such-package-xyz"),
        (lambda tmp: ["--requirement", "httpbin==0.10.4", "--wsgi", "httpbin"], "expected module:callable"),
        (lambda tmp: ["--requirement", "httpbin==0.10.4", "--wsgi", "httpbin:app:x"], "expected module:callable"),
        (lambda tmp: ["--wsgi", "app:app"], "--requirement or --project"),
    ],
    ids=["missing-project", "no-requirements", "no-wsgi", "unresolvable", "bad-wsgi", "bad-wsgi-2", "wsgi-alone"],
)
def test_user_errors_are_one_paragraph(args: object, says: str, tmp_path: Path) -> None:
    result = run(tmp_path / "out", *args(tmp_path))  # type: ignore[operator]
    assert result.returncode != 0
    assert "build_bundle:" in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "release.json").exists()


def test_an_unresolvable_requirement_names_the_target_python(tmp_path: Path) -> None:
    result = run(tmp_path, "--requirement", "stackgen-no-such-package-xyz==1", "--python", "3.13")
    assert result.returncode == 1
    assert "CPython 3.13" in result.stderr and "uv says" in result.stderr


# --- the pieces -----------------------------------------------------------------------------------


def test_lock_lines_mark_only_what_differs() -> None:
    locks = {
        "3.13": {"a": "1", "b": "2", "only-new": "5"},
        "3.11": {"a": "1", "b": "1", "only-old": "4"},
    }
    assert lock_lines(locks) == [  # type: ignore[arg-type]
        "a==1",
        'b==1 ; python_version == "3.11"',
        'b==2 ; python_version == "3.13"',
        'only-new==5 ; python_version == "3.13"',
        'only-old==4 ; python_version == "3.11"',
    ]


def test_pips_settings_become_uvs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    cert = tmp_path / "ca.pem"
    cert.write_text("")
    (tmp_path / "simple").mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.example/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"{(tmp_path / 'simple').as_uri()} file:///no/such/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", f"{tmp_path} /no/such/wheels")
    monkeypatch.setenv("PIP_CERT", str(cert))
    config = pip_config()
    assert config.uv_args() == [
        "--index-url",
        "https://index.example/simple",
        "--extra-index-url",
        (tmp_path / "simple").as_uri(),
        "--find-links",
        str(tmp_path),
    ]
    assert config.uv_env() == {"SSL_CERT_FILE": str(cert)}
