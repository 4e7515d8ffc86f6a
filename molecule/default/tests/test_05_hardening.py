"""Hardening of the converged host: TLS audited with sslyze against Mozilla's intermediate
profile, HTTP/2 the way each nginx version wants it, sandboxed units, nginx's own errors as
JSON, and /metrics only for the monitoring addresses."""

from __future__ import annotations

import re

from hostcheck import curl, live_release
from tlsaudit import address, exposure, https_get, sslyze_intermediate

BASE = "https://localhost"
SERVER_CERT = "/etc/nginx/tls/server.crt"


def is_trixie(host) -> bool:
    return host.system_info.codename == "trixie"


def test_tls_passes_mozilla_intermediate_audit(host) -> None:
    certificate = host.file(SERVER_CERT).content_string
    code, scan, output = sslyze_intermediate(host, "localhost", certificate)
    assert code == 0, output[-4000:]
    [result] = scan["server_scan_results"]
    assert result["scan_status"] == "COMPLETED"
    assert "OK - Compliant." in output, output[-4000:]
    deployment = result["scan_result"]["certificate_info"]["result"]["certificate_deployments"][0]
    assert deployment["verified_certificate_chain"] is not None
    # An ECDSA certificate: only ECDHE-ECDSA suites in TLS 1.2 (DHE-RSA ones, with the ffdhe2048
    # group, serve RSA certificates).
    accepted = result["scan_result"]["tls_1_2_cipher_suites"]["result"]["accepted_cipher_suites"]
    assert {s["cipher_suite"]["name"] for s in accepted} == {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    }
    assert "ssl_dhparam stackgen/ffdhe2048.pem;" in host.file("/etc/nginx/nginx.conf").content_string


def test_selfsigned_certificate_names_lifetime_and_key(host) -> None:
    text = host.run("openssl x509 -in %s -noout -text", SERVER_CERT).stdout
    assert "DNS:localhost, DNS:model.test" in text
    days = host.run(
        'echo $(( ($(date -d "$(openssl x509 -in %s -noout -enddate | cut -d= -f2)" +%%s)'
        ' - $(date -d "$(openssl x509 -in %s -noout -startdate | cut -d= -f2)" +%%s)) / 86400 ))',
        SERVER_CERT,
        SERVER_CERT,
    ).stdout.strip()
    assert days == "365"
    assert "ASN1 OID: prime256v1" in text
    assert "TLS Web Server Authentication" in text
    assert "CA:FALSE" in text


def test_http2_is_on_with_the_directive_this_nginx_knows(host) -> None:
    site = host.file("/etc/nginx/stackgen/sites/model.conf").content_string
    if is_trixie(host):  # nginx 1.26: `listen ... http2` is deprecated
        assert "    http2 on;" in site
        assert "ssl http2;" not in site
    else:  # nginx 1.22 has no http2 directive
        assert "listen 443 ssl http2;" in site
        assert "http2 on;" not in site
    check = host.run("nginx -t")
    assert check.rc == 0 and "deprecated" not in check.stderr, check.stderr
    version = host.run("curl -sk --http2 -o /dev/null -w '%{http_version}' https://localhost/v2/health/live").stdout
    assert version == "2"


def test_gunicorn_unit_exposure_is_at_most_2(host) -> None:
    score = exposure(host, f"gunicorn-model@{live_release(host)}.service")
    assert score <= 2.0, score


def test_nginx_unit_exposure_is_at_most_5_and_it_still_reloads(host) -> None:
    assert exposure(host, "nginx.service") <= 5.0
    shown = host.run("systemctl show nginx -p ProtectSystem -p NoNewPrivileges -p CapabilityBoundingSet").stdout
    assert "ProtectSystem=strict" in shown and "NoNewPrivileges=yes" in shown
    assert "cap_sys_admin" not in shown and "cap_net_bind_service" in shown
    assert host.run("systemctl reload nginx").rc == 0
    assert curl(host, f"{BASE}/v2/health/ready").status == 200
    # The sandbox is in force: the master cannot write outside its paths.
    master = host.run("cat /run/nginx.pid").stdout.strip()
    assert master.isdigit(), master
    probe = host.run("nsenter -t %s -m touch /etc/nginx/probe", master)
    assert probe.rc == 1 and "Read-only file system" in probe.stderr, probe.stderr


def test_trace_and_unknown_methods_get_json_errors(host) -> None:
    # nginx refuses TRACE itself; other unknown methods reach the app, which refuses them too.
    expected = {
        "TRACE": {"error": "method not allowed"},
        "TRACK": {"error": "method TRACK is not allowed for /v2/health/live"},
    }
    for method, body in expected.items():
        reply = curl(host, f"{BASE}/v2/health/live", "-X", method)
        assert (reply.status, reply.json()) == (405, body), method
        assert reply.headers["content-type"] == "application/json", method
        assert reply.headers["x-content-type-options"] == "nosniff", method


def test_nginx_errors_do_not_name_the_model_service(host) -> None:
    text = host.file("/etc/nginx/stackgen/json-errors.conf").content_string
    assert "model" not in text
    # Plain HTTP sent to the HTTPS port: nginx's own 400, as JSON.
    plain = curl(host, "http://localhost:443/v2/health/live")
    assert (plain.status, plain.json()) == (400, {"error": "plain HTTP was sent to the HTTPS port"})


def test_metrics_only_for_allowed_addresses(host) -> None:
    # From the host itself (loopback, in nginx_metrics_allow): served.
    local = curl(host, f"{BASE}/metrics")
    assert local.status == 200
    assert "stackgen_http_requests_total" in local.body
    # From the controller, over the container network: refused, with JSON naming why.
    status, body = https_get(address(host), "localhost", "/metrics")
    assert (status, body) == (403, '{"error":"forbidden for your address"}\n')


def test_each_security_header_is_sent_once(host) -> None:
    raw = host.run("curl -sk -D - -o /dev/null -H 'Host: localhost' https://localhost/v2/health/live").stdout
    names = [line.split(":", 1)[0].lower() for line in raw.splitlines() if ":" in line]
    for name in (
        "strict-transport-security",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
        "content-security-policy",
    ):
        assert names.count(name) == 1, (name, raw)
    assert re.search(r"(?im)^strict-transport-security: max-age=63072000\r?$", raw), raw
    assert re.search(r"(?im)^content-security-policy: default-src 'none'; frame-ancestors 'none'\r?$", raw), raw
