"""What `stackgen render` writes for an app spec: the exact role variables (the app_flask_* and
app_django_* contract), the vault example and README, and paths relative to the deployment."""

from __future__ import annotations

from pathlib import Path

import yaml

from stackgen.cli import main
from stackgen.render import app_group_vars, group_vars, readme, vault_example
from stackgen.spec import validate

BUNDLE = "{{ playbook_dir }}/../bundle"
HEADER = "---\n# Fill in, save as vault.yml, then: ansible-vault encrypt vault.yml\n# Never commit it unencrypted.\n"
FLASK = {"name": "web", "app": {"requirement": "httpbin==0.10.4", "wsgi": "httpbin:app", "smoke_path": "/get"}}
DJANGO = {"name": "shop", "framework": "django", "domain": "shop.example.com", "app": {"project": "./mysite"}}
BALANCED = {"topology": "load-balanced", "app_hosts": 2, "database": "postgresql", "tls": "self-signed"}


def test_flask_requirement_app_single_host() -> None:
    assert group_vars(validate(FLASK)) == {
        "stackgen_framework": "flask",
        "app_flask_bundle_dir": BUNDLE,
        "app_flask_workers": 0,
        "nginx_tls_mode": "none",
        "app_flask_wsgi": "httpbin:app",
        "app_flask_requirement": "httpbin==0.10.4",
        "app_flask_check_model": False,
        "app_flask_smoke_path": "/get",
        "app_flask_smoke_status": 200,
        "app_flask_env": {},
        "nginx_sites": [{"name": "model", "server_names": ["localhost"], "app": "model"}],
    }


def test_flask_app_hosts_get_no_model_service_environment() -> None:
    spec = validate({**FLASK, "topology": "load-balanced", "app_hosts": 2})
    assert group_vars(spec)["app_flask_env"] == {}
    assert app_group_vars(spec) == {
        "pki_service_names": ["app-tier.stackgen.internal"],
        "nginx_tls_mode": "internal",
        "nginx_https_port": 8443,
        "nginx_sites": [{"name": "model", "server_names": ["localhost"], "app": "model", "lb_drain": True}],
        "app_flask_lb_hook": "lb_flag.yml",
        "app_release_lb_settle_seconds": 6,
    }


def test_django_project_app_single_host() -> None:
    assert group_vars(validate(DJANGO)) == {
        "stackgen_framework": "django",
        "app_django_bundle_dir": BUNDLE,
        "app_django_workers": 0,
        "nginx_tls_mode": "none",
        "app_django_secret_key": "{{ vault_django_secret_key }}",
        "app_django_allowed_hosts": ["shop.example.com"],
        "app_django_db_engine": "sqlite",
        "app_django_superuser_name": "admin",
        "app_django_superuser_password": "{{ vault_django_admin_password }}",
        "app_django_wsgi": "",
        "app_django_requirement": "",
        "app_django_settings_module": "",
        "app_django_model_service": False,
        "app_django_smoke_path": "/admin/login/",  # a generated project has no page at /
        "app_django_smoke_status": 200,
        "nginx_sites": [
            {
                "name": "model",
                "server_names": ["shop.example.com"],
                "pages": ["/admin/"],
                "app": "model",
                "static_root": "/srv/model/current/bundle/static",
            }
        ],
    }


def test_django_project_app_load_balanced() -> None:
    spec = validate({**DJANGO, **BALANCED, "app": {"project": "./mysite", "settings": "mysite.settings"}})
    assert group_vars(spec) == {
        "stackgen_framework": "django",
        "app_django_bundle_dir": BUNDLE,
        "app_django_workers": 0,
        "nginx_tls_mode": "selfsigned",
        "pki_enabled": True,
        "nginx_upstream_tls_name": "app-tier.stackgen.internal",
        "nginx_proxy_connect_timeout": 2,
        "nginx_upstream_fail_timeout": 5,
        "app_django_secret_key": "{{ vault_django_secret_key }}",
        "app_django_allowed_hosts": ["shop.example.com"],
        "app_django_db_engine": "postgresql",
        "app_django_superuser_name": "admin",
        "app_django_superuser_password": "{{ vault_django_admin_password }}",
        "app_django_wsgi": "",
        "app_django_requirement": "",
        "app_django_settings_module": "mysite.settings",
        "app_django_model_service": False,
        "app_django_smoke_path": "/admin/login/",
        "app_django_smoke_status": 200,
        "app_django_db_password": "{{ vault_db_password }}",
        "app_django_db_host": "{{ hostvars[groups['db'][0]].ansible_host | default(groups['db'][0]) }}",
        "postgresql_databases": [{"name": "model", "owner": "model", "password": "{{ vault_db_password }}"}],
        "postgresql_listen_addresses": ["localhost", "{{ ansible_facts.default_ipv4.address }}"],
        "postgresql_allowed_networks": (
            "{{ groups['app'] | map('extract', hostvars, ['ansible_facts', 'default_ipv4', 'address'])"
            " | map('regex_replace', '$', '/32') | list }}"
        ),
        "postgresql_ssl_cert_file": "/etc/stackgen/pki/host.crt",
        "postgresql_ssl_key_file": "/etc/stackgen/pki/host.key",
        "app_django_db_sslmode": "verify-full",
        "app_django_db_sslrootcert": "/etc/stackgen/pki/ca.crt",
        "nginx_sites": [
            {
                "name": "model",
                "server_names": ["shop.example.com"],
                "pages": ["/admin/"],
                "upstream": "{{ groups['app'] | map('regex_replace', '$', ':8443') | list }}",
                "upstream_tls": True,
            }
        ],
    }
    assert app_group_vars(spec) == {
        "pki_service_names": ["app-tier.stackgen.internal"],
        "nginx_tls_mode": "internal",
        "nginx_https_port": 8443,
        "nginx_sites": [
            {
                "name": "model",
                "server_names": ["shop.example.com"],
                "app": "model",
                "lb_drain": True,
                "static_root": "/srv/model/current/bundle/static",
                "pages": ["/admin/"],
            }
        ],
        "app_django_lb_hook": "lb_flag.yml",
        "app_release_lb_settle_seconds": 6,
        "app_django_csrf_trusted_origins": ["https://shop.example.com"],
    }
    plain = validate({**DJANGO, **BALANCED, "tls": "none"})
    assert app_group_vars(plain)["app_django_csrf_trusted_origins"] == ["http://shop.example.com"]


def test_vault_examples_hold_no_api_tokens_for_an_app() -> None:
    note = "# Your app's own secrets: add vault_* values here, use them in app_{}_secret_env.\n"
    assert vault_example(validate(FLASK)) == HEADER + note.format("flask")
    assert vault_example(validate({**DJANGO, **BALANCED})) == HEADER + note.format("django") + (
        'vault_django_secret_key: "REPLACE-with-50-or-more-random-characters"\n'
        'vault_django_admin_password: "REPLACE-me"\n'
        'vault_db_password: "REPLACE-me"\n'
    )


def test_readme_describes_the_app() -> None:
    text = readme(validate(FLASK))
    assert text.startswith("# web\n\nYour flask app `httpbin==0.10.4`, single topology, database sqlite, TLS none,\n")
    assert "answers `GET /get` with 200" in text
    assert "`stackgen up` (the local Docker stack) runs the model service only, not an app spec yet." in text
    assert "model service," not in text and "/v2/" not in text
    assert "the superuser `admin`" in readme(validate(DJANGO))


def test_render_writes_the_spec_with_paths_from_the_deployment(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "stack.yml"
    spec.parent.mkdir()
    spec.write_text(yaml.safe_dump(DJANGO))
    out = tmp_path / "deploy" / "shop"
    assert main(["render", str(spec), "--out", str(out)]) == 0
    written = yaml.safe_load((out / "stack.yml").read_text())
    assert written["app"] == {"project": "../../specs/mysite", "smoke_path": "/admin/login/"}
    assert "Your django app `../../specs/mysite`" in (out / "README.md").read_text()
    assert (out / "inventory/group_vars/all/main.yml").read_text().count("app_django_api_tokens") == 0
