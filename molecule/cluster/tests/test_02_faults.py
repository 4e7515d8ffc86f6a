"""Faults under load: a lost database answers JSON 503 and recovers by itself; a lost app host
(its gunicorn stopped, then the whole host) costs no request, and rejoins within 10 s."""

from __future__ import annotations

import time

from fleet import AUTH, INFER, Load, curl, direct, docker, host_time, served, wait_until
from hostcheck import GOLDEN_ROWS, infer_body, socket_release

INFER_PATH = "/v2/models/iris/infer"  # the load's requests, not the direct readiness probes


def infer(lb):
    return curl(lb, INFER, "-H", f"Authorization: {AUTH['Authorization']}", data=infer_body(GOLDEN_ROWS))


def test_lost_database_answers_503_and_recovers(lb, db) -> None:
    assert db.run("systemctl stop postgresql").rc == 0
    try:
        reply = infer(lb)
        assert reply.status == 503, (reply.status, reply.body)
        assert reply.headers["content-type"] == "application/json"
        assert "database" in reply.json()["error"], reply.body
        ready = curl(lb, "https://localhost/v2/health/ready")
        assert ready.status == 503, (ready.status, ready.body)
        assert ready.json()["ready"] is False and "database" in ready.json()["error"], ready.body
    finally:
        assert db.run("systemctl start postgresql").rc == 0
    # Back by itself: no restart of anything on the app hosts.
    wait_until(lambda: infer(lb).status == 200, 20)
    assert curl(lb, "https://localhost/v2/health/ready").status == 200


def test_lost_app_host_costs_no_request(lb, apps) -> None:
    app1, app2 = apps
    live = socket_release(app1)
    unit = f"gunicorn-model@{live}"
    with Load(lb, clients=8, url=INFER, headers=AUTH) as load:
        # gunicorn stopped on app1: its nginx answers 502, the load balancer retries on app2.
        assert app1.run("systemctl stop %s %s", f"{unit}.socket", f"{unit}.service").rc == 0
        time.sleep(6)
        assert app1.run("systemctl start %s %s", f"{unit}.socket", f"{unit}.service").rc == 0
        wait_until(lambda: direct(lb, "stackgen-cluster-app1").status == 200, 60)
        back = host_time(app1)
        took = wait_until(lambda: any(e["status"] == 200 for e in served(app1, back, INFER_PATH)), 10)
        print(f"app1 rejoined {took:.1f} s after its gunicorn answered again")
        # The whole app2 host stopped (its systemd shuts nginx and gunicorn down), then started.
        docker("stop", "stackgen-cluster-app2")
        time.sleep(6)
        docker("start", "stackgen-cluster-app2")
        wait_until(lambda: direct(lb, "stackgen-cluster-app2").status == 200, 60)
        back = host_time(app2)
        took = wait_until(lambda: any(e["status"] == 200 for e in served(app2, back, INFER_PATH)), 10)
        print(f"app2 rejoined {took:.1f} s after it answered again")
        time.sleep(3)
    print(load.summary["status"], load.summary["seconds"], "s")
    assert set(load.statuses) == {"200"}, load.statuses
    assert load.statuses["200"] > 500
