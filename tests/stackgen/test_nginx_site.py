"""The nginx site template's access rules, rendered from the role's own template and defaults:
/metrics for the allowed addresses and the monitoring group's hosts only, browser pages under
their own CSP. (Converged hosts check the same in molecule/default/tests/test_05_hardening.py.)"""

from __future__ import annotations

import re
from typing import Any

from stackgen.paths import repo_root
from stackgen.rolerender import environment, resolve, role_defaults

SITE = {"name": "model", "server_names": ["model.test"], "app": "model", "pages": ["/admin/"]}


def render(**values: Any) -> str:
    context = resolve({**role_defaults("nginx"), "nginx_tls_mode": "selfsigned", **values})
    env = environment(repo_root() / "roles" / "nginx" / "templates")
    return env.get_template("site.conf.j2").render(**context, site=SITE)


def block(text: str, opener: str) -> list[str]:
    start = text.index(opener)
    body = text[start : text.index("\n    }\n", start)]
    return [line.strip() for line in body.splitlines()[1:] if line.strip()]


def test_metrics_allow_loopback_and_the_monitoring_groups_hosts_only() -> None:
    text = render(
        groups={"monitoring": ["prom1", "prom2", "prom3"], "app": ["app1"]},
        hostvars={
            "prom1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.9"}}},
            "prom2": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.10"}, "default_ipv6": {}}},
            "prom3": {"ansible_facts": {}, "ansible_host": "10.0.0.11"},  # facts not gathered (--limit)
            "app1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.21"}}},
        },
    )
    rules = [line for line in block(text, "location = /metrics {") if line.startswith(("allow", "deny"))]
    assert rules == [
        "allow 127.0.0.1;",
        "allow ::1;",
        "allow 10.0.0.9;  # prom1",
        "allow 10.0.0.10;  # prom2",
        "allow 10.0.0.11;  # prom3",
        "deny all;",
    ]


def test_metrics_without_a_monitoring_group_is_loopback_only() -> None:
    rules = [line for line in block(render(), "location = /metrics {") if line.startswith(("allow", "deny"))]
    assert rules == ["allow 127.0.0.1;", "allow ::1;", "deny all;"]


def test_an_internal_app_host_leaves_metrics_to_its_load_balancer() -> None:
    assert "location = /metrics" not in render(nginx_tls_mode="internal")


def test_pages_get_the_page_headers_and_everything_else_the_api_headers() -> None:
    text = render()
    assert "include stackgen/page-headers.conf;" in block(text, "location ^~ /admin/ {")
    assert "include stackgen/security-headers.conf;" in block(text, "    location / {")
    assert re.findall(r"include stackgen/page-headers\.conf;", text) == ["include stackgen/page-headers.conf;"]
