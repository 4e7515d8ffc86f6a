"""TLS changes on the converged host: turning TLS on works in one run, and a provided
certificate and key replace the live ones only when they belong together and nginx -t passes."""

from __future__ import annotations

import json

from hostcheck import ansible_playbook, curl

LIVE = "/etc/nginx/tls/server.crt"


def site(host, *args: str):
    result = ansible_playbook("site.yml", *args, limit=host.backend.host)
    return result


def sha(host, path: str) -> str:
    return host.run("sha256sum %s", path).stdout.split()[0]


def make_pair(host, name: str) -> tuple[str, str]:
    host.run(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost -keyout /tmp/%s.key -out /tmp/%s.crt",
        name,
        name,
    )
    return host.file(f"/tmp/{name}.crt").content_string, host.file(f"/tmp/{name}.key").content_string


def provided(tmp_path, certificate: str, key: str) -> str:
    path = tmp_path / "tls.json"
    path.write_text(
        json.dumps({"nginx_tls_mode": "provided", "nginx_tls_certificate": certificate, "nginx_tls_key": key})
    )
    return f"@{path}"


def test_turning_tls_on_for_a_converged_host_takes_one_run(host) -> None:
    off = site(host, "-e", "nginx_tls_mode=none")
    assert off.returncode == 0, off.stdout[-3000:]
    assert curl(host, "http://localhost/v2/health/ready").status == 200
    assert curl(host, "https://localhost/v2/health/ready").status == 0
    host.run("rm -rf /etc/nginx/tls")
    on = site(host)  # the inventory's nginx_tls_mode: selfsigned
    assert on.returncode == 0, on.stdout[-3000:]
    assert curl(host, "https://localhost/v2/health/ready").status == 200
    assert curl(host, "http://localhost/v2/health/ready").status == 301


def test_a_key_that_does_not_match_the_certificate_is_refused(host, tmp_path) -> None:
    before = sha(host, LIVE)
    certificate, _ = make_pair(host, "a")
    _, other_key = make_pair(host, "b")
    result = site(host, "-e", provided(tmp_path, certificate, other_key))
    assert result.returncode == 2
    assert "nginx_tls_key does not belong to nginx_tls_certificate" in result.stdout
    assert other_key.splitlines()[1] not in result.stdout
    assert sha(host, LIVE) == before
    assert curl(host, "https://localhost/v2/health/ready").status == 200


def test_a_certificate_that_is_not_one_is_refused(host, tmp_path) -> None:
    before = sha(host, LIVE)
    _, key = make_pair(host, "c")
    result = site(host, "-e", provided(tmp_path, "not a certificate\n", key))
    assert result.returncode == 2
    assert "Read the certificate's public key" in result.stdout
    assert sha(host, LIVE) == before
    assert curl(host, "https://localhost/v2/health/ready").status == 200


def test_a_matching_pair_replaces_the_live_files(host, tmp_path) -> None:
    certificate, key = make_pair(host, "d")
    result = site(host, "-e", provided(tmp_path, certificate, key))
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.file(LIVE).content_string == certificate
    served = host.run(
        "echo | openssl s_client -connect localhost:443 -servername localhost 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256"
    ).stdout
    expected = host.run("openssl x509 -noout -fingerprint -sha256 -in /tmp/d.crt").stdout
    assert served == expected
    key_file = host.file("/etc/nginx/tls/server.key")
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "www-data", 0o640)
