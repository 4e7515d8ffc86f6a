"""Any WSGI app through variables alone: httpbin, a Flask app from PyPI that nobody here wrote,
deployed beside the model service by the same playbook (playbooks/site.yml) with nothing but
variables. Its dependencies differ per Python (greenlet < 3 on 3.11, >= 3 on 3.13), so the
bundle's lock must resolve per target Python; this runs on the Debian 13 host (Python 3.13)."""

from __future__ import annotations

import json
import re

import pytest
from hostcheck import ansible_playbook, build_bundle, curl, live_release, recap, running_releases

REQUIREMENT = "httpbin==0.10.4"
SITES = [
    {"name": "model", "server_names": ["localhost", "model.test"], "app": "model"},
    {
        "name": "httpbin",
        "server_names": ["httpbin.test"],
        "app": "httpbin",
        # A PyPI app's static files live in its package, under the release's own venv.
        "static_root": "/srv/httpbin/current/bundle/venv/lib/python{{ ansible_facts.python.version.major }}."
        "{{ ansible_facts.python.version.minor }}/site-packages/httpbin/static",
    },
]


@pytest.fixture(scope="module")
def httpbin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return build_bundle(tmp_path_factory.mktemp("httpbin"), "--requirement", REQUIREMENT, "--wsgi", "httpbin:app")


def variables(bundle: dict[str, object], **extra: object) -> str:
    return json.dumps(
        {
            "app_flask_name": "httpbin",
            "app_flask_bundle_dir": str(bundle["_dir"]),
            "app_flask_requirement": REQUIREMENT,
            "app_flask_env": {},
            "app_flask_smoke_path": "/get",
            "app_flask_access_log": True,
            "nginx_sites": SITES,
            **extra,
        }
    )


def test_a_pypi_flask_app_deploys_through_variables_alone(host, httpbin) -> None:
    model_release = live_release(host)
    first = ansible_playbook("site.yml", "-e", variables(httpbin), limit=host.backend.host)
    assert first.returncode == 0, first.stdout[-4000:]
    assert len(running_releases(host, "httpbin")) == 1

    reply = curl(host, "https://localhost/get?probe=1", host_header="httpbin.test")
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["args"] == {"probe": "1"}  # type: ignore[index]
    assert body["headers"]["Host"] == "httpbin.test"  # type: ignore[index]
    assert reply.headers["server"] == "nginx"
    # The model service beside it is untouched.
    assert live_release(host) == model_release

    # The lock resolved for this host's Python 3.13: greenlet 3, not the < 3 pin of Python 3.11.
    version = host.run("/srv/httpbin/current/bundle/venv/bin/python -c 'import greenlet; print(greenlet.__version__)'")
    assert version.rc == 0 and version.stdout.split(".")[0] == "3", version.stdout + version.stderr
    # The bundle holds what it says: no stackgen wheel, no model.
    listing = host.run("ls /srv/httpbin/current/bundle /srv/httpbin/current/bundle/wheels").stdout.split()
    assert "model" not in listing and not [name for name in listing if name.startswith("stackgen-")], listing


def test_its_static_files_come_from_nginx(host) -> None:
    out = host.run(
        "curl -sk -o /tmp/favicon -D - -H 'Host: httpbin.test' https://localhost/static/favicon.ico; "
        "sha256sum /tmp/favicon /srv/httpbin/current/bundle/venv/lib/python3*/site-packages/httpbin/static/favicon.ico"
    ).stdout
    assert out.startswith("HTTP/2 200") or out.startswith("HTTP/1.1 200"), out
    # nginx's static location (roles/nginx) marks its answers public; Flask's would say no-cache.
    assert "\ncache-control: public" in out.lower(), out
    digests = re.findall(r"^([0-9a-f]{64})\s", out, re.MULTILINE)
    assert len(digests) == 2 and digests[0] == digests[1], out


def test_gunicorn_writes_its_access_log_when_asked(host) -> None:
    curl(host, "https://localhost/status/418", host_header="httpbin.test")
    (release,) = running_releases(host, "httpbin")
    journal = host.run("journalctl --no-pager -o cat -u gunicorn-httpbin@%s.service", release).stdout
    assert re.search(r'"GET /status/418 HTTP/1\.[01]" 418 ', journal), journal[-2000:]


def test_a_rerun_changes_nothing(host, httpbin) -> None:
    again = ansible_playbook("site.yml", "-e", variables(httpbin), limit=host.backend.host)
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout, host.backend.host)["changed"] == 0, again.stdout[-6000:]


def test_a_requirement_the_bundle_lacks_stops_before_any_change(host, httpbin) -> None:
    (release,) = running_releases(host, "httpbin")
    wrong = ansible_playbook(
        "deploy.yml", "-e", variables(httpbin, app_flask_requirement="flask-nope>=1"), limit=host.backend.host
    )
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stdout
    said = " ".join(wrong.stdout.split())  # the callback folds long messages
    assert (
        f'The requirement "flask-nope>=1" names flask-nope, which bundle {httpbin["release"]} in {httpbin["_dir"]} '
        f'does not hold (it was built for "{REQUIREMENT}").'
    ) in said, said[-3000:]
    # The right project at a version the bundle's lock does not hold: refused on this rerun too,
    # though the bundle was built long ago, and nothing is installed for it.
    older = ansible_playbook(
        "deploy.yml", "-e", variables(httpbin, app_flask_requirement="httpbin==0.10.3"), limit=host.backend.host
    )
    assert older.returncode != 0
    said = " ".join(older.stdout.split())
    refused = f'The requirement "httpbin==0.10.3" is not met by bundle {httpbin["release"]} on this host'
    assert refused in said, said[-3000:]
    assert host.run("/srv/httpbin/current/bundle/venv/bin/pip show httpbin").stdout.count("Version: 0.10.4") == 1
    assert running_releases(host, "httpbin") == [release]
