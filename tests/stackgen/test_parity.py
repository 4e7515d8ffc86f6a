"""One source of truth: the nginx site/config and gunicorn.conf.py rendered by Ansible (for a
host) and by stackgen (for the images) from the same values are identical apart from the
header comment; the values the images use differ from a host's only in the documented keys."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stackgen.rolerender import DEPLOYMENT_SPECIFIC, render_gunicorn, render_nginx
from stackgen.spec import validate
from stackgen.stack import image_gunicorn_values, image_nginx_values

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """---
- name: Render the role templates as a host would get them
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {repo}/roles/gunicorn/defaults/main.yml
    - {repo}/roles/nginx/defaults/main.yml
  tasks:
    - name: Render each template
      ansible.builtin.template:
        src: "{repo}/roles/{{{{ item.role }}}}/templates/{{{{ item.src }}}}"
        dest: "{out}/{{{{ item.dest }}}}"
        mode: "0644"
      loop:
        - {{role: gunicorn, src: gunicorn.conf.py.j2, dest: gunicorn.conf.py}}
        - {{role: nginx, src: nginx.conf.j2, dest: nginx.conf}}
        - {{role: nginx, src: security-headers.conf.j2, dest: security-headers.conf}}
        - {{role: nginx, src: page-headers.conf.j2, dest: page-headers.conf}}
        - {{role: nginx, src: proxy.conf.j2, dest: proxy.conf}}
        - {{role: nginx, src: json-errors.conf.j2, dest: json-errors.conf}}
        - {{role: nginx, src: site.conf.j2, dest: site.conf}}
      vars:
        site: "{{{{ nginx_sites[0] }}}}"
"""
HOST_VALUES = {  # what roles/app_flask + roles/nginx use on a single host
    "gunicorn_app_name": "model",
    "gunicorn_wsgi_app": "model_flask.wsgi:app",
    "gunicorn_workers": 0,
    "gunicorn_threads": 16,  # app_flask_threads
    "nginx_tls_mode": "none",
    "nginx_sites": [
        {
            "name": "model",
            "server_names": ["localhost", "model.example.com"],
            "app": "model",
        }
    ],
}


def ansible_render(tmp_path: Path, values: dict[str, object]) -> dict[str, str]:
    out = tmp_path / "ansible"
    out.mkdir()
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAYBOOK.format(repo=REPO, out=out))
    extra = tmp_path / "values.json"
    extra.write_text(json.dumps(values))
    result = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            str(playbook),
            "-e",
            f"@{extra}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return {p.name: p.read_text() for p in out.iterdir()}


def image_render(tmp_path: Path, values: dict[str, object]) -> dict[str, str]:
    out = tmp_path / "image"
    render_nginx(values, out)
    files = {p.name: p.read_text() for p in out.rglob("*.conf")}
    files["site.conf"] = files.pop("model.conf")
    files["gunicorn.conf.py"] = render_gunicorn(values)
    return files


def changed_lines(a: str, b: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture(scope="module")
def image_values() -> dict[str, object]:
    spec = validate({"name": "parity", "domain": "model.example.com"})
    return {**image_gunicorn_values(spec, "model_flask.wsgi:app"), **image_nginx_values(spec)}


def test_same_values_render_identically_both_ways(tmp_path: Path, image_values: dict[str, object]) -> None:
    by_ansible = ansible_render(tmp_path, image_values)
    by_stackgen = image_render(tmp_path, image_values)
    assert sorted(by_ansible) == sorted(by_stackgen)
    for name in by_ansible:
        diff = changed_lines(by_ansible[name], by_stackgen[name])
        # Only the first line, the header comment ("Ansible managed" vs "Rendered from ..."), differs.
        assert [line[1:].startswith("#") for line in diff] == [True] * len(diff), (name, diff)
        assert len(diff) <= 2, (name, diff)


def test_host_and_image_differ_only_in_documented_values(tmp_path: Path, image_values: dict[str, object]) -> None:
    host = ansible_render(tmp_path, HOST_VALUES)
    image = image_render(tmp_path, image_values)
    allowed = {
        "gunicorn.conf.py": ("#", "bind = ", "forwarded_allow_ips = "),
        "site.conf": ("#", "server unix:", "server app:8000", "server_name ", "keepalive_time ", "proxy_next_upstream"),
    }
    for name in host:
        diff = changed_lines(host[name], image[name])
        prefixes = allowed.get(name, ("#",))
        unexpected = [line for line in diff if not line[1:].strip().startswith(prefixes)]
        assert unexpected == [], (name, unexpected)
    assert set(DEPLOYMENT_SPECIFIC) == {"gunicorn.conf.py", "site.conf", "nginx.conf"}
