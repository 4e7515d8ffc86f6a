"""Audits of a converged host from the controller: sslyze against Mozilla's intermediate
profile, and systemd's exposure score of a unit. Traffic goes only to the project's containers."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

from hostcheck import REPO

SSLYZE = REPO / ".cache" / "sslyze" / "bin" / "sslyze"  # its own venv: make sslyze


def address(host) -> str:
    """The container's first address, as the controller reaches it."""
    return host.run("hostname -I").stdout.split()[0]


def sslyze_intermediate(host, server_name: str, trusted_pem: str, port: int = 443) -> tuple[int, dict, str]:
    """Scan ``server_name`` (SNI) at the host's address; return (exit code, JSON result, output).
    ``trusted_pem`` anchors certificate path validation (a test CA or the self-signed certificate)."""
    with tempfile.TemporaryDirectory() as tmp:
        ca = Path(tmp) / "ca.pem"
        ca.write_text(trusted_pem)
        out = Path(tmp) / "scan.json"
        result = subprocess.run(
            [
                str(SSLYZE),
                "--mozilla_config=intermediate",
                f"--certinfo_ca_file={ca}",
                f"--json_out={out}",
                f"{server_name}:{port}{{{address(host)}}}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        document = json.loads(out.read_text()) if out.exists() else {}
    return result.returncode, document, result.stdout + result.stderr


def exposure(host, unit: str) -> float:
    """systemd-analyze security's overall exposure level of ``unit`` (0 safest, 10 unsafe)."""
    text = host.run("systemd-analyze security %s", unit).stdout
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", text)
    assert match, text[-2000:]
    return float(match.group(1))


def https_get(ip: str, server_name: str, path: str) -> tuple[int, str]:
    """GET over TLS to ``ip`` with SNI and Host ``server_name`` (certificate not verified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((ip, 443), timeout=10)
    connection = http.client.HTTPSConnection(server_name, 443, context=context, timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=server_name)
    try:
        connection.request("GET", path, headers={"Host": server_name})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()
