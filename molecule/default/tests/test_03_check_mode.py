"""Check mode: the converged site reports no change; a deploy of a new bundle reports what
would change, exits 0 and changes nothing."""

from __future__ import annotations

import re

from hostcheck import ansible_playbook, link_target, live_release, running_releases

RECAP = re.compile(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def test_check_mode_reports_no_change(host) -> None:
    result = ansible_playbook("site.yml", "--check", limit=host.backend.host)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = RECAP.findall(result.stdout)
    assert [(changed, failed) for _, changed, _, failed in recap] == [("0", "0")], result.stdout[-3000:]


def test_check_mode_deploy_of_a_new_bundle_reports_and_changes_nothing(host, bundles) -> None:
    live = live_release(host)
    bundles_before = host.run("ls /srv/model/bundles /srv/model/releases").stdout
    new = str(bundles["good"]["release"])
    result = ansible_playbook(
        "deploy.yml",
        "--check",
        "--diff",
        "-e",
        f"app_flask_bundle_dir={bundles['good']['_dir']}",
        limit=host.backend.host,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    (_, changed, _, failed), *_ = RECAP.findall(result.stdout)
    assert (int(changed) > 0, failed) == (True, "0"), result.stdout[-3000:]
    assert f"/srv/model/bundles/{new}" in result.stdout  # names the bundle it would build
    assert f"releases/{new}-" in result.stdout  # and the release `current` would name (diff)
    assert host.run("ls /srv/model/bundles /srv/model/releases").stdout == bundles_before
    assert (live_release(host), running_releases(host)) == (live, [live])
    assert link_target(host, "/srv/model/current") == f"releases/{live}"
