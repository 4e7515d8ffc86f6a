"""The release gate under load: four clients send real inference requests through nginx
during every change, and every change must lose none of them.

(a) a good deploy, (b) a release that starts and reports ready but fails inference, (c) a release
that crashes at start, (d) a settings-only change with a bad value (and then a good one),
(e) rollback.yml, (f) a run killed right after the switch, then rerun. Plus truthful reruns:
a live release that died is started again, never reported ok.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import FOREIGN_TOKEN
from hostcheck import (
    REPO,
    Load,
    ansible_playbook,
    link_target,
    live_release,
    running_releases,
    socket_release,
)

SETTINGS = {"STACKGEN_MODEL_DIR": "bundle/model", "STACKGEN_PROXY_HOPS": "1", "STACKGEN_AUTH": "off"}


def settings(level: str) -> str:
    return json.dumps({"app_flask_env": {**SETTINGS, "STACKGEN_LOG_LEVEL": level}})


def deploy(host, bundle: dict[str, object], *args: str, playbook: str = "deploy.yml"):
    return ansible_playbook(playbook, "-e", f"app_flask_bundle_dir={bundle['_dir']}", *args, limit=host.backend.host)


def assert_no_request_lost(load: Load, releases: set[str]) -> None:
    assert load.statuses == {"200": sum(load.statuses.values())}, load.summary
    assert sum(load.statuses.values()) > 20, load.summary
    assert load.releases <= releases, load.summary


def assert_serving_only(host, release: str) -> None:
    assert live_release(host) == release
    assert socket_release(host) == release
    assert running_releases(host) == [release]
    assert link_target(host, "/srv/model/current") == f"releases/{release}"
    wants = host.run("ls /etc/systemd/system/multi-user.target.wants /etc/systemd/system/sockets.target.wants").stdout
    assert sorted(w for w in wants.split() if w.startswith("gunicorn-model")) == [
        f"gunicorn-model@{release}.service",
        f"gunicorn-model@{release}.socket",
    ]


def test_a_good_deploy_moves_traffic_without_losing_a_request(host, bundles) -> None:
    before = live_release(host)
    with Load(host) as load:
        result = deploy(host, bundles["good"])
    assert result.returncode == 0, result.stdout[-4000:]
    new = live_release(host)
    assert new.startswith(str(bundles["good"]["release"]) + "-")
    assert_no_request_lost(load, {before, new})
    assert load.last_releases() == {new}
    assert_serving_only(host, new)
    assert link_target(host, "/srv/model/previous") == f"releases/{before}"
    assert host.file(f"/srv/model/releases/{new}/.healthy").exists is True


def test_b_release_that_is_ready_but_fails_inference_gets_no_traffic(host, bundles) -> None:
    live = live_release(host)
    with Load(host) as load:
        result = deploy(host, bundles["ready_but_failing"])
    assert result.returncode == 2, result.stdout[-4000:]
    assert "failed its smoke test and got no traffic" in result.stdout
    assert "smoke request POST /v2/models/iris/infer" in result.stdout
    assert "answered 401 (expected 200" in result.stdout
    assert f"release {live} keeps serving" in result.stdout
    assert FOREIGN_TOKEN not in result.stdout
    assert_no_request_lost(load, {live})
    assert_serving_only(host, live)
    failed = host.run("ls /srv/model/releases").stdout.split()
    broken = [r for r in failed if r.startswith(str(bundles["ready_but_failing"]["release"]))]
    assert len(broken) == 1
    assert host.file(f"/srv/model/releases/{broken[0]}/.healthy").exists is False


def test_c_release_that_crashes_at_start_gets_no_traffic_and_the_cause_is_named(host, bundles) -> None:
    live = live_release(host)
    with Load(host) as load:
        result = deploy(host, bundles["crashing"])
    assert result.returncode == 2, result.stdout[-4000:]
    assert "failed its smoke test and got no traffic" in result.stdout
    assert "STACKGEN_LOG_LEVEL='LOUD' is not allowed" in result.stdout  # from the unit's journal
    assert_no_request_lost(load, {live})
    assert_serving_only(host, live)


def test_d_settings_only_change_goes_through_the_same_gate(host, bundles) -> None:
    live = live_release(host)
    bundle = str(bundles["good"]["release"])
    with Load(host) as load:
        bad = deploy(host, bundles["good"], "-e", settings("LOUD"), playbook="site.yml")
    assert bad.returncode == 2, bad.stdout[-4000:]
    assert "STACKGEN_LOG_LEVEL='LOUD' is not allowed" in bad.stdout
    assert_no_request_lost(load, {live})
    assert_serving_only(host, live)

    with Load(host) as load:
        good = deploy(host, bundles["good"], "-e", settings("WARNING"))
    assert good.returncode == 0, good.stdout[-4000:]
    new = live_release(host)
    assert new != live and new.startswith(bundle + "-")  # same bundle, new settings: a new release
    assert_no_request_lost(load, {live, new})
    assert_serving_only(host, new)
    assert 'STACKGEN_LOG_LEVEL="WARNING"' in host.file(f"/srv/model/releases/{new}/app.env").content_string


def test_e_rollback_switches_back_without_losing_a_request(host) -> None:
    live = live_release(host)
    previous = link_target(host, "/srv/model/previous").removeprefix("releases/")
    assert previous != live
    with Load(host) as load:
        result = ansible_playbook("rollback.yml", limit=host.backend.host)
    assert result.returncode == 0, result.stdout[-4000:]
    assert_no_request_lost(load, {live, previous})
    assert_serving_only(host, previous)
    # The release it replaced becomes previous: rolling back again returns to it.
    assert link_target(host, "/srv/model/previous") == f"releases/{live}"


def test_f_run_killed_right_after_the_switch_is_completed_by_a_rerun(host, bundles) -> None:
    live = live_release(host)
    args = ["-e", f"app_flask_bundle_dir={bundles['good']['_dir']}", "-e", settings("ERROR")]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(REPO / "playbooks" / "deploy.yml"),
        "--limit",
        host.backend.host,
        *args,
    ]
    with Load(host) as load:
        run = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 240
        while socket_release(host) == live and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGKILL)  # right after `current` moved, before the old release drained
        run.wait()
        switched_to = socket_release(host)
        time.sleep(2)
        rerun = ansible_playbook("deploy.yml", *args, limit=host.backend.host)
    assert switched_to != live, "the run ended before it switched"
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert_no_request_lost(load, {live, switched_to})
    assert_serving_only(host, switched_to)


def test_a_live_release_that_died_is_started_again_by_a_rerun(host, bundles) -> None:
    live = live_release(host)
    host.run(f"systemctl stop gunicorn-model@{live}.socket gunicorn-model@{live}.service")
    args = ["-e", settings("ERROR")]
    result = deploy(host, bundles["good"], *args)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "changed=0" not in result.stdout  # starting it again is a change, never a silent ok
    assert_serving_only(host, live)
    again = deploy(host, bundles["good"], *args)
    assert "changed=0" in again.stdout and again.returncode == 0, again.stdout[-3000:]


def test_a_failed_first_release_fails_every_rerun_with_its_cause(host, bundles) -> None:
    # A second app on this host whose only release crashes at start: nothing of it ever served,
    # so no run may report success for it, and the model service is not touched.
    live = live_release(host)
    args = ["-e", "app_flask_name=probe", "-e", f"app_flask_bundle_dir={bundles['crashing']['_dir']}"]
    try:
        for _ in range(2):
            result = ansible_playbook("site.yml", *args, limit=host.backend.host)
            assert result.returncode == 2, result.stdout[-3000:]
            assert "nothing serves probe: no release of it is live yet" in result.stdout
            assert "STACKGEN_LOG_LEVEL='LOUD' is not allowed" in result.stdout
            assert running_releases(host, "probe") == []
            assert host.file("/srv/probe/current").exists is False
        assert_serving_only(host, live)
    finally:
        host.run(
            "systemctl stop 'gunicorn-probe@*'; rm -rf /srv/probe /etc/systemd/system/gunicorn-probe@*; "
            "systemctl daemon-reload; userdel probe"
        )
