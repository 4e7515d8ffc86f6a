"""Spec validation: precise messages, unknown keys rejected, init by flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stackgen.cli import main
from stackgen.spec import SpecError, validate


def problems(raw: object) -> list[str]:
    with pytest.raises(SpecError) as err:
        validate(raw, "spec.yml")
    return err.value.problems


def test_defaults_are_a_valid_single_flask_stack() -> None:
    spec = validate({"name": "iris"})
    assert (spec.framework, spec.database, spec.topology, spec.app_hosts, spec.tls, spec.workers) == (
        "flask",
        "sqlite",
        "single",
        1,
        "none",
        0,
    )
    assert (spec.model.path, spec.model.loader) == ("example", "sklearn")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"name": "iris", "colour": "red"},
            [
                "colour: unknown key (allowed: acme_directory, acme_email, app, app_hosts, database, domain, "
                "framework, model, name, tls, topology, workers)"
            ],
        ),
        ({}, ["name: missing (a lower-case name like iris-service)"]),
        (
            {"name": "Iris_1"},
            ["name: 'Iris_1' is not allowed (allowed: 2-31 characters, a-z, 0-9 and '-', starting with a letter)"],
        ),
        ({"name": "iris", "framework": "rails"}, ["framework: 'rails' is not allowed (allowed: flask, django)"]),
        ({"name": "iris", "tls": "yes"}, ["tls: 'yes' is not allowed (allowed: none, self-signed, provided, acme)"]),
        (
            {"name": "iris", "tls": "acme"},
            [
                "acme_directory: missing (tls 'acme' needs the ACME server's directory URL)",
                "domain: 'localhost' cannot be certified over ACME (allowed with tls 'acme': a public DNS name "
                "that resolves to the web host)",
            ],
        ),
        (
            {
                "name": "iris",
                "tls": "acme",
                "domain": "m.example.com",
                "acme_directory": "http://x/dir",
                "acme_email": "x",
            },
            [
                "acme_directory: 'http://x/dir' is not allowed (allowed: the ACME server's directory, an https:// URL)",
                "acme_email: 'x' is not allowed (allowed: an e-mail address)",
            ],
        ),
        (
            {"name": "iris", "acme_directory": "https://acme.example.net/dir"},
            ["acme_directory: only used with tls 'acme' (tls is 'none')"],
        ),
        (
            {"name": "iris", "model": {"loader": "tf", "url": "x"}},
            [
                "model.url: unknown key (allowed: loader, path)",
                "model.loader: 'tf' is not allowed (allowed: sklearn, onnx)",
            ],
        ),
        ({"name": "iris", "workers": -1}, ["workers: -1 is not allowed (allowed: an integer from 0 to 64)"]),
        (
            {"name": "iris", "database": "postgresql"},
            ["database: 'postgresql' needs framework 'django' (the Flask service keeps no database)"],
        ),
        (
            {"name": "iris", "topology": "load-balanced"},
            ["app_hosts: 1 is not allowed with topology 'load-balanced' (allowed: 2 to 50)"],
        ),
        ({"name": "iris", "app_hosts": 3}, ["app_hosts: 3 is not allowed with topology 'single' (allowed: 1)"]),
        (
            {"name": "iris", "framework": "django", "topology": "load-balanced", "app_hosts": 2},
            [
                "database: 'sqlite' is not allowed with topology 'load-balanced' and framework 'django' "
                "(allowed: postgresql, so that every app host shares one database)"
            ],
        ),
        (
            {"name": "iris", "domain": "Not A Domain"},
            ["domain: 'Not A Domain' is not allowed (allowed: a lower-case DNS name)"],
        ),
        ([1, 2], ["the top level must be a mapping of keys to values"]),
    ],
)
def test_bad_specs_name_key_problem_and_allowed(raw: object, expected: list[str]) -> None:
    assert problems(raw) == expected


def test_cli_reports_one_paragraph_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "stack.yml"
    spec.write_text("name: iris\nframework: rails\nfoo: 1\n")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"stackgen: {spec} is not a valid stack spec: foo: unknown key (allowed: acme_directory, acme_email, app, "
        "app_hosts, database, domain, framework, model, name, tls, topology, workers); framework: 'rails' is not "
        "allowed "
        "(allowed: flask, django).\n"
    )
    spec.write_text("name: [unclosed\n")
    assert main(["validate", str(spec)]) == 2
    assert "is not valid YAML at line" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.yml")]) == 2
    assert "the file does not exist (create one with: stackgen init)" in capsys.readouterr().err


def test_init_by_flags_writes_a_valid_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "stack.yml"
    assert (
        main(
            [
                "init",
                "--no-input",
                "--out",
                str(out),
                "--name",
                "fleet",
                "--framework",
                "django",
                "--database",
                "postgresql",
                "--topology",
                "load-balanced",
                "--app-hosts",
                "3",
                "--tls",
                "provided",
                "--domain",
                "model.example.com",
                "--workers",
                "4",
            ]
        )
        == 0
    )
    data = yaml.safe_load(out.read_text())
    assert data == {
        "name": "fleet",
        "framework": "django",
        "model": {"path": "example", "loader": "sklearn"},
        "database": "postgresql",
        "topology": "load-balanced",
        "app_hosts": 3,
        "tls": "provided",
        "domain": "model.example.com",
        "workers": 4,
    }
    assert main(["init", "--no-input", "--out", str(out)]) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (
        main(
            ["init", "--no-input", "--out", str(tmp_path / "b.yml"), "--framework", "flask", "--database", "postgresql"]
        )
        == 2
    )


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("init", "validate", "render", "build", "up", "down", "status", "deploy"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: stackgen {command}")


def test_init_prompts_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ..., domain, model or app (default model), model.path, model.loader
    answers = iter(["svc-a", "django", "postgresql", "", "self-signed", "model.example.com", "", "", "onnx"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    out = tmp_path / "stack.yml"
    assert main(["init", "--out", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert (data["name"], data["framework"], data["database"], data["topology"], data["tls"], data["domain"]) == (
        "svc-a",
        "django",
        "postgresql",
        "single",
        "self-signed",
        "model.example.com",
    )
    assert data["model"] == {"path": "example", "loader": "onnx"}


def test_build_bundles_the_users_own_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from model_core.train import write_model

    manifest = write_model(tmp_path / "my-model")
    spec = tmp_path / "stack.yml"
    spec.write_text("name: mine\nmodel: {path: my-model, loader: sklearn}\n")
    assert main(["build", str(spec), "--out", str(tmp_path / "bundle")]) == 0
    info = json.loads((tmp_path / "bundle" / "release.json").read_text())
    assert info["model"]["sha256"] == manifest["sha256"]
    assert info["requirement"] == "stackgen[flask]==0.1.0"
    spec.write_text("name: mine\nmodel: {path: missing-dir}\n")
    assert main(["build", str(spec), "--out", str(tmp_path / "b2")]) == 1
    assert "building the release bundle failed" in capsys.readouterr().err
