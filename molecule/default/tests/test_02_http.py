"""Real requests through nginx (TLS on, self-signed) to gunicorn and the model."""

from __future__ import annotations

import json

from hostcheck import GOLDEN_LABELS, GOLDEN_ROWS, curl, infer_body, live_release

BASE = "https://localhost"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000",
}


def assert_security_headers(headers: dict[str, str]) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name


def test_inference_returns_the_golden_prediction(host) -> None:
    reply = curl(host, f"{BASE}/v2/models/iris/infer", data=infer_body(GOLDEN_ROWS))
    assert reply.status == 200
    body = reply.json()
    assert body["outputs"][0] == {"name": "label", "datatype": "INT64", "shape": [4], "data": GOLDEN_LABELS}
    assert reply.headers["content-type"] == "application/json"
    assert_security_headers(reply.headers)
    assert "server" in reply.headers and reply.headers["server"] == "nginx"


def test_v1_and_invocations_through_nginx(host) -> None:
    reply = curl(host, f"{BASE}/v1/models/iris:predict", data=json.dumps({"instances": GOLDEN_ROWS}))
    assert (reply.status, reply.json()) == (200, {"predictions": GOLDEN_LABELS})
    reply = curl(host, f"{BASE}/invocations", data=json.dumps({"inputs": GOLDEN_ROWS}))
    assert (reply.status, reply.json()) == (200, {"predictions": GOLDEN_LABELS})


def test_malformed_request_is_400_json(host) -> None:
    reply = curl(host, f"{BASE}/v2/models/iris/infer", data="{not json")
    assert reply.status == 400
    assert reply.json()["error"].startswith("malformed JSON in request body")
    assert_security_headers(reply.headers)


def test_oversized_body_is_413_json_from_nginx(host) -> None:
    host.run("head -c 1200000 /dev/zero | tr '\\0' '1' > /tmp/big")
    reply = curl(host, f"{BASE}/v2/models/iris/infer", "--data-binary", "@/tmp/big")
    assert reply.status == 413
    assert reply.json() == {"error": "request body larger than 1m"}
    assert reply.headers["content-type"] == "application/json"
    assert_security_headers(reply.headers)


def test_unknown_host_gets_no_response(host) -> None:
    reply = curl(host, "http://127.0.0.1/v2/health/ready", host_header="evil.example")
    assert reply.exit_code == 52  # curl: empty reply from server (nginx 444)
    assert reply.status == 0
    reply = curl(host, "https://127.0.0.1/v2/health/ready", host_header="evil.example")
    assert reply.exit_code == 35  # TLS handshake rejected for unknown names
    assert reply.status == 0


def test_http_redirects_to_https(host) -> None:
    reply = curl(host, "http://localhost/v2/health/ready?x=1")
    assert reply.status == 301
    assert reply.headers["location"] == "https://localhost/v2/health/ready?x=1"


def test_request_id_is_passed_through_and_logged(host) -> None:
    reply = curl(host, f"{BASE}/v2/health/ready", "-H", "X-Request-ID: molecule-trace-1")
    assert reply.status == 200
    assert reply.headers["x-request-id"] == "molecule-trace-1"
    lines = host.run("grep molecule-trace-1 /var/log/nginx/access.log").stdout.splitlines()
    entry = json.loads(lines[-1])
    assert (entry["request_id"], entry["status"], entry["uri"]) == ("molecule-trace-1", 200, "/v2/health/ready")
    assert float(entry["upstream_time"]) >= 0
    app_log = host.run("journalctl -u 'gunicorn-model@*' --no-pager -o cat | grep molecule-trace-1").stdout
    assert json.loads(app_log.splitlines()[-1])["request_id"] == "molecule-trace-1"


def test_gzip_for_json(host) -> None:
    reply = curl(host, f"{BASE}/openapi.json", "-H", "Accept-Encoding: gzip", "--compressed")
    assert reply.status == 200
    assert reply.headers["content-encoding"] == "gzip"


def test_metrics_aggregate_across_workers(host) -> None:
    for _ in range(6):
        curl(host, f"{BASE}/v2/health/live")
    text = curl(host, f"{BASE}/metrics").body
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith('stackgen_http_requests_total{method="GET",route="/v2/health/live",status="200"}')
    )
    assert float(line.split()[-1]) >= 6


def test_upstream_down_is_502_json(host) -> None:
    units = f"gunicorn-model@{live_release(host)}.socket gunicorn-model@{live_release(host)}.service"
    host.run(f"systemctl stop {units}")
    try:
        reply = curl(host, f"{BASE}/v2/health/ready")
        assert reply.status == 502
        assert reply.json() == {"error": "the application is unavailable"}
        assert reply.headers["content-type"] == "application/json"
        assert_security_headers(reply.headers)
    finally:
        host.run(f"systemctl start {units}")
    for _ in range(30):
        if curl(host, f"{BASE}/v2/health/ready").status == 200:
            break
        host.run("sleep 1")
    assert curl(host, f"{BASE}/v2/health/ready").status == 200
