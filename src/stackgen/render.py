"""`stackgen render`: a ready deployment directory for one spec.

<out>/
  stack.yml                    the spec, its directories relative to <out>
  ansible.cfg                  roles and collections from the stackgen checkout
  site.yml                     the playbook entry (imports playbooks/site.yml)
  inventory/hosts.yml          groups web / app / db for the topology
  inventory/group_vars/all/main.yml          settings; secrets only as vault_* references
  inventory/group_vars/all/vault.yml.example the secrets to fill in and encrypt
  inventory/group_vars/app/main.yml          load-balanced only: the app hosts' own nginx
  .gitignore                   keeps inventory/pki (the private CA's key, made on first run) out of git
  compose.override.yml         local Docker stack settings for this spec
  README.md                    how to deploy this stack
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from .docs import readme, vault_example
from .paths import repo_root
from .spec import Spec

TLS_MODE = {"none": "none", "self-signed": "selfsigned", "provided": "provided", "acme": "acme"}
# Where app hosts' nginx listens for the load balancer (load-balanced topology, mutual TLS).
APP_HOST_PORT = 8443
# The name the load balancer verifies every app host's certificate by (roles/pki adds it).
APP_TIER_NAME = "app-tier.stackgen.internal"
# Seconds the load balancer rests an app host after a failed attempt; a drained host's run waits
# one more before the next host is drained.
UPSTREAM_FAIL_TIMEOUT = 5
PKI_DIR = "/etc/stackgen/pki"
# The live release's collected static files (Django), served by nginx.
STATIC_ROOT = "/srv/model/current/bundle/static"
ADMIN_PAGES = "/admin/"  # Django admin: browser pages behind nginx_page_content_security_policy


class _Dumper(yaml.SafeDumper):
    """Indent lists under their keys, as yamllint's default style expects."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: Any) -> str:
    return "---\n" + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def inventory(spec: Spec) -> dict[str, Any]:
    if spec.topology == "single":
        host = f"{spec.name}-1.example.internal"
        groups: dict[str, Any] = {"web": {"hosts": {host: None}}, "app": {"hosts": {host: None}}}
        if spec.database == "postgresql":
            groups["db"] = {"hosts": {host: None}}
    else:
        apps = {f"{spec.name}-app{i}.example.internal": None for i in range(1, spec.app_hosts + 1)}
        groups = {"web": {"hosts": {f"{spec.name}-lb.example.internal": None}}, "app": {"hosts": apps}}
        if spec.database == "postgresql":
            groups["db"] = {"hosts": {f"{spec.name}-db.example.internal": None}}
    return {
        "all": {
            "children": groups,
            "vars": {"ansible_user": "deploy", "ansible_python_interpreter": "/usr/bin/python3"},
        }
    }


def group_vars(spec: Spec, bundle_from_playbooks: str = "../bundle") -> dict[str, Any]:
    """``bundle_from_playbooks``: the deployment's bundle/ relative to the stackgen checkout's
    playbooks/, which is playbook_dir while the entries' imported playbooks run."""
    app = f"app_{spec.framework}"
    values: dict[str, Any] = {
        "stackgen_framework": spec.framework,
        f"{app}_bundle_dir": f"{{{{ playbook_dir }}}}/{bundle_from_playbooks}",
        f"{app}_workers": spec.workers,
        "nginx_tls_mode": TLS_MODE[spec.tls],
        **_fleet_vars(spec),
        **_tls_vars(spec),
        **(_flask_vars(spec) if spec.framework == "flask" else _django_vars(spec)),
        "nginx_sites": [_web_site(spec)],
    }
    return values


def _web_site(spec: Spec) -> dict[str, Any]:
    # Single host: nginx sends traffic to the app's live release on the same host. Load-balanced:
    # the load balancer sends it over mutual TLS to the app hosts' own nginx (app_group_vars),
    # which switches between releases there.
    site: dict[str, Any] = {"name": "model", "server_names": [spec.domain]}
    if spec.framework == "django":
        site["pages"] = [ADMIN_PAGES]  # the admin's own CSS and JS are allowed there
    if spec.topology == "single":
        site["app"] = "model"
        if spec.framework == "django":  # load-balanced: the app hosts' nginx serves them
            site["static_root"] = STATIC_ROOT
    else:
        site["upstream"] = f"{{{{ groups['app'] | map('regex_replace', '$', ':{APP_HOST_PORT}') | list }}}}"
        site["upstream_tls"] = True
    return site


def _fleet_vars(spec: Spec) -> dict[str, Any]:
    if spec.topology == "single":
        return {}
    return {
        # A private CA on the controller (inventory/pki) and a certificate per host.
        "pki_enabled": True,
        "nginx_upstream_tls_name": APP_TIER_NAME,
        # A vanished app host costs a retry after this long, not a client's request.
        "nginx_proxy_connect_timeout": 2,
        "nginx_upstream_fail_timeout": UPSTREAM_FAIL_TIMEOUT,
    }


def _tls_vars(spec: Spec) -> dict[str, Any]:
    if spec.tls == "provided":
        return {"nginx_tls_certificate": "{{ vault_tls_certificate }}", "nginx_tls_key": "{{ vault_tls_key }}"}
    if spec.tls == "acme":
        return {"nginx_acme_directory_url": spec.acme_directory, "nginx_acme_email": spec.acme_email}
    return {}


def _flask_vars(spec: Spec) -> dict[str, Any]:
    if spec.app is None:
        return {"app_flask_api_tokens": "{{ vault_api_tokens }}"}
    return {
        "app_flask_wsgi": spec.app.wsgi,  # empty: the bundle's own callable (release.json)
        # Checked against the bundle's lock on every run (empty for a project: what it holds).
        "app_flask_requirement": spec.app.requirement,
        "app_flask_check_model": False,
        "app_flask_smoke_path": spec.app.smoke_path,
        "app_flask_smoke_status": 200,
        "app_flask_env": {},  # the model service's STACKGEN_* settings mean nothing to another app
    }


def _django_vars(spec: Spec) -> dict[str, Any]:
    values: dict[str, Any] = {
        "app_django_secret_key": "{{ vault_django_secret_key }}",
        "app_django_allowed_hosts": [spec.domain],
        "app_django_db_engine": spec.database,
        "app_django_superuser_name": "admin",
        "app_django_superuser_password": "{{ vault_django_admin_password }}",
    }
    if spec.app is None:
        values["app_django_api_tokens"] = "{{ vault_django_api_tokens }}"
    else:
        values.update(
            {
                "app_django_wsgi": spec.app.wsgi,  # empty: the bundle's (detected in the project)
                "app_django_requirement": spec.app.requirement,
                "app_django_settings_module": spec.app.settings,
                "app_django_model_service": False,
                "app_django_smoke_path": spec.app.smoke_path,
                "app_django_smoke_status": 200,
            }
        )
    if spec.database == "postgresql":
        values.update(_postgresql_vars(spec))
    return values


def _postgresql_vars(spec: Spec) -> dict[str, Any]:
    single = spec.topology == "single"
    db_host = "127.0.0.1" if single else "{{ hostvars[groups['db'][0]].ansible_host | default(groups['db'][0]) }}"
    values: dict[str, Any] = {
        "app_django_db_password": "{{ vault_db_password }}",
        "app_django_db_host": db_host,
        "postgresql_databases": [{"name": "model", "owner": "model", "password": "{{ vault_db_password }}"}],
    }
    if single:
        return values
    # Only the app hosts, by the addresses their facts name; over TLS, verified both ways.
    return {
        **values,
        "postgresql_listen_addresses": ["localhost", "{{ ansible_facts.default_ipv4.address }}"],
        "postgresql_allowed_networks": (
            "{{ groups['app'] | map('extract', hostvars, ['ansible_facts', 'default_ipv4', 'address'])"
            " | map('regex_replace', '$', '/32') | list }}"
        ),
        "postgresql_ssl_cert_file": f"{PKI_DIR}/host.crt",
        "postgresql_ssl_key_file": f"{PKI_DIR}/host.key",
        "app_django_db_sslmode": "verify-full",
        "app_django_db_sslrootcert": f"{PKI_DIR}/ca.crt",
    }


def app_group_vars(spec: Spec) -> dict[str, Any]:
    """Load-balanced only: each app host's nginx answers only the load balancer (mutual TLS with
    the private CA) and sends the traffic to the app's live release there. A switch drains the
    host first (lb_flag.yml: the load balancer retries its new requests on another host)."""
    site: dict[str, Any] = {"name": "model", "server_names": [spec.domain], "app": "model", "lb_drain": True}
    if spec.framework == "django":
        site["static_root"] = STATIC_ROOT
        site["pages"] = [ADMIN_PAGES]
    values: dict[str, Any] = {
        # Only app hosts carry the name the load balancer verifies them by.
        "pki_service_names": [APP_TIER_NAME],
        "nginx_tls_mode": "internal",
        "nginx_https_port": APP_HOST_PORT,
        "nginx_sites": [site],
        f"app_{spec.framework}_lb_hook": "lb_flag.yml",
        "app_release_lb_settle_seconds": UPSTREAM_FAIL_TIMEOUT + 1,
    }
    # The load balancer and this host's nginx both forward: the client is two hops away (the
    # model service's throttles and logs; another app reads its own settings).
    if spec.framework == "django" and spec.app is None:
        values["app_django_proxy_hops"] = 2
    if spec.framework == "django":
        # Browsers post forms from the public origin, the load balancer's: the app hosts' own
        # nginx (internal TLS on another port) names none the role could derive them from.
        scheme = "http" if spec.tls == "none" else "https"
        values["app_django_csrf_trusted_origins"] = [f"{scheme}://{spec.domain}"]
    if spec.framework == "flask" and spec.app is None:
        values["app_flask_env"] = {
            "STACKGEN_MODEL_DIR": "bundle/model",
            "STACKGEN_PROXY_HOPS": "2",
            "STACKGEN_LOG_LEVEL": "INFO",
            "STACKGEN_BATCH_WAIT_MS": "2",
            "STACKGEN_AUTH": "{{ 'on' if app_flask_api_tokens else 'off' }}",
        }
    return values


def relocated(spec: Spec, spec_dir: Path, out: Path) -> Spec:
    """The spec with its directories relative to ``out`` instead of ``spec_dir``, so that the
    rendered stack.yml builds the same bundle (`stackgen build stack.yml` in the deployment)."""

    def moved(path: str) -> str:
        if not path or os.path.isabs(path):
            return path
        return os.path.relpath((spec_dir / path).resolve(), out.resolve())

    if spec.app is not None:
        return replace(spec, app=replace(spec.app, project=moved(spec.app.project), wheels=moved(spec.app.wheels)))
    if spec.model is not None and spec.model.path != "example":
        return replace(spec, model=replace(spec.model, path=moved(spec.model.path)))
    return spec


def render(spec: Spec, out: Path, spec_dir: Path | None = None) -> list[Path]:
    """``spec_dir``: the spec file's directory, which its paths are relative to; the rendered
    stack.yml gets them relative to ``out``."""
    root = repo_root()
    out.mkdir(parents=True, exist_ok=True)
    rel_root = os.path.relpath(root, out.resolve())
    local = relocated(spec, spec_dir, out) if spec_dir is not None else spec  # as seen from out/
    files = {
        "stack.yml": _dump(local.as_dict()),
        "ansible.cfg": (
            "[defaults]\n"
            f"roles_path = {rel_root}/roles\n"
            f"collections_path = {rel_root}/.cache/collections\n"
            "inventory = inventory/hosts.yml\n"
            "interpreter_python = auto_silent\n\n"
            "[connection]\npipelining = true\n\n[ssh_connection]\npipelining = true\n"
        ),
        "site.yml": _entry(rel_root, "site.yml", "Deploy the whole stack"),
        "deploy.yml": _entry(rel_root, "deploy.yml", "Deploy a new release"),
        "rollback.yml": _entry(rel_root, "rollback.yml", "Roll back to the previous release"),
        "inventory/hosts.yml": _dump(inventory(spec)),
        "inventory/group_vars/all/main.yml": _dump(
            group_vars(spec, os.path.relpath(out.resolve() / "bundle", root / "playbooks"))
        ),
        "inventory/group_vars/all/vault.yml.example": vault_example(spec),
        **({"inventory/group_vars/app/main.yml": _dump(app_group_vars(spec))} if spec.topology != "single" else {}),
        "compose.override.yml": _dump(
            {
                "version": "3.8",
                "services": {"nginx": {"ports": ["${STACKGEN_BIND:-127.0.0.1}:${STACKGEN_PORT:-8080}:80"]}},
            }
        ),
        "README.md": readme(local),
        ".gitignore": "# The private CA (roles/pki): keep ca.key like a Vault secret, never in git.\ninventory/pki/\n",
    }
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _entry(rel_root: str, playbook: str, title: str) -> str:
    return (
        f"---\n# Playbook entry for this stack: the stackgen checkout's {playbook}.\n"
        f"- name: {title}\n  ansible.builtin.import_playbook: {rel_root}/playbooks/{playbook}\n"
    )
