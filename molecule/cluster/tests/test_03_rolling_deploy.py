"""A rolling deploy of a new bundle under 8 clients: one app host at a time, each drained from
the load balancer before its switch and restored after, migrations once for the cluster before
the first switch, no request lost, and at every moment at least one app host serving. Check
mode first: it reports the change and changes nothing."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from fleet import ADDRESSES, APP_HOSTS, AUTH, CLIENT_CERT, INFER, RENDERED, Load, direct, infer
from hostcheck import ansible_playbook, build_bundle, socket_release

from stackgen.render import APP_HOST_PORT, APP_TIER_NAME

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Each app host's readiness, straight from the load balancer with its certificate, every 0.2 s:
# 200 serving, 000 closed unanswered (drained).
SAMPLER = (
    "while [ ! -e /tmp/sample.stop ]; do line=$(date +%s.%N);"
    + "".join(
        f" line=\"$line $(curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 -H 'Host: localhost'"
        f" --resolve {APP_TIER_NAME}:{APP_HOST_PORT}:{ADDRESSES[app]} {' '.join(CLIENT_CERT)}"
        f' https://{APP_TIER_NAME}:{APP_HOST_PORT}/v2/health/ready)";'
        for app in APP_HOSTS
    )
    + ' echo "$line" >> /tmp/samples; sleep 0.2; done'
)


def task_results(output: str, task: str) -> dict[str, str]:
    """host -> ok/changed/skipping for every run of a task, whichever role ran it (serial: one
    block per batch)."""
    results: dict[str, str] = {}
    for block in re.split(r"\n(?=TASK \[)", output):
        if block.startswith("TASK [") and block.split("]", 1)[0].endswith(f" : {task}"):
            for status, host in re.findall(r"^(ok|changed|skipping): \[([^\]]+)\]", block, re.M):
                results[host] = status
    return results


def bundle_of(release: str) -> str:
    return release.rsplit("-", 1)[0]


def deploy(bundle: dict[str, object], *args: str):
    return ansible_playbook("deploy.yml", "-e", f"app_django_bundle_dir={bundle['_dir']}", *args, directory=RENDERED)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A new bundle of the Django service: check mode reports it, then the rolling deploy ships it."""
    return build_bundle(tmp_path_factory.mktemp("next"), "--extra", "django")


def assert_deploy_check_reports_the_bundle_and_changes_nothing(bundle, apps) -> None:
    live = [socket_release(app) for app in apps]
    result = deploy(bundle, "--check")
    assert result.returncode == 0, result.stdout[-4000:]
    recap = {host: (int(changed), int(failed)) for host, _, changed, _, failed in RECAP.findall(result.stdout)}
    assert set(recap) == set(APP_HOSTS) and all(c > 0 and f == 0 for c, f in recap.values()), recap
    assert [socket_release(app) for app in apps] == live
    for app in apps:
        assert app.run("test -e /srv/model/bundles/%s", str(bundle["release"])).rc == 1


def assert_site_check_reports_no_change() -> None:
    result = ansible_playbook("site.yml", "--check", directory=RENDERED)
    assert result.returncode == 0, result.stdout[-4000:]
    recap = {host: (int(changed), int(failed)) for host, _, changed, _, failed in RECAP.findall(result.stdout)}
    assert len(recap) == 4 and set(recap.values()) == {(0, 0)}, result.stdout[-4000:]


def test_check_mode_then_a_rolling_deploy_that_loses_no_request(bundle, lb, apps) -> None:
    """One test, so that the order holds: check mode sees the converged state and the new bundle
    before the rolling deploy ships it."""
    assert_site_check_reports_no_change()
    assert_deploy_check_reports_the_bundle_and_changes_nothing(bundle, apps)

    old = {bundle_of(socket_release(app)) for app in apps}  # release ids are salted per host
    assert len(old) == 1
    lb.run("rm -f /tmp/samples /tmp/sample.stop")
    lb.run("systemd-run --quiet --collect --unit=stackgen-sampler sh -c %s", SAMPLER)
    try:
        with Load(lb, clients=8, url=INFER, headers=AUTH) as load:
            result = deploy(bundle)
    finally:
        lb.run("touch /tmp/sample.stop; sleep 1")
    assert result.returncode == 0, result.stdout[-5000:]

    # Both hosts serve the new bundle's release, and answer with its id.
    live = [socket_release(app) for app in apps]
    assert {bundle_of(r) for r in live} == {str(bundle["release"])}, (old, live)
    for app, release in zip(APP_HOSTS, live, strict=True):
        assert direct(lb, app).headers["x-release-id"] == release

    # No request lost; clients saw the old bundle's releases, then the new one's.
    assert set(load.statuses) == {"200"}, load.statuses
    assert {bundle_of(r) for r in load.releases} == old | {str(bundle["release"])}, load.releases

    # Each host was drained once for its switch, never both at once.
    samples = [line.split()[1:] for line in lb.run("cat /tmp/samples").stdout.splitlines()]
    assert len(samples) > 20, samples
    assert {code for pair in samples for code in pair} == {"200", "000"}, samples
    assert all("200" in pair for pair in samples), [p for p in samples if "200" not in p]
    drained = [[pair[i] == "000" for pair in samples] for i in range(2)]
    assert all(any(column) for column in drained), "a host was switched without being drained"
    assert drained[0].index(True) < drained[1].index(True)  # host by host, app1 first

    # Migrations (and the other database steps) ran once, on the first app host, before any switch.
    assert task_results(result.stdout, "Apply migrations") == {
        "stackgen-cluster-app1": "ok",
        "stackgen-cluster-app2": "skipping",
    }, result.stdout[-5000:]
    migrate = result.stdout.index(" : Apply migrations]")
    first_switch = result.stdout.index(" : Point current at the release")
    assert migrate < first_switch


def test_a_retried_inference_leaves_one_prediction_log_row(lb, db) -> None:
    """The load balancer sends a retry with the same X-Request-ID and body: answered twice,
    logged once."""
    request_id = f"retry-{uuid.uuid4().hex}"
    for _ in range(2):
        reply = infer(lb, request_id)
        assert reply.status == 200, (reply.status, reply.body)
    query = f"SELECT count(*) FROM predictions_predictionlog WHERE request_id = '{request_id}'"
    # Each app host's spool loader inserts its line within a fraction of a second of the answer.
    for _ in range(50):
        if db.run("runuser -u postgres -- psql -d model -tAc %s", query).stdout.strip() != "0":
            break
        time.sleep(0.2)
    time.sleep(2)  # time for the other line, on whichever host, to be loaded too
    rows = db.run("runuser -u postgres -- psql -d model -tAc %s", query).stdout.strip()
    assert rows == "1"
