"""The converged host: units, sockets, files, owners and modes."""

from __future__ import annotations

import re


def test_services_active_and_enabled(host) -> None:
    for unit in ("nginx", "gunicorn-model.socket", "gunicorn-model.service"):
        service = host.service(unit)
        assert service.is_running is True, unit
        assert service.is_enabled is True, unit


def test_nginx_config_is_valid(host) -> None:
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_only_nginx_listens_on_tcp(host) -> None:
    listeners = host.run("ss -Hltnp").stdout.splitlines()
    ports = {re.search(r":(\d+)\s", line).group(1) for line in listeners}
    assert ports == {"80", "443"}
    assert all('"nginx"' in line for line in listeners), listeners
    assert host.socket("tcp://0.0.0.0:80").is_listening is True
    assert host.socket("tcp://0.0.0.0:443").is_listening is True


def test_gunicorn_socket_owner_group_mode(host) -> None:
    sock = host.file("/run/gunicorn/model.sock")
    assert sock.is_socket is True
    assert (sock.user, sock.group, sock.mode) == ("model", "www-data", 0o660)
    assert host.socket("unix:///run/gunicorn/model.sock").is_listening is True


def test_current_points_into_releases(host) -> None:
    current = host.file("/srv/model/current")
    assert current.is_symlink is True
    assert re.fullmatch(r"releases/\d{14}-[0-9a-f]{8}", current.linked_to.removeprefix("/srv/model/")), (
        current.linked_to
    )
    release = host.file(current.linked_to)
    assert (release.user, release.group, release.mode) == ("root", "root", 0o755)
    assert host.file(current.linked_to + "/.complete").exists is True


def test_settings_file_owner_and_mode(host) -> None:
    env = host.file("/srv/model/shared/app.env")
    assert (env.user, env.group, env.mode) == ("root", "model", 0o640)
    assert 'STACKGEN_MODEL_DIR="/srv/model/current/model"' in env.content_string.splitlines()
    state = host.file("/srv/model/shared/state")
    assert (state.user, state.group, state.mode) == ("model", "model", 0o750)


def test_tls_key_owner_and_mode(host) -> None:
    key = host.file("/etc/nginx/tls/server.key")
    assert (key.user, key.group, key.mode) == ("root", "www-data", 0o640)


def test_workers_run_as_the_app_user(host) -> None:
    users = host.run("ps -C gunicorn -o user=").stdout.split()
    assert len(users) >= 2  # master + workers
    assert set(users) == {"model"}


def test_service_is_sandboxed(host) -> None:
    props = dict(
        line.split("=", 1)
        for line in host.run(
            "systemctl show gunicorn-model.service -p NoNewPrivileges -p ProtectSystem -p ProtectHome "
            "-p PrivateTmp -p CapabilityBoundingSet -p Restart -p User"
        ).stdout.splitlines()
    )
    assert props == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "Restart": "on-failure",
        "User": "model",
    }


def test_release_tree_is_read_only_for_the_app(host) -> None:
    result = host.run("runuser -u model -- touch /srv/model/current/model/x")
    assert result.rc == 1
    assert "Permission denied" in result.stderr
