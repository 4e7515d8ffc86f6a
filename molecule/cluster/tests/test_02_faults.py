"""Faults: a lost database answers JSON 503 and recovers by itself; under 8 clients, a lost app
host (its gunicorn stopped, then the whole host) costs no request, and rejoins within 10 s of
answering again."""

from __future__ import annotations

import time

from fleet import AUTH, INFER, INFER_PATH, Load, curl, direct, docker, host_time, infer, served, wait_until
from hostcheck import socket_release


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
    app1 = apps[0]
    live = socket_release(app1)
    unit = f"gunicorn-model@{live}"
    since = host_time(lb)
    with Load(lb, clients=8, url=INFER, headers=AUTH) as load:
        # gunicorn stopped on app1: its nginx answers 502, the load balancer retries on app2.
        assert app1.run("systemctl stop %s %s", f"{unit}.socket", f"{unit}.service").rc == 0
        time.sleep(6)
        assert app1.run("systemctl start %s %s", f"{unit}.socket", f"{unit}.service").rc == 0
        wait_until(lambda: direct(lb, "stackgen-cluster-app1").status == 200, 60)
        back = host_time(app1)
        took = wait_until(lambda: any(e["status"] == 200 for e in served(app1, back, INFER_PATH)), 10)
        print(f"app1 rejoined {took:.1f} s after its gunicorn answered again")
        # Then the whole app1 host stopped (its systemd shuts nginx and gunicorn down), and started.
        docker("stop", "stackgen-cluster-app1")
        time.sleep(6)
        docker("start", "stackgen-cluster-app1")
        wait_until(lambda: direct(lb, "stackgen-cluster-app1").status == 200, 90)
        back = host_time(app1)
        took = wait_until(lambda: any(e["status"] == 200 for e in served(app1, back, INFER_PATH)), 10)
        print(f"app1 rejoined {took:.1f} s after the restarted host answered again")
        time.sleep(3)
    print(load.summary["status"], load.summary["seconds"], "s")
    assert set(load.statuses) == {"200"}, load.statuses
    assert load.summary["seconds"] >= 30 and load.statuses["200"] > 500, load.summary
    # The retries really happened: answers whose first attempt failed on app1 (502 from its
    # nginx, or no connection) and succeeded on the next host.
    retried = [e for e in served(lb, since, INFER_PATH) if "," in e["upstream_status"] and e["status"] == 200]
    assert retried, "no request was retried on another app host"
