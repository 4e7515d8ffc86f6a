"""The prediction log on the converged host when processes die: gunicorn workers and the spool's
loader get SIGKILL between requests; systemd restarts the loader, gunicorn its workers, and
every answered prediction reaches the database. (Under sustained load and with kills mid-request:
tests/django/test_spool_under_kill.py, on 127.0.0.1.)"""

from __future__ import annotations

import time

from hostcheck import GOLDEN_ROWS, curl, infer_body, link_target

ALICE = "Authorization: Bearer " + "a" * 32
SPOOL = "/srv/model/shared/spool"


def show(host, unit: str, prop: str) -> str:
    return host.run("systemctl show -P %s %s", prop, unit).stdout.strip()


def workers(host, master: str) -> list[str]:
    return host.run("pgrep -P %s", master).stdout.split()


def restarted_loader(host, unit: str, before: str) -> str:
    for _ in range(50):
        pid = show(host, unit, "MainPID")
        if pid not in ("0", before) and show(host, unit, "ActiveState") == "active":
            return pid
        time.sleep(0.2)
    raise AssertionError(f"{unit} was not restarted after SIGKILL")


def test_killed_workers_and_loader_lose_no_answered_prediction(host) -> None:
    release = link_target(host, "/srv/model/current").removeprefix("releases/")
    service, loader = f"gunicorn-model@{release}.service", f"gunicorn-model-companion@{release}.service"
    master = show(host, service, "MainPID")
    loader_pid = show(host, loader, "MainPID")
    restarts = int(show(host, loader, "NRestarts"))
    statuses = {}
    for n in range(10):
        if n in (2, 5, 8):
            victim = workers(host, master)[0]
            assert host.run("kill -9 %s", victim).rc == 0
        if n in (3, 7):
            assert host.run("kill -9 %s", loader_pid).rc == 0
            loader_pid = restarted_loader(host, loader, loader_pid)
        reply = curl(
            host,
            "https://localhost/v2/models/iris/infer",
            "-H",
            ALICE,
            "-H",
            f"X-Request-ID: spool-kill-{n}",
            data=infer_body(GOLDEN_ROWS[:1]),
        )
        statuses[f"spool-kill-{n}"] = reply.status
    assert set(statuses.values()) == {200}, statuses
    assert int(show(host, loader, "NRestarts")) == restarts + 2
    assert show(host, service, "MainPID") == master  # gunicorn replaced its workers itself

    logged: list[str] = []
    for _ in range(75):
        logged = host.run(
            "runuser -u postgres -- psql -d model -tAc %s",
            "select request_id from predictions_predictionlog where request_id like 'spool-kill-%' order by 1",
        ).stdout.split()
        if len(logged) >= len(statuses):
            break
        time.sleep(0.2)
    assert logged == sorted(statuses)

    # The killed workers' files were loaded, then deleted; only live workers still write.
    live = set(workers(host, master))
    for _ in range(25):
        writers = {name.split("-")[0] for name in host.run("ls %s", SPOOL).stdout.split()}
        if writers <= live:
            break
        time.sleep(0.2)
    assert writers <= live, (writers, live)
