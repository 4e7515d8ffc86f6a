"""Redeploys under load: a new release goes live without a failed request, and a
broken one is rolled back automatically while the old one keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostcheck import ansible_playbook, build_bundle, curl

LOAD = (
    "rm -f /tmp/load.stop /tmp/load.log; "
    "nohup sh -c 'while [ ! -f /tmp/load.stop ]; do "
    "curl -sk --max-time 60 -o /dev/null "
    '-w "%{http_code} %header{x-release-id}\\n" https://localhost/v2/health/ready; '
    "done >> /tmp/load.log' >/dev/null 2>&1 &"
)


def load_results(host) -> list[tuple[str, str]]:
    host.run("touch /tmp/load.stop; sleep 1")
    return [tuple(line.split(" ", 1)) for line in host.file("/tmp/load.log").content_string.splitlines()]


def live_release(host) -> str:
    return curl(host, "https://localhost/v2").json()["release"]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    good = build_bundle(tmp_path_factory.mktemp("good"))
    broken = build_bundle(tmp_path_factory.mktemp("broken"), "--env", "STACKGEN_LOG_LEVEL=LOUD")
    return {"good": good, "broken": broken}


def test_redeploy_switches_release_without_failed_requests(host, releases) -> None:
    before = live_release(host)
    new = str(releases["good"]["release"])
    assert new != before
    host.run(LOAD)
    result = ansible_playbook(
        "deploy.yml", "-e", f"app_flask_bundle_dir={Path(str(releases['good']['_dir']))}", limit=host.backend.host
    )
    results = load_results(host)
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(results) > 10
    assert {code for code, _ in results} == {"200"}, results
    assert results[-1] == ("200", new)
    assert {release for _, release in results} <= {before, new}
    assert live_release(host) == new
    assert host.file("/srv/model/current").linked_to == f"/srv/model/releases/{new}"


def test_broken_release_is_rolled_back_while_old_keeps_serving(host, releases) -> None:
    live = live_release(host)
    broken = str(releases["broken"]["release"])
    host.run(LOAD)
    result = ansible_playbook(
        "deploy.yml", "-e", f"app_flask_bundle_dir={Path(str(releases['broken']['_dir']))}", limit=host.backend.host
    )
    results = load_results(host)
    assert result.returncode == 2
    assert f"Release {broken} failed its health check" in result.stdout
    assert f"rolled back automatically to {live}" in result.stdout
    assert host.file("/srv/model/current").linked_to == f"/srv/model/releases/{live}"
    assert live_release(host) == live
    assert {code for code, _ in results} == {"200"}, results
    assert {release for _, release in results} == {live}
    assert host.file(f"/srv/model/releases/{broken}/.complete").exists is False


def test_rollback_playbook_reads_the_symlink(host) -> None:
    live = live_release(host)
    result = ansible_playbook("rollback.yml", limit=host.backend.host)
    assert result.returncode == 0, result.stdout[-3000:]
    previous = live_release(host)
    assert previous != live
    assert previous < live
    result = ansible_playbook("rollback.yml", "-e", f"app_release_rollback_to={live}", limit=host.backend.host)
    assert result.returncode == 0, result.stdout[-3000:]
    assert live_release(host) == live
