"""The converged host: units, sockets, files, owners and modes."""

from __future__ import annotations

import re

from hostcheck import RELEASE_ID, link_target, running_releases, socket_release


def live(host) -> str:
    return link_target(host, "/srv/model/current").removeprefix("releases/")


def test_one_release_runs_and_starts_at_boot(host) -> None:
    release = live(host)
    assert re.fullmatch(RELEASE_ID, release), release
    assert running_releases(host) == [release]
    assert socket_release(host) == release
    for unit in ("nginx", f"gunicorn-model@{release}.socket", f"gunicorn-model@{release}.service"):
        service = host.service(unit)
        assert service.is_running is True, unit
        assert service.is_enabled is True, unit
    wants = host.run("ls /etc/systemd/system/multi-user.target.wants /etc/systemd/system/sockets.target.wants").stdout
    assert sorted(re.findall(r"gunicorn-model@\S+", wants)) == [
        f"gunicorn-model@{release}.service",
        f"gunicorn-model@{release}.socket",
    ]


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


def test_release_socket_owner_group_mode(host) -> None:
    path = f"/run/gunicorn/model/{live(host)}.sock"
    sock = host.file(path)
    assert sock.is_socket is True
    assert (sock.user, sock.group, sock.mode) == ("model", "www-data", 0o660)
    assert host.socket(f"unix://{path}").is_listening is True


def test_release_layout_owners_and_modes(host) -> None:
    release = live(host)
    bundle = release.rsplit("-", 1)[0]
    assert link_target(host, f"/srv/model/releases/{release}/bundle") == f"../../bundles/{bundle}"
    for path, owner, group, mode in (
        (f"/srv/model/releases/{release}", "root", "root", 0o755),
        (f"/srv/model/bundles/{bundle}", "root", "root", 0o755),
        (f"/srv/model/releases/{release}/app.env", "root", "model", 0o640),
        (f"/srv/model/releases/{release}/gunicorn.conf.py", "root", "model", 0o640),
        (f"/etc/systemd/system/gunicorn-model@{release}.service", "root", "root", 0o644),
        ("/srv/model/.release-salt", "root", "root", 0o600),
        ("/srv/model/shared/state", "model", "model", 0o750),
    ):
        f = host.file(path)
        assert (f.user, f.group, f.mode) == (owner, group, mode), path
    assert host.file(f"/srv/model/releases/{release}/.healthy").content_string == release + "\n"
    assert host.file(f"/srv/model/bundles/{bundle}/.complete").content_string == bundle + "\n"


def test_settings_are_part_of_the_release(host) -> None:
    env = host.file(f"/srv/model/releases/{live(host)}/app.env").content_string.splitlines()
    assert 'STACKGEN_MODEL_DIR="bundle/model"' in env
    assert 'STACKGEN_LOG_LEVEL="INFO"' in env
    assert host.file("/srv/model/shared/app.env").exists is False


def test_tls_key_owner_and_mode(host) -> None:
    key = host.file("/etc/nginx/tls/server.key")
    assert (key.user, key.group, key.mode) == ("root", "www-data", 0o640)


def test_workers_run_as_the_app_user(host) -> None:
    users = host.run("ps -C gunicorn -o user=").stdout.split()
    assert len(users) >= 2  # master + workers
    assert set(users) == {"model"}


def test_the_model_service_runs_gthread_with_16_threads(host) -> None:
    # app_flask_threads: batching groups only what one worker holds at once (README, Performance).
    conf = host.file(f"/srv/model/releases/{live(host)}/gunicorn.conf.py").content_string.splitlines()
    assert [line for line in conf if line.startswith(("worker_class =", "threads ="))] == [
        'worker_class = "gthread"',
        "threads = 16",
    ]


def test_service_is_sandboxed(host) -> None:
    props = dict(
        line.split("=", 1)
        for line in host.run(
            f"systemctl show gunicorn-model@{live(host)}.service -p NoNewPrivileges -p ProtectSystem -p ProtectHome "
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
    result = host.run("runuser -u model -- touch /srv/model/current/bundle/model/x")
    assert result.rc == 1
    assert "Permission denied" in result.stderr
