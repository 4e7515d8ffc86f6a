"""The local Docker stack for a spec: images from the release bundle and the roles' templates."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .appspec import AppSpec
from .paths import repo_root
from .render import ADMIN_PAGES
from .rolerender import render_gunicorn, render_nginx, role_defaults
from .spec import Spec

Progress = Callable[[str], None]


class StackError(Exception):
    """A step of the local stack failed; the message says which and why."""


def project(spec: Spec) -> str:
    return f"stackgen-{spec.name}"


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin exists, else Debian's docker-compose 1.29."""
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise StackError("neither `docker compose` nor `docker-compose` is installed")


def _run(cmd: list[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise StackError(f"{what} failed ({' '.join(cmd[:3])} ... exit {result.returncode}): {tail}")
    return result


def bundle_dir(workdir: Path) -> Path:
    return workdir / "bundle"


def bundle_command(spec: Spec, spec_dir: Path, out: Path) -> list[str]:
    """The tools/build_bundle.py command line for the spec; paths in the spec are relative to its directory."""
    cmd = [sys.executable, str(repo_root() / "tools" / "build_bundle.py"), "--out", str(out), "--extra", spec.framework]
    if spec.app is not None:
        return cmd + _app_arguments(spec.app, spec_dir)
    if spec.model is not None and spec.model.path != "example":
        cmd += ["--model-dir", str((spec_dir / spec.model.path).resolve())]
    if spec.model is not None and spec.model.loader == "onnx":
        cmd.append("--with-onnx")
    return cmd


def _app_arguments(app: AppSpec, spec_dir: Path) -> list[str]:
    if app.project:
        args = ["--project", str((spec_dir / app.project).resolve())]
    else:
        args = ["--requirement", app.requirement]
        if app.wheels:
            args += ["--app-wheels", str((spec_dir / app.wheels).resolve())]
    if app.wsgi:
        args += ["--wsgi", app.wsgi]
    if app.settings:
        args += ["--settings", app.settings]
    return args


def _check_app_dirs(app: AppSpec, spec_dir: Path) -> None:
    # A missing directory is named here, not as the tail of the bundle builder's traceback.
    for key, relative in (("app.project", app.project), ("app.wheels", app.wheels)):
        if relative and not (spec_dir / relative).is_dir():
            raise StackError(
                f"{key}: {(spec_dir / relative).resolve()} is not a directory (paths are relative to the spec file)"
            )


def build_bundle(spec: Spec, spec_dir: Path, out: Path, progress: Progress) -> Path:
    if spec.app is not None:
        _check_app_dirs(spec.app, spec_dir)
    what = f"app {spec.app.source}" if spec.app is not None else "the model service"
    progress(f"building the release bundle ({what}) into {out}")
    _run(bundle_command(spec, spec_dir, out), "building the release bundle")
    return out


def _contexts(spec: Spec, workdir: Path, bundle: Path) -> tuple[Path, Path]:
    app_ctx, nginx_ctx = workdir / "context" / "app", workdir / "context" / "nginx"
    shutil.rmtree(workdir / "context", ignore_errors=True)
    app_ctx.mkdir(parents=True)
    info = json.loads((bundle / "release.json").read_text())
    shutil.copy2(bundle / info["tarball"], app_ctx / "bundle.tar.gz")
    shutil.copy2(repo_root() / "docker" / "app" / "Dockerfile", app_ctx / "Dockerfile")
    shutil.copy2(repo_root() / "docker" / "app" / "entrypoint.sh", app_ctx / "entrypoint.sh")
    wsgi = "model_flask.wsgi:app" if spec.framework == "flask" else "model_django.wsgi:application"
    (app_ctx / "gunicorn.conf.py").write_text(render_gunicorn(image_gunicorn_values(spec, wsgi)))
    nginx_ctx.mkdir(parents=True)
    shutil.copy2(repo_root() / "docker" / "nginx" / "Dockerfile", nginx_ctx / "Dockerfile")
    render_nginx(image_nginx_values(spec), nginx_ctx / "nginx")
    return app_ctx, nginx_ctx


def image_gunicorn_values(spec: Spec, wsgi: str) -> dict[str, object]:
    return {
        "gunicorn_app_name": "model",
        "gunicorn_wsgi_app": wsgi,
        "gunicorn_bind": ["0.0.0.0:8000"],
        "gunicorn_workers": spec.workers,
        # The app role's threads, so an image runs as a host would (Flask 16, Django 4).
        "gunicorn_threads": role_defaults(f"app_{spec.framework}")[f"app_{spec.framework}_threads"],
        "gunicorn_forwarded_allow_ips": "*",
    }


def image_nginx_values(spec: Spec) -> dict[str, object]:
    site: dict[str, object] = {
        "name": "model",
        "server_names": sorted({"localhost", "127.0.0.1", spec.domain}),
        "upstream": ["app:8000"],
    }
    if spec.framework == "django":
        site["static_root"] = "/srv/static"
        site["pages"] = [ADMIN_PAGES]
    return {"nginx_sites": [site], "nginx_tls_mode": "none"}


def _env_file(spec: Spec, workdir: Path) -> Path:
    path = workdir / "app.env"
    if path.exists():
        return path  # keep generated secrets stable across `up`s
    lines = ["STACKGEN_LOG_LEVEL=INFO", "STACKGEN_PROXY_HOPS=1", "STACKGEN_BATCH_WAIT_MS=2"]
    if spec.framework == "django":
        lines += [
            "DJANGO_SETTINGS_MODULE=model_django.settings.production",
            f"STACKGEN_SECRET_KEY={secrets.token_urlsafe(48)}",
            f"STACKGEN_ALLOWED_HOSTS=localhost,127.0.0.1,app,{spec.domain}",
            "STACKGEN_HTTPS=off",
            "STACKGEN_ALLOW_ANONYMOUS=on",
            f"STACKGEN_DB_ENGINE={spec.database}",
            "STACKGEN_SQLITE_PATH=/srv/app/state/db.sqlite3",
        ]
        if spec.database == "postgresql":
            lines += [
                "STACKGEN_DB_HOST=db",
                "STACKGEN_DB_NAME=model",
                "STACKGEN_DB_USER=model",
                f"STACKGEN_DB_PASSWORD={secrets.token_urlsafe(24)}",
            ]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def _compose_env(spec: Spec, workdir: Path, port: int, bind: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STACKGEN_APP_IMAGE=f"{project(spec)}-app:latest",
        STACKGEN_NGINX_IMAGE=f"{project(spec)}-nginx:latest",
        STACKGEN_POSTGRES_IMAGE="stackgen/postgres:local",
        STACKGEN_PORT=str(port),
        STACKGEN_BIND=bind,
    )
    for line in (workdir / "app.env").read_text().splitlines():
        if line.startswith("STACKGEN_DB_PASSWORD="):
            env["STACKGEN_DB_PASSWORD"] = line.split("=", 1)[1]
    return env


def compose_files(spec: Spec, workdir: Path) -> list[str]:
    files = ["-f", str(workdir / "compose.yml")]
    if spec.database == "postgresql":
        files += ["-f", str(workdir / "compose.postgres.yml")]
    return files


def up(spec: Spec, spec_dir: Path, workdir: Path, port: int, bind: str, progress: Progress) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    bundle = bundle_dir(workdir)
    if not (bundle / "release.json").exists():
        build_bundle(spec, spec_dir, bundle, progress)
    app_ctx, nginx_ctx = _contexts(spec, workdir, bundle)
    for name in ("compose.yml", "compose.postgres.yml"):
        shutil.copy2(repo_root() / "docker" / name, workdir / name)
    _env_file(spec, workdir)
    env = _compose_env(spec, workdir, port, bind)
    progress(f"building image {env['STACKGEN_APP_IMAGE']} (installs the bundle offline)")
    _run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"FRAMEWORK={spec.framework}",
            "-t",
            env["STACKGEN_APP_IMAGE"],
            str(app_ctx),
        ],
        "building the app image",
    )
    progress(f"building image {env['STACKGEN_NGINX_IMAGE']} (roles/nginx templates)")
    _run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"APP_IMAGE={env['STACKGEN_APP_IMAGE']}",
            "-t",
            env["STACKGEN_NGINX_IMAGE"],
            str(nginx_ctx),
        ],
        "building the nginx image",
    )
    if spec.database == "postgresql":
        progress("building image stackgen/postgres:local")
        _run(
            ["docker", "build", "-q", "-t", env["STACKGEN_POSTGRES_IMAGE"], str(repo_root() / "docker" / "postgres")],
            "building the PostgreSQL image",
        )
    progress(f"starting {project(spec)} (compose)")
    _run(
        [*compose_command(), "-p", project(spec), *compose_files(spec, workdir), "up", "-d"],
        "starting the stack",
        env=env,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}/v2/health/ready"
    progress(f"waiting for {url}")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return f"http://127.0.0.1:{port}"
        except OSError:
            pass
        time.sleep(1)
    raise StackError(f"the stack did not become ready at {url} within 180 s; see: stackgen status")


def down(spec: Spec, workdir: Path, keep_data: bool, progress: Progress) -> None:
    if not (workdir / "compose.yml").exists():
        progress(f"{project(spec)}: nothing to remove")
        return
    env = _compose_env(spec, workdir, 0, "127.0.0.1")
    cmd = [*compose_command(), "-p", project(spec), *compose_files(spec, workdir), "down", "--remove-orphans"]
    if not keep_data:
        cmd.append("--volumes")
    progress(f"removing {project(spec)}" + (" (keeping its data volume)" if keep_data else ""))
    _run(cmd, "removing the stack", env=env, cwd=workdir)


def status(spec: Spec, workdir: Path) -> str:
    if not (workdir / "compose.yml").exists():
        return f"{project(spec)}: not created (stackgen up)"
    env = _compose_env(spec, workdir, 0, "127.0.0.1")
    result = _run(
        [*compose_command(), "-p", project(spec), *compose_files(spec, workdir), "ps"],
        "listing the stack",
        env=env,
        cwd=workdir,
    )
    return result.stdout.rstrip()
