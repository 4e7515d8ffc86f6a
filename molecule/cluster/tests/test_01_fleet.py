"""The converged fleet: traffic crosses hosts only over TLS verified against the private CA,
app hosts answer only the load balancer, PostgreSQL only the app hosts, and X-Forwarded-For
is trusted only from the load balancer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fleet import ADDRESSES, APP_HOSTS, CLIENT_CERT, curl, direct, get, host_time, infer, served
from hostcheck import GOLDEN_LABELS

from stackgen.render import APP_HOST_PORT, APP_TIER_NAME


def test_load_balancer_spreads_inference_over_both_app_hosts(lb, apps) -> None:
    since = host_time(lb)
    tag = uuid.uuid4().hex[:12]
    for n in range(12):
        reply = infer(lb, f"{tag}-{n}")
        assert reply.status == 200, (reply.status, reply.body)
        assert [o["data"] for o in reply.json()["outputs"] if o["name"] == "label"] == [GOLDEN_LABELS]
    per_host = [
        sorted(e["request_id"] for e in served(app, since) if e["request_id"].startswith(tag) and e["status"] == 200)
        for app in apps
    ]
    assert all(per_host), per_host  # both app hosts answered some
    assert sorted(per_host[0] + per_host[1]) == sorted(f"{tag}-{n}" for n in range(12))  # each exactly once


def test_app_host_answers_the_load_balancers_certificate(lb) -> None:
    for app in APP_HOSTS:
        reply = direct(lb, app)
        assert (reply.exit_code, reply.status) == (0, 200), (app, reply)


def get_other(app: str):
    return get(next(other for other in APP_HOSTS if other != app))


def test_app_hosts_refuse_everyone_else(db, lb) -> None:
    for app in APP_HOSTS:
        address = ADDRESSES[app]
        # TLS without a client certificate: the connection closes with no answer (curl 52, empty reply).
        no_cert = db.run(
            "curl -sk --max-time 10 -o /dev/null -w '%%{http_code}' https://%s:8443/v2/health/ready", address
        )
        assert (no_cert.rc, no_cert.stdout) == (52, "000"), (app, no_cert.rc, no_cert.stdout, no_cert.stderr)
        # A certificate from another CA: refused in the handshake (curl 56: the peer reset it,
        # or 35: TLS alert), never an HTTP answer.
        db.run(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=intruder "
            "-keyout /tmp/intruder.key -out /tmp/intruder.crt 2>/dev/null"
        )
        foreign = db.run(
            "curl -sk --max-time 10 --cert /tmp/intruder.crt --key /tmp/intruder.key -o /dev/null -w '%%{http_code}' "
            "https://%s:8443/v2/health/ready",
            address,
        )
        assert foreign.rc != 0 and foreign.stdout == "000", (app, foreign.rc, foreign.stdout)
        # Certificates of the private CA that are not the load balancer's: the database host's own,
        # and the other app host's (they may serve TLS, not act as its client).
        for peer, name in ((db, "db"), (get_other(app), "other app host")):
            own = curl(
                peer,
                f"https://{APP_TIER_NAME}:{APP_HOST_PORT}/v2/health/ready",
                "--resolve",
                f"{APP_TIER_NAME}:{APP_HOST_PORT}:{address}",
                *CLIENT_CERT,
            )
            assert (own.exit_code != 0, own.status) == (True, 0), (app, name, own)
        # No plain HTTP port and no gunicorn port at all.
        for port in (80, 8000):
            plain = db.run("curl -s --max-time 10 -o /dev/null http://%s:%s/", address, str(port))
            assert plain.rc == 7, (app, port, plain.rc)  # connection refused


def test_app_hosts_listen_only_where_the_load_balancer_connects(apps) -> None:
    for app in apps:
        # (127.0.0.11 is Docker's own name server inside the container.)
        listening = [line.split()[3] for line in app.run("ss -Hltn").stdout.splitlines() if line.strip()]
        ports = sorted({address.rsplit(":", 1)[1] for address in listening if not address.startswith("127.0.0.11:")})
        assert ports == ["8443"], listening


def test_forwarded_for_is_trusted_only_from_the_load_balancer(lb, apps) -> None:
    since = host_time(lb)
    request_id = uuid.uuid4().hex
    reply = curl(
        lb,
        "https://localhost/v2/health/ready",
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "-H",
        f"X-Request-ID: {request_id}",
    )
    assert reply.status == 200
    # The load balancer (the edge) drops the client's claim and names its peer (here curl on
    # the load balancer itself); the app host keeps that and adds the load balancer's address.
    (edge,) = [e for e in served(lb, since) if e["request_id"] == request_id]
    assert edge["forwarded_for"] == "127.0.0.1"
    (inner,) = [e for app in apps for e in served(app, since) if e["request_id"] == request_id]
    assert inner["forwarded_for"] == f"127.0.0.1, {ADDRESSES['stackgen-cluster-lb']}"


def test_database_admits_only_the_app_hosts_over_tls(db) -> None:
    rules = [
        line.split()
        for line in db.run("cat /etc/postgresql/*/main/pg_hba.conf").stdout.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert sorted(rules) == sorted(
        [
            ["local", "all", "postgres", "peer"],
            ["local", "all", "all", "peer"],
            ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
            ["host", "all", "all", "::1/128", "scram-sha-256"],
            ["hostssl", "model", "model", f"{ADDRESSES['stackgen-cluster-app1']}/32", "scram-sha-256"],
            ["hostssl", "model", "model", f"{ADDRESSES['stackgen-cluster-app2']}/32", "scram-sha-256"],
        ]
    )
    # Every connection the app hosts hold is encrypted.
    sessions = db.run(
        "runuser -u postgres -- psql -d model -tAc "
        '"SELECT host(a.client_addr), s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) '
        "WHERE a.usename = 'model'\""
    ).stdout.split()
    assert sessions, "the app hosts hold no database connection"
    assert {row.split("|")[1] for row in sessions} == {"t"}, sessions
    assert {row.split("|")[0] for row in sessions} <= {ADDRESSES[a] for a in APP_HOSTS}, sessions


def test_app_host_verifies_the_database_certificate(apps) -> None:
    for app in apps:
        # Only these lines: the file holds secrets, and test output is logged.
        env = app.run("grep -E '^STACKGEN_DB_SSL' /srv/model/current/app.env").stdout.splitlines()
        assert env == ['STACKGEN_DB_SSLMODE="verify-full"', 'STACKGEN_DB_SSLROOTCERT="/etc/stackgen/pki/ca.crt"']
        # verify-full checks the name: the database's address under a name its certificate lacks
        # (Docker's network-qualified alias) is refused before any password is sent.
        wrong_name = app.run(
            "/srv/model/current/bundle/venv/bin/python -c "
            "\"import psycopg; psycopg.connect(host='stackgen-cluster-db.stackgen-cluster', dbname='model', "
            "user='model', sslmode='verify-full', sslrootcert='/etc/stackgen/pki/ca.crt', connect_timeout=5)\""
        )
        assert wrong_name.rc == 1 and "does not match host name" in wrong_name.stderr, wrong_name.stderr[-500:]
        # Without TLS the database refuses the app host before any password is asked.
        plain = app.run(
            "/srv/model/current/bundle/venv/bin/python -c "
            "\"import psycopg; psycopg.connect(host='stackgen-cluster-db', dbname='model', user='model', "
            "sslmode='disable', connect_timeout=5)\""
        )
        assert plain.rc == 1 and "no encryption" in plain.stderr, plain.stderr[-500:]


def test_host_certificates_and_keys(lb, apps, db) -> None:
    # Only the load balancer may be a client of the app tier; only app hosts carry its name.
    expected = {"lb": ("TLS Web Client Authentication", False), "app": ("TLS Web Server Authentication", True)}
    expected["db"] = ("TLS Web Server Authentication", False)
    for role, host in (("lb", lb), ("app", apps[0]), ("app", apps[1]), ("db", db)):
        key = host.file("/etc/stackgen/pki/host.key")
        assert (key.user, key.group, key.mode) == ("root", "ssl-cert", 0o640)
        cert = host.file("/etc/stackgen/pki/host.crt")
        assert (cert.user, cert.mode) == ("root", 0o644)
        text = host.run(
            "openssl x509 -in /etc/stackgen/pki/host.crt -noout -ext extendedKeyUsage,subjectAltName"
        ).stdout
        usage = text.split("Extended Key Usage:", 1)[1].splitlines()[1].strip()
        assert (usage, APP_TIER_NAME in text) == expected[role], (role, text)
        end = host.run("openssl x509 -in /etc/stackgen/pki/host.crt -noout -enddate").stdout.strip()
        ends = datetime.strptime(end.removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
        days = (ends - datetime.now(UTC)).days
        assert 360 <= days <= 365, end
        verify = host.run("openssl verify -CAfile /etc/stackgen/pki/ca.crt /etc/stackgen/pki/host.crt")
        assert verify.rc == 0, verify.stdout + verify.stderr
