"""Secrets never appear on a command line or in the journal: a watcher (started by prepare.yml,
before the converge) recorded every process's argv during the converge, the TLS changes and
the deploys below, which rotate the superuser's password, change a setting and remove an API user."""

from __future__ import annotations

import base64
import json

from hostcheck import ansible_playbook, curl, link_target

# The scenario's test-only secrets (molecule.yml) and the rotated password used below.
SECRETS = {
    "secret key": "molecule-Zq8v3Lw0pXr7Tn2Ys5Km9Hd4Gb6Fc1Ja8Ue3Wi0Oq7Rt",
    "database password": "molecule-db-password",
    "superuser password": "molecule-admin-password",
    "rotated superuser password": "molecule-rotated-Px7Qe2",
    "alice's token": "a" * 32,
    "bob's token": "b" * 32,
}
WATCH_LOG = "/var/log/cmdline-watch.log"


def live(host) -> str:
    return link_target(host, "/srv/model/current").removeprefix("releases/")


CHECK = """
import sys, django
django.setup()
from django.contrib.auth import get_user_model
print(get_user_model().objects.get(username="admin").check_password(sys.stdin.readline().strip()))
"""


def superuser_password_is(host, password: str) -> bool:
    # The password goes through base64 and stdin: this test must not leak it to argv itself.
    host.run("echo %s | base64 -d > /tmp/checkpw.py", base64.b64encode(CHECK.encode()).decode())
    script = (
        "cd /srv/model/current && set -a && . ./app.env && PYTHONPATH=python && "
        "exec bundle/venv/bin/python /tmp/checkpw.py"
    )
    result = host.run(
        "echo %s | base64 -d | runuser -u model -- sh -c %s", base64.b64encode(password.encode()).decode(), script
    )
    return result.stdout.strip() == "True"


def test_rotating_a_secret_is_a_new_release_through_the_gate(host) -> None:
    before = live(host)
    rotated = ansible_playbook(
        "deploy.yml",
        "-e",
        f"app_django_superuser_password={SECRETS['rotated superuser password']}",
        "-e",
        "app_django_throttle_rate=30/min",
        limit=host.backend.host,
    )
    assert rotated.returncode == 0, rotated.stdout[-4000:]
    assert live(host) != before
    assert superuser_password_is(host, SECRETS["rotated superuser password"]) is True
    assert 'STACKGEN_THROTTLE_RATE="30/min"' in host.file("/srv/model/current/app.env").content_string
    back = ansible_playbook("deploy.yml", limit=host.backend.host)
    assert back.returncode == 0, back.stdout[-4000:]
    assert live(host) == before
    assert superuser_password_is(host, SECRETS["superuser password"]) is True
    assert curl(host, "https://localhost/v2/health/ready").headers["x-release-id"] == before


def bob_has_a_token(host) -> bool:
    sql = "select count(*) from authtoken_token t join auth_user u on u.id = t.user_id where u.username = 'bob'"
    result = host.run("runuser -u postgres -- psql -d model -tAc %s", sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip() == "1"


def test_removing_an_api_user_revokes_its_token(host) -> None:
    # Before the command-line checks below, so that these deploys are watched too.
    assert bob_has_a_token(host) is True
    only_alice = json.dumps({"app_django_api_tokens": [{"user": "alice", "token": SECRETS["alice's token"]}]})
    removed = ansible_playbook("deploy.yml", "-e", only_alice, limit=host.backend.host)
    assert removed.returncode == 0, removed.stdout[-4000:]
    assert bob_has_a_token(host) is False
    bob = "Authorization: Bearer " + SECRETS["bob's token"]
    body = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]})
    reply = curl(host, "https://localhost/v1/models/iris:predict", "-H", bob, data=body)
    assert (reply.status, reply.json()) == (401, {"error": "invalid bearer token"})
    back = ansible_playbook("deploy.yml", limit=host.backend.host)  # bob listed again: a token again
    assert back.returncode == 0, back.stdout[-4000:]
    assert bob_has_a_token(host) is True


def test_no_secret_on_any_command_line(host) -> None:
    assert host.service("cmdline-watch").is_running is True
    lines = host.file(WATCH_LOG).content_string.splitlines()
    # The watcher saw the steps that handle secrets: the converge's and the deploys' commands.
    # The superuser step: its code on the command line, the name and password on stdin.
    assert any("django-admin shell --verbosity 0 --command" in line for line in lines), lines[-50:]
    assert any("django-admin ensure_api_token alice" in line for line in lines)
    assert any("django-admin migrate --noinput" in line for line in lines)
    for name, secret in SECRETS.items():
        leaks = [line for line in lines if secret in line]
        assert leaks == [], f"{name} on a command line: {leaks[:3]}"
    key = host.run("sed -n 2p /tmp/d.key").stdout.strip()  # test_02's provided TLS key
    assert key and not [line for line in lines if key in line]


def test_no_secret_in_the_journal(host) -> None:
    journal = host.run("journalctl --no-pager -o cat").stdout
    assert "ansible" in journal  # the journal does hold the modules' invocations
    for name, secret in SECRETS.items():
        assert secret not in journal, f"{name} in the journal"
    key = host.run("sed -n 2p /tmp/d.key").stdout.strip()
    assert key not in journal
