"""Any Django project through variables alone: one generated here by `django-admin startproject`,
plus a small app (a model, its migration, a static file, an admin page), bundled from its source
directory and requirements file, and deployed beside the model service by playbooks/site.yml.
No settings are rewritten: the role's overlay gives the generated settings the deployment's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostcheck import ansible_playbook, build_bundle, recap, running_releases

ADMIN_PASSWORD = "mysite-admin-Vq4w8Zr2Lp6Tx0Nb"
SECRET_KEY = "mysite-Kd7s1Qx9Lm3Vb5Nw8Rt2Yp6Zc4Hf0Gj7Ua1We5Io9Pa3Sd"
CSS = "/* notes: served by nginx */\nbody { color: #123456; }\n"
SITE = {
    "name": "mysite",
    "server_names": ["mysite.test"],
    "app": "mysite",
    "static_root": "/srv/mysite/current/bundle/static",
    "pages": ["/admin/"],
}
MODELS = """from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
"""
ADMIN = """from django.contrib import admin

from .models import Note

admin.site.register(Note)
"""


def generate_project(root: Path) -> Path:
    """What a user has: a startproject tree with an app, its migration and static files, and a
    requirements file; no packaging, no settings written for production."""
    bin_dir = Path(sys.executable).parent
    project = root / "mysite"
    project.mkdir()
    # The project's own manage.py picks its settings; this process's (pytest's) must not leak in.
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([str(bin_dir / "django-admin"), "startproject", "mysite", str(project)], check=True, env=env)
    subprocess.run([sys.executable, "manage.py", "startapp", "notes"], cwd=project, check=True, env=env)
    (project / "notes" / "models.py").write_text(MODELS)
    (project / "notes" / "admin.py").write_text(ADMIN)
    (project / "notes" / "static" / "notes").mkdir(parents=True)
    (project / "notes" / "static" / "notes" / "notes.css").write_text(CSS)
    settings = project / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + '\nINSTALLED_APPS += ["notes"]\n')
    subprocess.run([sys.executable, "manage.py", "makemigrations", "notes"], cwd=project, check=True, env=env)
    (project / "requirements.txt").write_text("Django>=5.2,<6\n")
    return project


@pytest.fixture(scope="module")
def mysite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    project = generate_project(tmp_path_factory.mktemp("project"))
    return build_bundle(tmp_path_factory.mktemp("mysite-bundle"), "--project", str(project))


def variables(bundle: dict[str, object]) -> str:
    return json.dumps(
        {
            "app_django_name": "mysite",
            "app_django_bundle_dir": str(bundle["_dir"]),
            "app_django_secret_key": SECRET_KEY,
            "app_django_allowed_hosts": ["mysite.test"],
            "app_django_db_engine": "sqlite",
            "app_django_superuser_name": "owner",
            "app_django_superuser_password": ADMIN_PASSWORD,
            "app_django_superuser_email": "owner@mysite.test",
            "app_django_smoke_path": "/admin/login/",
            "nginx_sites": [
                {
                    "name": "model",
                    "server_names": ["localhost", "model.test"],
                    "app": "model",
                    "static_root": "/srv/model/current/bundle/static",
                    "pages": ["/admin/"],
                },
                SITE,
            ],
        }
    )


def login(host, public: str) -> tuple[int, str]:
    """The admin's login form, as a browser sends it, to `public` (scheme://host[:port]): the
    request itself reaches this host's nginx on 443, like a port forward in front of it would."""
    jar = "/tmp/mysite-jar"
    netloc = public.split("://", 1)[1]
    base = f"curl -sk --resolve mysite.test:443:127.0.0.1 -c {jar} -b {jar} -H 'Host: {netloc}'"
    host.run("rm -f %s", jar)
    page = host.run(f"{base} https://mysite.test/admin/login/").stdout
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page[:2000]
    host.run("printf %s > /tmp/mysite-pw", ADMIN_PASSWORD)
    posted = host.run(
        f"{base} -o /dev/null -w '%{{http_code}} %{{redirect_url}}' -H 'Origin: {public}' "
        f"-H 'Referer: {public}/admin/login/' --data-urlencode csrfmiddlewaretoken={token.group(1)} "
        "--data-urlencode username=owner --data-urlencode password@/tmp/mysite-pw --data-urlencode next=/admin/ "
        "https://mysite.test/admin/login/"
    ).stdout
    status, _, location = posted.partition(" ")
    listing = host.run(f"{base} -o /dev/null -w '%{{http_code}}' https://mysite.test/admin/notes/note/").stdout
    return int(status), f"{location} {listing}"


def test_a_startproject_project_deploys_through_variables_alone(host, mysite) -> None:
    assert mysite["app"]["source"] == "project"  # type: ignore[index]
    first = ansible_playbook("site.yml", "-e", variables(mysite), limit=host.backend.host)
    assert first.returncode == 0, first.stdout[-5000:]
    assert len(running_releases(host, "mysite")) == 1
    env = host.file("/srv/mysite/current/app.env")
    assert (env.user, env.group, env.mode) == ("root", "mysite", 0o640)
    lines = env.content_string.splitlines()
    assert 'DJANGO_SETTINGS_MODULE="stackgen_django_settings"' in lines
    assert 'STACKGEN_DJANGO_PROJECT_SETTINGS="mysite.settings"' in lines
    assert 'DJANGO_ALLOWED_HOSTS="mysite.test,localhost"' in lines
    assert 'DJANGO_CSRF_TRUSTED_ORIGINS="https://mysite.test"' in lines
    assert f'DJANGO_SECRET_KEY="{SECRET_KEY}"' in lines
    # None of the model service's own settings.
    assert not [line for line in lines if line.startswith("STACKGEN_DB_")]


def test_the_project_runs_with_production_settings(host) -> None:
    # DEBUG off: an unknown page is the plain 404, not Django's debug page listing the URLconf.
    page = host.run("curl -sk --resolve mysite.test:443:127.0.0.1 https://mysite.test/no-such-page/").stdout
    assert "URLconf" not in page and "DEBUG = True" not in page, page[:500]
    # The SQLite database lives in shared/state (it survives releases), owned by the app.
    db = host.file("/srv/mysite/shared/state/db.sqlite3")
    assert (db.user, db.group) == ("mysite", "mysite")


def test_its_static_files_come_from_nginx(host) -> None:
    for path, expected in (("/static/notes/notes.css", CSS), ("/static/admin/css/base.css", None)):
        out = host.run(
            "curl -sk -D /tmp/mysite-h -o /tmp/mysite-b --resolve mysite.test:443:127.0.0.1 https://mysite.test%s;"
            " cat /tmp/mysite-h",
            path,
        ).stdout.lower()
        assert out.startswith("http/2 200"), (path, out)
        assert "\ncache-control: public" in out, (path, out)
        if expected is not None:
            assert host.file("/tmp/mysite-b").content_string == expected


def test_the_role_made_superuser_logs_into_the_admin(host) -> None:
    status, rest = login(host, "https://mysite.test")
    assert (status, rest) == (302, "https://mysite.test/admin/ 200"), rest


def test_the_admin_works_behind_another_port(host) -> None:
    # A port forward in front of nginx (the browser says mysite.test:8443): the Host with its port
    # reaches Django as X-Forwarded-Host, so CSRF's origin check matches without configuration.
    status, rest = login(host, "https://mysite.test:8443")
    assert (status, rest) == (302, "https://mysite.test/admin/ 200"), rest


def test_a_rerun_changes_nothing(host, mysite) -> None:
    again = ansible_playbook("site.yml", "-e", variables(mysite), limit=host.backend.host)
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again.stdout, host.backend.host)["changed"] == 0, again.stdout[-6000:]
