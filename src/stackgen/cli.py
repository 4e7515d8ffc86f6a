"""stackgen: generate, build and run a deployment of the model service for your own model, or of your own app.

stackgen init      write a stack spec (prompts on a terminal, flags otherwise)
stackgen validate  check a spec; every problem named with what is allowed
stackgen render    write a ready deployment directory (inventory, group_vars, playbooks, ...)
stackgen build     build the release bundle (wheelhouse + model or app + manifest)
stackgen up|down|status   the local Docker stack (nginx on 127.0.0.1)
stackgen deploy    run ansible-playbook against a rendered directory's inventory
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import __version__, stack
from . import spec as specs
from .render import render
from .spec import Spec, SpecError

APP_FLAGS = ("requirement", "project", "wsgi", "settings")  # --app-<key> of stackgen init
KINDS = ("model", "app")


class CliError(Exception):
    """An operator-facing failure: printed as one paragraph, exit status 1."""


def progress(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def _ask(label: str, default: Any, choices: tuple[str, ...] | None = None) -> str:
    hint = f" ({'/'.join(choices)})" if choices else ""
    answer = input(f"{label}{hint} [{default}]: ").strip()
    return answer or str(default)


def _ask_app(framework: str) -> dict[str, str]:
    """The app's keys from prompts; empty answers are left out (validation names what is missing)."""
    answers = {"requirement": _ask("app.requirement (a PyPI requirement; empty for a project directory)", "")}
    if not answers["requirement"]:
        answers["project"] = _ask("app.project (a directory with requirements.txt, relative to the spec)", ".")
    answers["wsgi"] = _ask("app.wsgi (module:callable; empty to detect it in a project)", "")
    if framework == "django":
        answers["settings"] = _ask("app.settings (the settings module; empty to detect it in a project)", "")
    return {key: value for key, value in answers.items() if value}


def cmd_init(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CliError(f"{out} already exists; pass --force to overwrite it")
    values: dict[str, Any] = {k: v for k, v in vars(args).items() if k in specs.KEYS and v is not None}
    model = {"path": args.model_path, "loader": args.loader}
    app = {key: getattr(args, f"app_{key}") for key in APP_FLAGS if getattr(args, f"app_{key}") is not None}
    interactive = sys.stdin.isatty() and not args.no_input
    defaults = asdict(Spec(name="my-model"))
    if interactive:
        for key, choices in (
            ("name", None),
            ("framework", specs.FRAMEWORKS),
            ("database", specs.DATABASES),
            ("topology", specs.TOPOLOGIES),
            ("tls", specs.TLS_MODES),
            ("domain", None),
        ):
            if key not in values:
                values[key] = _ask(key, defaults[key], choices)
        if values.get("tls") == "acme" and "acme_directory" not in values:
            values["acme_directory"] = _ask("acme_directory (the ACME server's directory URL)", "")
        if values.get("topology") == "load-balanced" and "app_hosts" not in values:
            values["app_hosts"] = int(_ask("app_hosts", 2))
        undecided = not app and not any(model.values())  # no flag chose between a model and an app
        if undecided and _ask("serve a model or deploy your own app", "model", KINDS) == "app":
            app = _ask_app(values.get("framework", "flask"))
        elif not app:
            model["path"] = model["path"] or _ask("model.path (a model directory, or example)", "example")
            model["loader"] = model["loader"] or _ask("model.loader", "sklearn", specs.LOADERS)
    values.setdefault("name", defaults["name"])
    if values.get("topology") == "load-balanced":
        values.setdefault("app_hosts", 2)
    if app:
        values["app"] = app
    # With app flags, model flags as well make the spec name both (an error that says so).
    if not app or any(model.values()):
        values["model"] = {"path": model["path"] or "example", "loader": model["loader"] or "sklearn"}
    spec = specs.validate(values, "the given values")
    out.write_text("---\n" + spec.to_yaml())
    print(f"wrote {out}; next: stackgen validate {out} && stackgen render {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    print(f"{args.spec}: valid ({spec.framework}, {spec.database}, {spec.topology}, TLS {spec.tls})")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    out = Path(args.out or f"deploy/{spec.name}")
    written = render(spec, out, Path(args.spec).resolve().parent)
    print(f"rendered {len(written)} files into {out}")
    return 0


def _workdir(args: argparse.Namespace, spec: Spec) -> Path:
    return Path(args.workdir) if args.workdir else Path(args.spec).resolve().parent / ".stackgen" / spec.name


def cmd_build(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    out = Path(args.out) if args.out else stack.bundle_dir(_workdir(args, spec))
    stack.build_bundle(spec, Path(args.spec).resolve().parent, out, progress)
    print(f"bundle ready in {out}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    if spec.app is not None:
        # The local images are the model service's: its model check at build time, its settings
        # and its readiness URL in the compose health checks.
        raise CliError(
            f"{args.spec} names an app (app: {spec.app.source}); the local Docker stack supports the model "
            "service only, not an app yet. Deploy the app with: stackgen render, stackgen build, stackgen deploy"
        )
    url = stack.up(spec, Path(args.spec).resolve().parent, _workdir(args, spec), args.port, args.bind, progress)
    print(f"{spec.name} is ready: {url}/v2/models/iris/infer (stackgen down {args.spec} removes it)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    stack.down(spec, _workdir(args, spec), args.keep_data, progress)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    spec = specs.load(Path(args.spec))
    print(stack.status(spec, _workdir(args, spec)))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if not (directory / "inventory" / "hosts.yml").exists():
        raise CliError(f"{directory} is not a rendered deployment (no inventory/hosts.yml); run stackgen render first")
    cmd = ["ansible-playbook", "-i", "inventory/hosts.yml", args.playbook, *args.ansible_args]
    progress(" ".join(cmd))
    return subprocess.run(cmd, cwd=directory, check=False).returncode


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="stackgen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--version", action="version", version=f"stackgen {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "init",
        help="write a stack spec",
        description="Write a stack spec (YAML). On a terminal, "
        "missing values are asked for; otherwise flags and defaults apply.",
    )
    p.add_argument("--out", default="stack.yml", help="spec file to write (default: stack.yml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--no-input", action="store_true", help="never prompt, even on a terminal")
    p.add_argument("--name")
    p.add_argument("--framework", choices=specs.FRAMEWORKS)
    p.add_argument("--model-path", help="model directory (manifest.json + artifact), or 'example'")
    p.add_argument("--loader", choices=specs.LOADERS)
    p.add_argument("--app-requirement", help="deploy your own app instead of a model: a PyPI requirement")
    p.add_argument("--app-project", help="... or a project directory with requirements.txt (relative to the spec file)")
    p.add_argument("--app-wsgi", help="the app's WSGI callable, module:callable (found in a project if omitted)")
    p.add_argument("--app-settings", help="the Django project's settings module (found in a project if omitted)")
    p.add_argument("--database", choices=specs.DATABASES)
    p.add_argument("--topology", choices=specs.TOPOLOGIES)
    p.add_argument("--app-hosts", dest="app_hosts", type=int, help="app hosts behind the load balancer")
    p.add_argument("--tls", choices=specs.TLS_MODES)
    p.add_argument("--domain")
    p.add_argument("--workers", type=int, help="gunicorn workers (0 = from CPUs)")
    p.add_argument("--acme-directory", dest="acme_directory", help="tls acme: the ACME server's directory URL")
    p.add_argument("--acme-email", dest="acme_email", help="tls acme: the ACME account's e-mail (optional)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "validate",
        help="check a stack spec",
        description="Check a stack spec; every problem is reported with the key, what is wrong and what is allowed.",
    )
    p.add_argument("spec", help="stack spec file")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "render",
        help="write a deployment directory",
        description="Write a ready deployment "
        "directory for the spec: inventory, group_vars (secrets as Vault placeholders), playbook "
        "entries, a compose override and a README.",
    )
    p.add_argument("spec", help="stack spec file")
    p.add_argument("--out", help="directory to write (default: deploy/<name>)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "build",
        help="build the release bundle",
        description="Build the release bundle (wheelhouse for the target, the model or the app, release.json with "
        "sha256 sums).",
    )
    p.add_argument("spec", help="stack spec file")
    p.add_argument("--out", help="bundle directory (default: .stackgen/<name>/bundle next to the spec)")
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_build)

    for name, func, text in (
        ("up", cmd_up, "build the images and start the local Docker stack"),
        ("down", cmd_down, "remove the local Docker stack"),
        ("status", cmd_status, "show the local Docker stack's containers"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("spec", help="stack spec file")
        p.add_argument("--workdir", help="state directory (default: .stackgen/<name> next to the spec)")
        if name == "up":
            p.add_argument("--port", type=int, default=8080, help="nginx port on the host (default 8080)")
            p.add_argument("--bind", default="127.0.0.1", help="host address to publish on (default 127.0.0.1)")
        if name == "down":
            p.add_argument("--keep-data", action="store_true", help="keep the database volume")
        p.set_defaults(func=func)

    p = sub.add_parser(
        "deploy",
        help="run ansible-playbook for a rendered directory",
        description="Run ansible-playbook in a rendered deployment directory; arguments after -- pass through.",
    )
    p.add_argument("directory", help="rendered deployment directory")
    p.add_argument("--playbook", default="site.yml", choices=("site.yml", "deploy.yml", "rollback.yml"))
    p.set_defaults(func=cmd_deploy)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" goes to ansible-playbook untouched (stackgen deploy).
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    args = parser().parse_args(argv)
    args.ansible_args = passthrough
    try:
        return int(args.func(args))
    except SpecError as exc:
        print(f"stackgen: {exc}", file=sys.stderr)
        return 2
    except (CliError, stack.StackError, OSError) as exc:
        print(f"stackgen {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stackgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
