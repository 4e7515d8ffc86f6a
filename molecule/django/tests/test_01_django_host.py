"""The Django stack on PostgreSQL, converged: admin, static files, auth, throttling, the log."""

from __future__ import annotations

import json
import re
import time

from hostcheck import GOLDEN_LABELS, GOLDEN_ROWS, ansible_playbook, curl, infer_body, link_target, running_releases

BASE = "https://localhost"
ALICE = "Authorization: Bearer " + "a" * 32
BOB = "Authorization: Bearer " + "b" * 32
ENV = "/srv/model/current/app.env"


def live(host) -> str:
    return link_target(host, "/srv/model/current").removeprefix("releases/")


def psql(host, sql: str) -> str:
    result = host.run("runuser -u postgres -- psql -d model -tAc %s", sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def manage(host, *args: str):
    # The settings the service runs with, as the app user, in the release directory.
    script = (
        'cd /srv/model/current && set -a && . ./app.env && PYTHONPATH=python && exec bundle/venv/bin/django-admin "$@"'
    )
    return host.run("runuser -u model -- sh -c %s manage " + " ".join(args), script)


def wait_for_rows(host, where: str, expected: int, timeout: float = 15) -> int:
    """Rows of the prediction log matching ``where`` once the spool's loader has caught up."""
    deadline = time.monotonic() + timeout
    while True:
        count = int(psql(host, f"select count(*) from predictions_predictionlog where {where}"))
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def test_units_and_database(host) -> None:
    release = live(host)
    assert running_releases(host) == [release]
    for unit in ("postgresql", "nginx", f"gunicorn-model@{release}.socket", f"gunicorn-model@{release}.service"):
        assert host.service(unit).is_running is True, unit
        assert host.service(unit).is_enabled is True, unit
    # The prediction spool's loader runs with the release (pulled in by its gunicorn), as the app.
    loader = host.run("systemctl show -p ActiveState,User,ExecStart gunicorn-model-companion@%s.service", release)
    assert "ActiveState=active" in loader.stdout
    assert "User=model" in loader.stdout
    command = f"/srv/model/releases/{release}/bundle/venv/bin/django-admin drain_prediction_spool --follow"
    assert command in loader.stdout
    spool = host.file("/srv/model/shared/spool")
    assert (spool.user, spool.group, spool.mode) == ("model", "model", 0o750)
    assert 'STACKGEN_PREDICTION_SPOOL="/srv/model/shared/spool"' in host.file(ENV).content_string.splitlines()
    listeners = host.run("ss -Hltn").stdout
    assert re.search(r"127\.0\.0\.1:5432\s", listeners)
    assert not re.search(r"0\.0\.0\.0:5432\s", listeners)


def test_env_file_owner_mode_and_content(host) -> None:
    env = host.file(ENV)
    assert (env.user, env.group, env.mode) == ("root", "model", 0o640)
    lines = env.content_string.splitlines()
    # The role's overlay over the project's settings, as for any project (README: Deploy your own app).
    assert 'DJANGO_SETTINGS_MODULE="stackgen_django_settings"' in lines
    assert 'STACKGEN_DJANGO_PROJECT_SETTINGS="model_django.settings.production"' in lines
    assert 'DJANGO_CSRF_TRUSTED_ORIGINS="https://localhost,https://model.test"' in lines
    assert 'STACKGEN_DB_ENGINE="postgresql"' in lines
    assert any(line.startswith("STACKGEN_SECRET_KEY=") for line in lines)


def test_migrations_applied_and_deploy_checks_clean(host) -> None:
    result = manage(host, "migrate", "--check")
    assert result.rc == 0, result.stdout + result.stderr
    result = manage(host, "check", "--deploy", "--fail-level", "WARNING")
    assert result.rc == 0, result.stdout + result.stderr
    # nginx owns the security headers (production.py): the four checks for them are silenced.
    assert "System check identified no issues (4 silenced)." in result.stdout


def test_admin_login_through_nginx(host) -> None:
    reply = curl(host, f"{BASE}/admin/login/")
    assert reply.status == 200
    assert "Django administration" in reply.body
    assert reply.headers["x-frame-options"] == "DENY"
    # The admin is a browser page: its own scripts and styles are allowed, nothing else.
    assert reply.headers["content-security-policy"].startswith(
        "default-src 'none'; script-src 'self'; style-src 'self'"
    )


def test_admin_css_is_served_by_nginx(host) -> None:
    reply = curl(host, f"{BASE}/static/admin/css/base.css")
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/css"
    assert reply.headers["cache-control"] == "public"
    assert "x-release-id" not in reply.headers  # the app never saw this request
    static = host.file("/srv/model/current/bundle/static/admin/css/base.css")
    assert (static.user, static.mode) == ("root", 0o644)


def test_authenticated_inference_adds_one_log_row(host) -> None:
    before = int(psql(host, "select count(*) from predictions_predictionlog"))
    reply = curl(
        host,
        f"{BASE}/v2/models/iris/infer",
        "-H",
        ALICE,
        "-H",
        "X-Request-ID: molecule-django-1",
        data=infer_body(GOLDEN_ROWS),
    )
    assert reply.status == 200
    assert reply.json()["outputs"][0]["data"] == GOLDEN_LABELS
    assert wait_for_rows(host, "true", before + 1) == before + 1
    row = psql(
        host,
        "select l.request_id, l.status, l.model_name, u.username, l.output::text "
        "from predictions_predictionlog l join auth_user u on u.id = l.caller_id "
        "where l.request_id = 'molecule-django-1'",
    )
    assert row.split("|") == ["molecule-django-1", "200", "iris", "alice", json.dumps(GOLDEN_LABELS)]


def test_model_version_recorded(host) -> None:
    bundle = live(host).rsplit("-", 1)[0]  # the model belongs to the bundle the release runs
    assert psql(host, "select name, version, release from predictions_modelversion") == f"iris|1|{bundle}"


def test_unauthenticated_inference_is_401(host) -> None:
    reply = curl(host, f"{BASE}/v1/models/iris:predict", data=json.dumps({"instances": GOLDEN_ROWS}))
    assert reply.status == 401
    assert reply.json() == {"error": "missing bearer token: send 'Authorization: Bearer <token>'"}


def test_throttling_gives_429(host) -> None:
    statuses = []
    for _ in range(22):
        reply = curl(host, f"{BASE}/v1/models/iris:predict", "-H", BOB, data=json.dumps({"instances": GOLDEN_ROWS}))
        statuses.append(reply.status)
        if reply.status == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {200}
    assert len(statuses) == 21  # 20/min per token
    assert reply.json()["error"].startswith("too many requests; retry in ")


def test_check_mode_reports_no_change(host) -> None:
    result = ansible_playbook("site.yml", "--check", limit=host.backend.host)
    assert result.returncode == 0, result.stdout[-3000:]
    recap = re.findall(r"changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", result.stdout)
    assert recap == [("0", "0")], result.stdout[-3000:]
