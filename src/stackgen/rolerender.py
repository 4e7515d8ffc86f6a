"""Render the roles' own templates for the Docker images, outside Ansible.

The images use exactly the files roles/nginx and roles/gunicorn render on hosts: the same
Jinja templates, the same role defaults, with Ansible's template settings (trim_blocks, a
trailing newline kept) and the filters those templates use. What differs between a host and
an image is only the values listed in DEPLOYMENT_SPECIFIC (see docs in the README).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
import yaml

from .paths import repo_root

# Values that legitimately differ between a host (Ansible) and an image (this module).
DEPLOYMENT_SPECIFIC = {
    "gunicorn.conf.py": ("header comment", "bind: images bind 0.0.0.0:8000; hosts use the systemd socket"),
    "site.conf": (
        "header comment",
        "upstream: app:8000 in compose; the live release's socket (current/gunicorn.sock) on a host",
        "static_root: /srv/static in the nginx image; current/bundle/static on a host",
        "keepalive_time: a host's upstream connections end after it, so an old release drains",
        "proxy_next_upstream: a host retries once when a kept-alive connection to its release fails",
    ),
    "nginx.conf": ("header comment",),
}

NGINX_FILES = {  # template -> path under the rendered nginx tree
    "nginx.conf.j2": "nginx.conf",
    "security-headers.conf.j2": "stackgen/security-headers.conf",
    "page-headers.conf.j2": "stackgen/page-headers.conf",
    "proxy.conf.j2": "stackgen/proxy.conf",
    "json-errors.conf.j2": "stackgen/json-errors.conf",
}


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _with_ansible_filters(env: jinja2.Environment) -> jinja2.Environment:
    """The Ansible filters the role templates and defaults use."""
    env.filters["to_json"] = lambda value, **kw: json.dumps(value, **kw)
    env.filters["bool"] = _to_bool
    env.filters["regex_replace"] = lambda value, pattern, replacement="": re.sub(pattern, replacement, str(value))
    return env


def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return _with_ansible_filters(env)


def role_defaults(role: str) -> dict[str, Any]:
    raw = yaml.safe_load((repo_root() / "roles" / role / "defaults" / "main.yml").read_text()) or {}
    return dict(raw)


def resolve(values: dict[str, Any]) -> dict[str, Any]:
    """Template string values that refer to other variables, as Ansible does lazily."""
    env = _with_ansible_filters(jinja2.Environment(undefined=jinja2.StrictUndefined))
    resolved = dict(values)
    for _ in range(5):
        changed = False
        for key, value in resolved.items():
            if isinstance(value, str) and "{{" in value:
                rendered = env.from_string(value).render(**resolved)
                if rendered != value:
                    resolved[key], changed = rendered, True
        if not changed:
            break
    return resolved


def render_gunicorn(values: dict[str, Any]) -> str:
    context = resolve({**role_defaults("gunicorn"), **values})
    templates = repo_root() / "roles" / "gunicorn" / "templates"
    return environment(templates).get_template("gunicorn.conf.py.j2").render(**context)


def render_nginx(values: dict[str, Any], out: Path) -> list[Path]:
    """Write nginx.conf, the snippets and one site per nginx_sites entry under ``out``."""
    context = resolve({**role_defaults("nginx"), **values})
    env = environment(repo_root() / "roles" / "nginx" / "templates")
    written = []
    for template, relative in NGINX_FILES.items():
        written.append(_write(out / relative, env.get_template(template).render(**context)))
    for site in context["nginx_sites"]:
        text = env.get_template("site.conf.j2").render(**context, site=site)
        written.append(_write(out / "stackgen" / "sites" / f"{site['name']}.conf", text))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
