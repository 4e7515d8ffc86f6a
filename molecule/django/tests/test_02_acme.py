"""nginx_tls_mode acme: the certificate for model.test comes from a real ACME server (pebble,
prepare.yml) over HTTP-01, passes a TLS audit, and certbot's own unit renews it: nginx then
serves the new certificate without a restart."""

from __future__ import annotations

import re

from tlsaudit import sslyze_intermediate

LINEAGE = "/etc/letsencrypt/live/stackgen"


def served_serial(host) -> str:
    out = host.run(
        "echo | openssl s_client -connect 127.0.0.1:443 -servername model.test 2>/dev/null"
        " | openssl x509 -noout -serial"
    ).stdout
    assert out.startswith("serial="), out
    return out.strip()


def file_serial(host, path: str) -> str:
    return host.run("openssl x509 -in %s -noout -serial", path).stdout.strip()


def test_certificate_comes_from_the_acme_server(host) -> None:
    text = host.run("openssl x509 -in %s/cert.pem -noout -issuer -ext subjectAltName", LINEAGE).stdout
    assert re.search(r"issuer=CN ?= ?Pebble Intermediate CA", text), text
    assert "DNS:model.test" in text
    renewal = host.file("/etc/letsencrypt/renewal/stackgen.conf").content_string
    assert "server = https://stackgen-django-acme:14000/dir" in renewal
    assert "authenticator = webroot" in renewal
    assert "renew_hook = /usr/local/sbin/stackgen-acme-deploy" in renewal
    assert served_serial(host) == file_serial(host, f"{LINEAGE}/cert.pem")
    key = host.file("/etc/nginx/tls/server.key")
    assert (key.user, key.group, key.mode) == ("root", "www-data", 0o640)
    assert host.service("certbot.timer").is_enabled is True
    site = host.file("/etc/nginx/stackgen/sites/model.conf").content_string
    assert "ssl_stapling on;" in site and "ssl_stapling_verify on;" in site


def test_acme_certificate_passes_mozilla_intermediate_audit(host) -> None:
    root = host.run("curl -sf https://stackgen-django-acme:15000/roots/0")
    assert root.rc == 0 and "BEGIN CERTIFICATE" in root.stdout, root.stderr
    code, _, output = sslyze_intermediate(host, "model.test", root.stdout)
    assert code == 0, output[-4000:]
    assert "OK - Compliant." in output, output[-4000:]


def test_certbot_unit_renews_and_nginx_serves_the_new_certificate(host) -> None:
    before = served_serial(host)
    # pebble's certificates last 20 days, inside certbot's 30-day window: the unit the timer
    # starts renews now, and its deploy hook installs the certificate after nginx -t.
    result = host.run("systemctl start certbot.service")
    assert result.rc == 0, host.run("journalctl -u certbot -n 30 --no-pager").stdout
    after = served_serial(host)
    assert after != before
    assert after == file_serial(host, f"{LINEAGE}/cert.pem")
    assert host.run("systemctl is-active nginx").stdout.strip() == "active"
    log = host.file("/var/log/letsencrypt/letsencrypt.log").content_string  # certbot logs its hooks' output
    assert "stackgen: installed /etc/letsencrypt/live/stackgen for nginx" in log, log[-2000:]
