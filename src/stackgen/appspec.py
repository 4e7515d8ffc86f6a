"""The spec's `app` key: deploy your own WSGI app (from PyPI or a project directory) instead of
serving a model with the model service.

Validated like the rest of the spec: every problem at once, each naming the key (app.wsgi, ...),
what is wrong and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

APP_KEYS = ("project", "requirement", "settings", "smoke_path", "wheels", "wsgi")
# What gunicorn can import: module:callable (the same form the roles and build_bundle.py take).
WSGI = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
SETTINGS = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
SMOKE_PATH = re.compile(r"^/\S*$")
# A name, optional extras and optional version clauses: no URLs, markers or pip options (a
# leading '-' would be read as one by pip on the controller).
_CLAUSE = r"(===?|~=|!=|<=?|>=?) *[\w.*+!-]+"
REQUIREMENT = re.compile(rf"^[A-Za-z0-9]([\w.-]*[A-Za-z0-9])?(\[[\w.,-]+\])?( *{_CLAUSE}( *, *{_CLAUSE})*)?$", re.ASCII)
SOURCES = (
    "requirement, a PyPI requirement like 'httpbin==0.10.4', or project, a project directory with requirements.txt"
)


# A generated Django project has no page at / (404 without DEBUG), but its admin's login page.
DEFAULT_SMOKE_PATH = {"flask": "/", "django": "/admin/login/"}


@dataclass
class AppSpec:
    requirement: str = ""  # what pip installs, e.g. "httpbin==0.10.4"
    project: str = ""  # or a project directory (relative to the spec file)
    wsgi: str = ""  # module:callable; empty = the one the bundle names (detected in a project)
    settings: str = ""  # Django settings module; empty = the bundle's
    wheels: str = ""  # a directory with the app's own wheels (requirement only)
    smoke_path: str = "/"  # a new release must answer 200 here before it gets traffic

    @property
    def source(self) -> str:
        return self.requirement or self.project

    def as_dict(self) -> dict[str, str]:
        # Unset optional keys stay out of the written spec; smoke_path is always written so that
        # the spec shows what a release is checked on.
        data = {key: getattr(self, key) for key in ("requirement", "project", "wsgi", "settings", "wheels")}
        return {**{key: value for key, value in data.items() if value}, "smoke_path": self.smoke_path}


def _text(problems: list[str], raw: dict[str, Any], key: str, pattern: re.Pattern[str] | None, allowed: str) -> str:
    """The value of app.<key> ('' when absent), or a problem when it is not a fitting string."""
    if key not in raw:
        return ""
    value = raw[key]
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
        problems.append(f"app.{key}: {value!r} is not allowed (allowed: {allowed})")
        return ""
    return value


def _source_problems(app: AppSpec, raw: dict[str, Any], framework: str) -> list[str]:
    """Exactly one of requirement/project, and what each of them needs or excludes."""
    if "requirement" in raw and "project" in raw:
        return [f"app.project: not allowed together with app.requirement (allowed: one of {SOURCES})"]
    if "requirement" not in raw and "project" not in raw:
        return [f"app.requirement or app.project: missing (allowed: {SOURCES})"]
    problems = []
    if "project" in raw and "wheels" in raw:
        problems.append("app.wheels: only used with app.requirement (a project's requirements.txt names its wheels)")
    # A project's callable and settings can be found in its source; an installed requirement's cannot.
    if "requirement" in raw and "wsgi" not in raw:
        problems.append("app.wsgi: missing (required with app.requirement: the app's WSGI callable, e.g. httpbin:app)")
    if "requirement" in raw and "settings" not in raw and framework == "django":
        problems.append(
            "app.settings: missing (required with app.requirement and framework 'django': the project's settings "
            "module, e.g. mysite.settings)"
        )
    return problems


def validate_app(problems: list[str], raw: Any, framework: str) -> AppSpec:
    """The AppSpec for the spec's `app` value; its problems are appended to ``problems``."""
    if not isinstance(raw, dict):
        problems.append(f"app: must be a mapping with {SOURCES}")
        return AppSpec()
    problems += [f"app.{key}: unknown key (allowed: {', '.join(APP_KEYS)})" for key in raw if key not in APP_KEYS]
    app = AppSpec(
        requirement=_text(problems, raw, "requirement", REQUIREMENT, "a PyPI requirement like 'httpbin==0.10.4'"),
        project=_text(problems, raw, "project", None, "a project directory, relative to the spec file"),
        wsgi=_text(problems, raw, "wsgi", WSGI, "module:callable, e.g. httpbin:app"),
        settings=_text(problems, raw, "settings", SETTINGS, "a Django settings module, e.g. mysite.settings"),
        wheels=_text(problems, raw, "wheels", None, "a directory of wheels, relative to the spec file"),
        smoke_path=_text(problems, raw, "smoke_path", SMOKE_PATH, "a path starting with '/', e.g. /healthz")
        or DEFAULT_SMOKE_PATH.get(framework, "/"),
    )
    if "settings" in raw and framework != "django":
        problems.append(f"app.settings: only used with framework 'django' (framework is {framework!r})")
    problems += _source_problems(app, raw, framework)
    return app
