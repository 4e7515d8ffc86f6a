"""The stack spec: what `stackgen init` writes and every other command reads.

Validation reports every problem at once, each naming the key, what is wrong and what is
allowed; unknown keys are errors (a typo must not silently fall back to a default). A spec
names either a model for the model service (`model`) or your own app (`app`, see appspec.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .appspec import AppSpec, validate_app

FRAMEWORKS = ("flask", "django")
DATABASES = ("sqlite", "postgresql")
TOPOLOGIES = ("single", "load-balanced")
TLS_MODES = ("none", "self-signed", "provided", "acme")
LOADERS = ("sklearn", "onnx")
NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class SpecError(Exception):
    """Every problem found in a spec; str() is one readable paragraph."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source} is not a valid stack spec: " + "; ".join(problems) + ".")


@dataclass
class ModelSpec:
    path: str = "example"  # a model directory (manifest.json + artifact), or "example"
    loader: str = "sklearn"


@dataclass
class Spec:
    name: str
    framework: str = "flask"
    model: ModelSpec | None = field(default_factory=ModelSpec)  # None with an app
    app: AppSpec | None = None  # your own app instead of the model service
    database: str = "sqlite"
    topology: str = "single"
    app_hosts: int = 1
    tls: str = "none"
    domain: str = "localhost"
    workers: int = 0
    acme_directory: str = ""  # tls acme: the ACME server's directory URL
    acme_email: str = ""  # tls acme: the account's contact (optional)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # A spec names either a model or an app: the other key is an error when read back.
        if self.app is None:
            del data["app"]
        else:
            data["app"] = self.app.as_dict()
            del data["model"]
        if self.tls != "acme":  # the acme keys are errors with any other tls mode
            del data["acme_directory"], data["acme_email"]
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False)


KEYS = {
    "name",
    "framework",
    "model",
    "app",
    "database",
    "topology",
    "app_hosts",
    "tls",
    "domain",
    "workers",
    "acme_directory",
    "acme_email",
}
HTTPS_URL = re.compile(r"^https://[^\s/]+(/\S*)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MODEL_KEYS = {"path", "loader"}


def _choice(problems: list[str], key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        problems.append(f"{key}: {value!r} is not allowed (allowed: {', '.join(allowed)})")


def _integer(problems: list[str], key: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{key}: {value!r} is not allowed (allowed: an integer from {low} to {high})")


def _acme(problems: list[str], raw: dict[str, Any], spec: Spec) -> None:
    """tls acme: a directory URL and a domain an ACME server can reach; the keys only with it."""
    for key, pattern, allowed in (
        ("acme_directory", HTTPS_URL, "the ACME server's directory, an https:// URL"),
        ("acme_email", EMAIL, "an e-mail address"),
    ):
        if key not in raw:
            continue
        if spec.tls != "acme":
            problems.append(f"{key}: only used with tls 'acme' (tls is {spec.tls!r})")
        elif not isinstance(raw[key], str) or not pattern.match(raw[key]):
            problems.append(f"{key}: {raw[key]!r} is not allowed (allowed: {allowed})")
        else:
            setattr(spec, key, raw[key])
    if spec.tls != "acme":
        return
    if "acme_directory" not in raw:
        problems.append("acme_directory: missing (tls 'acme' needs the ACME server's directory URL)")
    if spec.domain == "localhost" or "." not in spec.domain:
        problems.append(
            f"domain: {spec.domain!r} cannot be certified over ACME (allowed with tls 'acme': a public DNS name "
            "that resolves to the web host)"
        )


def _model(problems: list[str], model: Any) -> ModelSpec:
    if not isinstance(model, dict):
        problems.append("model: must be a mapping with path and loader")
        model = {}
    problems += [f"model.{key}: unknown key (allowed: loader, path)" for key in model if key not in MODEL_KEYS]
    if "loader" in model:
        _choice(problems, "model.loader", model["loader"], LOADERS)
    if "path" in model and (not isinstance(model["path"], str) or not model["path"]):
        problems.append(f"model.path: {model['path']!r} is not allowed (allowed: 'example' or a model directory)")
    return ModelSpec(path=str(model.get("path", "example")), loader=str(model.get("loader", "sklearn")))


def validate(raw: Any, source: str = "the spec") -> Spec:
    """Return a Spec or raise SpecError listing every problem."""
    if not isinstance(raw, dict):
        raise SpecError(source, ["the top level must be a mapping of keys to values"])
    problems = [f"{key}: unknown key (allowed: {', '.join(sorted(KEYS))})" for key in raw if key not in KEYS]
    if "name" not in raw:
        problems.append("name: missing (a lower-case name like iris-service)")
    elif not isinstance(raw["name"], str) or not NAME.match(raw["name"]):
        problems.append(
            f"name: {raw['name']!r} is not allowed (allowed: 2-31 characters, a-z, 0-9 and '-', starting with a letter)"
        )
    spec = Spec(name=str(raw.get("name", "")))
    for key, allowed in (
        ("framework", FRAMEWORKS),
        ("database", DATABASES),
        ("topology", TOPOLOGIES),
        ("tls", TLS_MODES),
    ):
        if key in raw:
            _choice(problems, key, raw[key], allowed)
            setattr(spec, key, raw[key])
    if "app" in raw:
        if "model" in raw:
            problems.append(
                "app: not allowed together with model (allowed: one of them: model, to serve a model with the "
                "model service, or app, to deploy your own app)"
            )
        spec.app = validate_app(problems, raw["app"], spec.framework)
        spec.model = None
    if "model" in raw or "app" not in raw:
        spec.model = _model(problems, raw.get("model", {}))
    if "domain" in raw:
        if not isinstance(raw["domain"], str) or not DOMAIN.match(raw["domain"]):
            problems.append(f"domain: {raw['domain']!r} is not allowed (allowed: a lower-case DNS name)")
        spec.domain = str(raw["domain"])
    for key, low, high in (("workers", 0, 64), ("app_hosts", 1, 50)):
        if key in raw:
            _integer(problems, key, raw[key], low, high)
            setattr(spec, key, raw[key])
    _acme(problems, raw, spec)
    if spec.framework == "flask" and spec.database == "postgresql":
        problems.append("database: 'postgresql' needs framework 'django' (the Flask service keeps no database)")
    if spec.topology == "single" and spec.app_hosts != 1:
        problems.append(f"app_hosts: {spec.app_hosts} is not allowed with topology 'single' (allowed: 1)")
    if spec.topology == "load-balanced" and spec.app_hosts < 2:
        problems.append(f"app_hosts: {spec.app_hosts} is not allowed with topology 'load-balanced' (allowed: 2 to 50)")
    if spec.topology == "load-balanced" and spec.framework == "django" and spec.database == "sqlite":
        problems.append(
            "database: 'sqlite' is not allowed with topology 'load-balanced' and framework 'django' "
            "(allowed: postgresql, so that every app host shares one database)"
        )
    if problems:
        raise SpecError(source, problems)
    return spec


def load(path: Path) -> Spec:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(str(path), ["the file does not exist (create one with: stackgen init)"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(str(path), [f"it is not valid YAML{where}"]) from None
    return validate(raw, str(path))
