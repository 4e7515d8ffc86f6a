"""Token auth, throttling, the prediction log and model versions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from model_django.predictions.models import ModelVersion, PredictionLog

from .conftest import GOLDEN_ROWS, infer_body

SUPERUSER_SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "app_django" / "files" / "ensure_superuser.py"

pytestmark = pytest.mark.django_db
INFER = "/v2/models/iris/infer"


def post(client: Client, body: object = None, **headers: str):
    return client.post(
        INFER, infer_body(GOLDEN_ROWS) if body is None else body, content_type="application/json", **headers
    )


def test_anonymous_inference_is_401() -> None:
    response = post(Client())
    assert (response.status_code, response.json()) == (
        401,
        {"error": "missing bearer token: send 'Authorization: Bearer <token>'"},
    )
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["X-Release-Id"] == "django-test"
    assert len(response["X-Request-ID"]) == 32
    response = post(Client(HTTP_AUTHORIZATION="Bearer not-a-token"))
    assert (response.status_code, response.json()) == (401, {"error": "invalid bearer token"})
    assert Client().get("/v2/health/ready").status_code == 200


def test_anonymous_inference_when_allowed(settings) -> None:
    settings.ALLOW_ANONYMOUS_INFERENCE = True
    response = post(Client())
    assert response.status_code == 200
    row = PredictionLog.objects.get()
    assert row.caller is None


def test_throttling_per_token_is_429(authed: Client) -> None:
    statuses = [post(authed).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    response = post(authed)
    assert response.status_code == 429
    assert response.json()["error"].startswith("too many requests; retry in ")
    assert int(response["Retry-After"]) > 0
    assert len(response["X-Request-ID"]) == 32
    text = Client().get("/metrics").content.decode()
    assert 'stackgen_http_requests_total{method="POST",route="/v2/models/{name}/infer",status="429"} 2.0' in text


def test_each_inference_adds_exactly_one_log_row(authed: Client, token: str) -> None:
    response = post(authed, HTTP_X_REQUEST_ID="log-row-1")
    assert response.status_code == 200
    row = PredictionLog.objects.get()
    assert (row.request_id, row.model_name, row.model_version, row.status) == ("log-row-1", "iris", "1", 200)
    assert row.route == "/v2/models/{name}/infer"
    assert row.output == [0, 1, 2, 2]
    assert row.caller is not None and row.caller.username == "alice"
    assert len(row.input_digest) == 64
    assert row.latency_ms > 0
    post(authed, {"inputs": []})
    assert PredictionLog.objects.count() == 2
    failed = PredictionLog.objects.order_by("-id").first()
    assert (failed.status, failed.output) == (400, None)
    Client().get("/v2/health/ready")
    assert PredictionLog.objects.count() == 2


def test_a_retried_request_is_logged_once(authed: Client) -> None:
    # A load balancer retrying on a second host sends the same X-Request-ID and body.
    first = post(authed, HTTP_X_REQUEST_ID="retried-1")
    again = post(authed, HTTP_X_REQUEST_ID="retried-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    row = PredictionLog.objects.get()
    assert (row.request_id, row.status, row.output) == ("retried-1", 200, [0, 1, 2, 2])
    # Another body under the same id is another request.
    assert post(authed, infer_body(GOLDEN_ROWS[:1]), HTTP_X_REQUEST_ID="retried-1").status_code == 200
    assert PredictionLog.objects.filter(request_id="retried-1").count() == 2


def test_sampling_rate_zero_logs_nothing(authed: Client, settings) -> None:
    settings.PREDICTION_LOG_SAMPLE_RATE = 0.0
    assert post(authed).status_code == 200
    assert PredictionLog.objects.count() == 0


def test_register_model_is_idempotent(django_model_dir, capsys) -> None:
    call_command("register_model", str(django_model_dir))
    call_command("register_model", str(django_model_dir))
    version = ModelVersion.objects.get()
    assert (version.name, version.version, version.loader) == ("iris", "1", "sklearn")
    assert capsys.readouterr().out.splitlines()[-1].startswith("already registered: iris 1")


def test_ensure_api_token_reads_the_token_from_stdin(monkeypatch, capsys) -> None:
    token = "t" * 32
    for _ in range(2):
        monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
        call_command("ensure_api_token", "api")
    assert capsys.readouterr().out.splitlines() == ["token for api: set", "token for api: unchanged"]
    response = post(Client(HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert response.status_code == 200


def ensure_superuser(monkeypatch, capsys, **wanted: str) -> list[str]:
    """roles/app_django's superuser step, as the role runs it: `shell --command` with the script,
    the name, e-mail and password as JSON on stdin."""
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(wanted) + "\n"))
    call_command("shell", "--verbosity", "0", "--command", SUPERUSER_SCRIPT.read_text())
    return capsys.readouterr().out.splitlines()


def test_the_role_superuser_step_is_idempotent_and_rotates_the_password(monkeypatch, capsys) -> None:
    said = [
        ensure_superuser(monkeypatch, capsys, name="admin", email="admin@example.test", password=password)
        for password in ("a-long-admin-password", "a-long-admin-password", "another-password")
    ]
    assert said == [["changed"], ["ok"], ["changed"]]
    user = get_user_model().objects.get(username="admin")
    assert (user.is_superuser, user.is_staff, user.is_active, user.email) == (True, True, True, "admin@example.test")
    assert user.check_password("another-password") is True
    # An existing user becomes a superuser; an empty e-mail keeps the one it has.
    get_user_model().objects.create_user("ops", email="ops@example.test")
    assert ensure_superuser(monkeypatch, capsys, name="ops", email="", password="p" * 20) == ["changed"]
    ops = get_user_model().objects.get(username="ops")
    assert (ops.is_superuser, ops.is_staff, ops.email) == (True, True, "ops@example.test")
    with pytest.raises(SystemExit, match="must name the superuser and its password"):
        ensure_superuser(monkeypatch, capsys, name="admin", email="", password="")


def test_revoke_api_tokens_keeps_only_the_listed_users(monkeypatch, capsys) -> None:
    users = {name: get_user_model().objects.create_user(name) for name in ("alice", "bob", "carol", "dave")}
    tokens = {name: Token.objects.create(user=users[name]).key for name in ("alice", "bob", "carol")}

    def revoke(stdin: str) -> list[str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        call_command("revoke_api_tokens", "--keep-users-from-stdin")
        return capsys.readouterr().out.splitlines()

    assert revoke("alice\n\n  carol \ndave\n") == ["token for bob: revoked"]
    assert sorted(Token.objects.values_list("user__username", flat=True)) == ["alice", "carol"]
    assert revoke("alice\ncarol\ndave\n") == ["no token revoked"]  # idempotent
    assert get_user_model().objects.filter(username="bob").exists()  # the log still names its callers
    assert post(Client(HTTP_AUTHORIZATION=f"Bearer {tokens['bob']}")).json() == {"error": "invalid bearer token"}
    assert post(Client(HTTP_AUTHORIZATION=f"Bearer {tokens['alice']}")).status_code == 200
    # An empty list keeps no one's token.
    assert revoke("") == ["token for alice: revoked", "token for carol: revoked"]
    assert not Token.objects.exists()
    with pytest.raises(CommandError, match="--keep-users-from-stdin"):
        call_command("revoke_api_tokens")


def test_ensure_api_token_refuses_a_token_no_header_could_carry(monkeypatch) -> None:
    for token in ("t" * 19, "t" * 41, "t" * 10 + " " + "t" * 10, "t" * 20 + "\u00e9"):
        monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
        with pytest.raises(CommandError, match="visible ASCII without spaces"):
            call_command("ensure_api_token", "api")


def test_secret_commands_refuse_an_empty_stdin(monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="first line of stdin"):
        call_command("ensure_api_token", "api")


def test_admin_lists_logs_read_only(admin_client: Client, authed: Client) -> None:
    post(authed, HTTP_X_REQUEST_ID="admin-visible")
    page = admin_client.get("/admin/predictions/predictionlog/")
    assert page.status_code == 200
    assert b"admin-visible" in page.content
    assert admin_client.get("/admin/predictions/predictionlog/add/").status_code == 403
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 200
    assert Client().get("/admin/login/").status_code == 200
