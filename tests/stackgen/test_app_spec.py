"""The spec's `app` key: exact problems, an exact round trip, init by flags or prompts, and
the command line `stackgen build` gives tools/build_bundle.py for each form of app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackgen import stack
from stackgen.appspec import AppSpec
from stackgen.cli import main
from stackgen.paths import repo_root
from stackgen.spec import SpecError, validate

SOURCES = (
    "requirement, a PyPI requirement like 'httpbin==0.10.4', or project, a project directory with requirements.txt"
)
BUILD = [sys.executable, str(repo_root() / "tools" / "build_bundle.py")]


def problems(raw: object) -> list[str]:
    with pytest.raises(SpecError) as err:
        validate(raw, "spec.yml")
    return err.value.problems


@pytest.mark.parametrize(
    ("app", "extra", "expected"),
    [
        (
            {"requirement": "httpbin==0.10.4", "project": "./site", "wsgi": "httpbin:app"},
            {},
            [f"app.project: not allowed together with app.requirement (allowed: one of {SOURCES})"],
        ),
        ({"wsgi": "httpbin:app"}, {}, [f"app.requirement or app.project: missing (allowed: {SOURCES})"]),
        (
            {"project": "./site", "settings": "mysite.settings"},
            {},
            ["app.settings: only used with framework 'django' (framework is 'flask')"],
        ),
        (
            {"requirement": "httpbin", "wsgi": "httpbin.app"},
            {},
            ["app.wsgi: 'httpbin.app' is not allowed (allowed: module:callable, e.g. httpbin:app)"],
        ),
        (
            {"project": "./site", "port": 8000},
            {},
            ["app.port: unknown key (allowed: project, requirement, settings, smoke_path, wheels, wsgi)"],
        ),
        (
            {"project": "./site"},
            {"model": {"path": "example"}},
            [
                "app: not allowed together with model (allowed: one of them: model, to serve a model with the model "
                "service, or app, to deploy your own app)"
            ],
        ),
        (
            {"requirement": "httpbin==0.10.4"},
            {},
            ["app.wsgi: missing (required with app.requirement: the app's WSGI callable, e.g. httpbin:app)"],
        ),
        (
            {"requirement": "mysite==1.0", "wsgi": "mysite.wsgi:application"},
            {"framework": "django"},
            [
                "app.settings: missing (required with app.requirement and framework 'django': the project's settings "
                "module, e.g. mysite.settings)"
            ],
        ),
        (
            {"requirement": "--index-url=http://mirror/ x", "wsgi": "x:app", "smoke_path": "healthz"},
            {},
            [
                "app.requirement: '--index-url=http://mirror/ x' is not allowed (allowed: a PyPI requirement like "
                "'httpbin==0.10.4')",
                "app.smoke_path: 'healthz' is not allowed (allowed: a path starting with '/', e.g. /healthz)",
            ],
        ),
        (
            {"project": "./site", "wheels": "./dist"},
            {},
            ["app.wheels: only used with app.requirement (a project's requirements.txt names its wheels)"],
        ),
        ("httpbin==0.10.4", {}, [f"app: must be a mapping with {SOURCES}"]),
    ],
)
def test_bad_apps_name_key_problem_and_allowed(app: object, extra: dict[str, object], expected: list[str]) -> None:
    assert problems({"name": "web", "app": app, **extra}) == expected


def test_app_problems_come_with_the_specs_others() -> None:
    assert problems({"name": "web", "database": "postgresql", "app": {"project": ".", "settings": "s"}}) == [
        "app.settings: only used with framework 'django' (framework is 'flask')",
        "database: 'postgresql' needs framework 'django' (the Flask service keeps no database)",
    ]


def test_an_app_spec_round_trips_without_a_model() -> None:
    raw = {
        "name": "httpbin",
        "app": {"requirement": "httpbin[extra]>=0.10,<0.11", "wsgi": "httpbin:app", "wheels": "./dist"},
    }
    spec = validate(raw)
    assert (spec.model, spec.app) == (
        None,
        AppSpec(requirement="httpbin[extra]>=0.10,<0.11", wsgi="httpbin:app", wheels="./dist", smoke_path="/"),
    )
    assert spec.to_yaml() == (
        "name: httpbin\n"
        "framework: flask\n"
        "app:\n"
        "  requirement: httpbin[extra]>=0.10,<0.11\n"
        "  wsgi: httpbin:app\n"
        "  wheels: ./dist\n"
        "  smoke_path: /\n"
        "database: sqlite\n"
        "topology: single\n"
        "app_hosts: 1\n"
        "tls: none\n"
        "domain: localhost\n"
        "workers: 0\n"
    )
    assert validate(yaml.safe_load(spec.to_yaml())) == spec


def test_a_django_project_round_trips_and_a_model_spec_has_no_app() -> None:
    spec = validate(
        {"name": "shop", "framework": "django", "app": {"project": "./mysite", "settings": "mysite.settings"}}
    )
    # Django's default smoke path: a generated project has no page at /, but the admin's login.
    assert spec.as_dict()["app"] == {
        "project": "./mysite",
        "settings": "mysite.settings",
        "smoke_path": "/admin/login/",
    }
    assert "model" not in spec.as_dict()
    assert validate(yaml.safe_load(spec.to_yaml())) == spec
    model = validate({"name": "iris"})
    assert (model.app, "app" in model.as_dict(), model.as_dict()["model"]) == (
        None,
        False,
        {"path": "example", "loader": "sklearn"},
    )


def test_init_by_app_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "stack.yml"
    flags = ["init", "--no-input", "--out", str(out), "--name", "web"]
    assert main([*flags, "--app-requirement", "httpbin==0.10.4", "--app-wsgi", "httpbin:app"]) == 0
    assert yaml.safe_load(out.read_text())["app"] == {
        "requirement": "httpbin==0.10.4",
        "wsgi": "httpbin:app",
        "smoke_path": "/",
    }
    assert "model" not in yaml.safe_load(out.read_text())
    django = [*flags, "--force", "--framework", "django", "--app-project", "site", "--app-settings", "site.settings"]
    assert main(django) == 0
    assert yaml.safe_load(out.read_text())["app"] == {
        "project": "site",
        "settings": "site.settings",
        "smoke_path": "/admin/login/",
    }
    capsys.readouterr()
    assert main([*flags, "--force", "--app-project", "site", "--model-path", "my-model"]) == 2
    assert "app: not allowed together with model" in capsys.readouterr().err


def test_init_prompts_for_an_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # name, framework, database, topology, tls, domain, model or app, requirement, project, wsgi, settings
    answers = iter(["shop", "django", "", "", "", "", "app", "", "mysite", "", "mysite.settings"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    out = tmp_path / "stack.yml"
    assert main(["init", "--out", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert (data["framework"], data["app"], "model" in data) == (
        "django",
        {"project": "mysite", "settings": "mysite.settings", "smoke_path": "/admin/login/"},
        False,
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"app": {"requirement": "httpbin==0.10.4", "wsgi": "httpbin:app", "wheels": "dist"}},
            [
                "--extra",
                "flask",
                "--requirement",
                "httpbin==0.10.4",
                "--app-wheels",
                "{dir}/dist",
                "--wsgi",
                "httpbin:app",
            ],
        ),
        ({"app": {"project": "./mysite"}}, ["--extra", "flask", "--project", "{dir}/mysite"]),
        (
            {
                "framework": "django",
                "app": {"project": "mysite", "wsgi": "mysite.wsgi:application", "settings": "mysite.settings"},
            },
            [
                "--extra",
                "django",
                "--project",
                "{dir}/mysite",
                "--wsgi",
                "mysite.wsgi:application",
                "--settings",
                "mysite.settings",
            ],
        ),
        (
            {"framework": "django", "app": {"requirement": "shop==2.1", "wsgi": "shop.wsgi:app", "settings": "shop.s"}},
            ["--extra", "django", "--requirement", "shop==2.1", "--wsgi", "shop.wsgi:app", "--settings", "shop.s"],
        ),
        ({"model": {"path": "m", "loader": "onnx"}}, ["--extra", "flask", "--model-dir", "{dir}/m", "--with-onnx"]),
    ],
)
def test_build_passes_the_app_to_build_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: dict[str, object], expected: list[str]
) -> None:
    for name in ("dist", "mysite"):
        (tmp_path / name).mkdir()
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(stack.subprocess, "run", run)
    path = tmp_path / "stack.yml"
    path.write_text(yaml.safe_dump({"name": "web", **spec}))
    assert main(["build", str(path), "--out", str(tmp_path / "bundle")]) == 0
    assert calls == [[*BUILD, "--out", str(tmp_path / "bundle"), *(arg.format(dir=tmp_path) for arg in expected)]]


def test_build_names_a_missing_app_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.yml"
    path.write_text("name: web\napp: {project: ./gone}\n")
    assert main(["build", str(path), "--out", str(tmp_path / "bundle")]) == 1
    assert capsys.readouterr().err == (
        f"stackgen build: app.project: {tmp_path}/gone is not a directory (paths are relative to the spec file)\n"
    )


def test_up_refuses_an_app_before_doing_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.yml"
    path.write_text("name: web\napp: {requirement: httpbin==0.10.4, wsgi: 'httpbin:app'}\n")
    assert main(["up", str(path), "--workdir", str(tmp_path / "work")]) == 1
    assert capsys.readouterr().err == (
        f"stackgen up: {path} names an app (app: httpbin==0.10.4); the local Docker stack supports the model "
        "service only, not an app yet. Deploy the app with: stackgen render, stackgen build, stackgen deploy\n"
    )
    assert not (tmp_path / "work").exists()
