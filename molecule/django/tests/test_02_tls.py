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
    assert host.file("/etc/letsencrypt/renewal/stackgen.conf").exists is False
    on = site(host)  # the inventory's nginx_tls_mode: acme (the lineage was deleted in mode none)
    assert on.returncode == 0, on.stdout[-3000:]
    assert "issuer=CN = Pebble Intermediate CA" in host.run(
        "openssl x509 -in /etc/nginx/tls/server.crt -noout -issuer"
    ).stdout.replace("CN=", "CN = ")
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
    # Leaving mode acme: certbot no longer renews (and installs) a certificate over this one.
    assert host.file("/etc/letsencrypt/renewal/stackgen.conf").exists is False
    assert host.file("/usr/local/sbin/stackgen-acme-deploy").exists is False
    assert host.run("certbot certificates").stdout.count("Certificate Name:") == 0


OCSP_SETUP = r"""
set -e
d=/tmp/ocsp; rm -rf $d; mkdir -p $d; cd $d
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=stackgen-ocsp-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature \
  -keyout ca.key -out ca.crt 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
  -keyout leaf.key -out leaf.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,DNS:model.test\nextendedKeyUsage=serverAuth\n' > ext
printf 'authorityInfoAccess=OCSP;URI:http://127.0.0.1:8888\n' >> ext
openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile ext -out leaf.crt 2>/dev/null
end=$(date -u -d "$(openssl x509 -in leaf.crt -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
serial=$(openssl x509 -in leaf.crt -noout -serial | cut -d= -f2)
printf 'V\t%s\t\t%s\tunknown\t/CN=localhost\n' "$end" "$serial" > index.txt
cat leaf.crt ca.crt > chain.crt
systemctl stop ocsp-test 2>/dev/null || true
systemd-run --unit=ocsp-test --collect --quiet openssl ocsp -index $d/index.txt -port 8888 \
  -rsigner $d/ca.crt -rkey $d/ca.key -CA $d/ca.crt -nrequest 20
"""


def test_a_provided_certificate_is_served_with_an_ocsp_staple(host, tmp_path) -> None:
    # A CA whose certificate names an OCSP responder (openssl ocsp on the host's loopback).
    setup = host.run("bash -c %s", OCSP_SETUP)
    assert setup.rc == 0, setup.stderr
    chain = host.file("/tmp/ocsp/chain.crt").content_string
    key = host.file("/tmp/ocsp/leaf.key").content_string
    result = site(host, "-e", provided(tmp_path, chain, key))
    assert result.returncode == 0, result.stdout[-3000:]
    probe = "echo | openssl s_client -connect 127.0.0.1:443 -servername localhost -status 2>/dev/null"
    host.run(probe)  # nginx fetches the response on the first handshake, then staples it
    stapled = ""
    for _ in range(10):
        stapled = host.run(probe).stdout
        if "OCSP Response Status: successful" in stapled:
            break
        host.run("sleep 1")
    assert "OCSP Response Status: successful" in stapled, stapled[:2000]
    assert "Cert Status: good" in stapled
    assert "Responder Id: CN = stackgen-ocsp-test-ca" in stapled
