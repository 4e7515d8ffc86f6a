"""Every framework x database x topology x TLS combination: rejected with the documented
message, or rendered into a directory that passes yamllint. ansible-lint and --syntax-check (seconds
per directory) run on LINTED: every value of each dimension at least once, and one app spec."""

from __future__ import annotations

import itertools
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from stackgen.render import render
from stackgen.spec import DATABASES, FRAMEWORKS, TLS_MODES, TOPOLOGIES, SpecError, validate

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
COMBINATIONS = list(itertools.product(FRAMEWORKS, DATABASES, TOPOLOGIES, TLS_MODES))
# A Django project app behind a load balancer: the app variables in both group_vars files.
APP = ("django", "postgresql", "load-balanced", "self-signed", "app")
LINTED = [
    ("flask", "sqlite", "single", "none"),
    ("flask", "sqlite", "load-balanced", "acme"),
    ("django", "sqlite", "single", "self-signed"),
    ("django", "postgresql", "load-balanced", "provided"),
    APP,
]


def spec_for(framework: str, database: str, topology: str, tls: str, *app: str) -> dict[str, object]:
    return {
        "name": f"{framework[:2]}-{database[:2]}-{topology[:2]}-{tls[:2]}" + "".join(f"-{a}" for a in app),
        **({"app": {"project": "./mysite", "settings": "mysite.settings"}} if app else {}),
        "framework": framework,
        "database": database,
        "topology": topology,
        "tls": tls,
        "domain": "model.example.com",
        "app_hosts": 3 if topology == "load-balanced" else 1,
        **({"acme_directory": "https://acme.example.net/directory"} if tls == "acme" else {}),
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    root = tmp_path_factory.mktemp("rendered")
    out: dict[tuple[str, ...], Path] = {}
    for combo in [*COMBINATIONS, APP]:
        try:
            spec = validate(spec_for(*combo))
        except SpecError:
            continue
        out[combo] = root / spec.name
        render(spec, out[combo])
    return out


def test_invalid_combinations_are_exactly_the_documented_ones(rendered: dict[tuple[str, ...], Path]) -> None:
    assert set(LINTED) <= set(rendered)
    for values in (FRAMEWORKS, DATABASES, TOPOLOGIES, TLS_MODES):
        assert set(values) <= {value for combo in LINTED for value in combo}, values
    rejected = sorted(set(COMBINATIONS) - set(rendered))
    assert rejected == sorted(
        [("flask", "postgresql", t, tls) for t in TOPOLOGIES for tls in TLS_MODES]
        + [("django", "sqlite", "load-balanced", tls) for tls in TLS_MODES]
    )
    assert len(rendered) == 20 + 1  # and the app


def test_rendered_files_and_no_plaintext_secrets(rendered: dict[tuple[str, ...], Path]) -> None:
    for combo, directory in rendered.items():
        names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
        balanced = combo[2] == "load-balanced"
        assert names == [
            ".gitignore",
            "README.md",
            "ansible.cfg",
            "compose.override.yml",
            "deploy.yml",
            "inventory/group_vars/all/main.yml",
            "inventory/group_vars/all/vault.yml.example",
            *(["inventory/group_vars/app/main.yml"] if balanced else []),
            "inventory/hosts.yml",
            "rollback.yml",
            "site.yml",
            "stack.yml",
        ], combo
        group_vars = yaml.safe_load((directory / "inventory/group_vars/all/main.yml").read_text())
        secrets = {
            k: v
            for k, v in group_vars.items()
            if any(w in k for w in ("password", "secret", "token", "key")) and not k.endswith("_file")  # paths
        }
        assert secrets, combo
        assert all(isinstance(v, str) and v.startswith("{{ vault_") for v in secrets.values()), (combo, secrets)
        hosts = yaml.safe_load((directory / "inventory/hosts.yml").read_text())["all"]["children"]
        assert len(hosts["app"]["hosts"]) == (3 if combo[2] == "load-balanced" else 1)
        assert ("db" in hosts) == (combo[1] == "postgresql")
        # Traffic reaches a release only through its own host's nginx.
        site = group_vars["nginx_sites"][0]
        if balanced:
            assert site["upstream"] == "{{ groups['app'] | map('regex_replace', '$', ':8443') | list }}", combo
            assert (site["upstream_tls"], group_vars["pki_enabled"]) == (True, True), combo
            app_vars = yaml.safe_load((directory / "inventory/group_vars/app/main.yml").read_text())
            assert "pki_service_names" not in group_vars, combo  # only app hosts carry the app-tier name
            assert app_vars["pki_service_names"] == [group_vars["nginx_upstream_tls_name"]], combo
            assert (app_vars["nginx_tls_mode"], app_vars["nginx_https_port"]) == ("internal", 8443), combo
            assert app_vars["nginx_sites"][0]["app"] == "model"
            assert app_vars["nginx_sites"][0]["lb_drain"] is True
            assert app_vars[f"app_{combo[0]}_lb_hook"] == "lb_flag.yml"
            # The client's address is the X-Forwarded-For entry the load balancer wrote.
            if combo[0] == "django":  # forms come from the public origin, the load balancer's
                scheme = "http" if combo[3] == "none" else "https"
                assert app_vars["app_django_csrf_trusted_origins"] == [f"{scheme}://model.example.com"], combo
            if combo == APP:
                assert "app_django_proxy_hops" not in app_vars  # only the model service reads it
            elif combo[0] == "django":
                assert app_vars["app_django_proxy_hops"] == 2, combo
            else:
                assert app_vars["app_flask_env"]["STACKGEN_PROXY_HOPS"] == "2", combo
            if combo[1] == "postgresql":
                # Only the app hosts' own addresses, over TLS verified against the private CA.
                assert "10.0.0.0/8" not in str(group_vars["postgresql_allowed_networks"])
                assert "groups['app']" in group_vars["postgresql_allowed_networks"]
                assert group_vars["app_django_db_sslmode"] == "verify-full"
                assert group_vars["postgresql_ssl_cert_file"] == "/etc/stackgen/pki/host.crt"
        else:
            assert (site["app"], "upstream" in site) == ("model", False), combo


def test_yamllint_passes(rendered: dict[tuple[str, ...], Path]) -> None:
    result = subprocess.run(
        [str(BIN / "yamllint"), "--strict", "-c", str(REPO / ".yamllint"), *map(str, rendered.values())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def run_in_parallel(jobs: dict[object, tuple[list[str], Path]]) -> dict[object, tuple[int, str]]:
    """Each command in its rendered directory, two at a time (they are CPU-bound, CI has 2 cores)."""

    def run(job: tuple[list[str], Path]) -> tuple[int, str]:
        argv, directory = job
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(directory)}
        result = subprocess.run(argv, cwd=directory, capture_output=True, text=True, check=False, env=env)
        return result.returncode, result.stdout[-3000:] + result.stderr[-3000:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(run, jobs.values()), strict=True))


def test_syntax_check_passes(rendered: dict[tuple[str, ...], Path]) -> None:
    jobs = {
        (combo, playbook): ([str(BIN / "ansible-playbook"), "--syntax-check", playbook], rendered[combo])
        for combo in LINTED
        for playbook in ("site.yml", "deploy.yml", "rollback.yml")
    }
    failed = {job: output for job, (code, output) in run_in_parallel(jobs).items() if code != 0}
    assert failed == {}


def test_ansible_lint_production_profile_passes(rendered: dict[tuple[str, ...], Path]) -> None:
    argv = [str(BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor"]
    jobs = {combo: (argv, rendered[combo]) for combo in LINTED}
    failed = {combo: output for combo, (code, output) in run_in_parallel(jobs).items() if code != 0}
    assert failed == {}


def test_deploy_runs_ansible_playbook_in_the_rendered_directory(
    rendered: dict[tuple[str, ...], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from stackgen.cli import main

    monkeypatch.setenv("PATH", f"{BIN}:/usr/bin:/bin")
    directory = rendered[("django", "postgresql", "load-balanced", "provided")]
    assert main(["deploy", str(directory), "--playbook", "deploy.yml", "--", "--syntax-check"]) == 0
    assert "ansible-playbook -i inventory/hosts.yml deploy.yml --syntax-check" in capsys.readouterr().err
    assert main(["deploy", str(tmp_path)]) == 1
    assert "is not a rendered deployment (no inventory/hosts.yml)" in capsys.readouterr().err
