"""Resolve and fetch a release bundle's wheels: one lock per target CPython.

uv resolves, because it evaluates environment markers for the *target* Python (pip evaluates them
with the running interpreter, so a dependency split on python_version resolves wrongly or not at
all). pip then downloads exactly the pinned files, with the tags the target accepts, into the
wheel cache. Neither step needs a build: bundles hold wheels only.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from packaging.utils import InvalidWheelFilename, NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

# Debian 12 ships glibc 2.36; accept every manylinux tag it can run.
PLATFORMS = ["manylinux2014_x86_64"] + [f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)]
# uv's name for the same set: manylinux x86_64 up to glibc 2.36.
UV_PLATFORM = "x86_64-manylinux_2_36"
PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")
TRUE = {"1", "true", "yes", "on"}

Pins = dict[NormalizedName, str]


class BundleError(Exception):
    """A failure the user can act on: printed as one paragraph, never as a traceback."""


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _tail(result: subprocess.CompletedProcess[str], limit: int = 25) -> str:
    # pip warns once per package about every file:// index lacking it; that noise hides the error.
    lines = [
        line.rstrip()
        for line in (result.stderr or result.stdout).splitlines()
        if line.strip() and "is ignored: it is neither a file nor a directory" not in line
    ]
    return "\n".join(f"    {line}" for line in lines[-limit:])


def run_pip(args: list[str], what: str) -> str:
    """Run pip quietly; on failure raise BundleError with pip's own last lines."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--progress-bar", "off", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BundleError(f"{what} failed; pip says:\n{_tail(result)}")
    return result.stdout


@dataclass
class IndexConfig:
    """The machine's pip settings that decide where packages come from, translated for uv
    (which reads none of pip's configuration), so that uv resolves against what pip downloads from."""

    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    cert: str | None = None
    no_index: bool = False

    def uv_args(self) -> list[str]:
        args = ["--no-index"] if self.no_index else []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        for path in self.constraints:
            args += ["--constraint", path]
        return args

    def uv_env(self) -> dict[str, str]:
        if not self.cert:
            return {}
        return {"SSL_CERT_DIR" if Path(self.cert).is_dir() else "SSL_CERT_FILE": self.cert}


def _local_path(location: str) -> Path | None:
    """The filesystem path of a local index or find-links entry (a path or a file:// URL)."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http(s) and the like; one letter is a drive
        return None
    return Path(location)


def _usable(location: str, option: str) -> bool:
    path = _local_path(location)
    if path is None or path.exists():
        return True
    # pip only warns about these; uv would fail, so leave them out as pip effectively does.
    step(f"note: pip's {option} {location} does not exist; leaving it out of the resolution")
    return False


def pip_config() -> IndexConfig:
    """Read pip's settings as `pip download` sees them: config files, then PIP_* variables."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    sections: dict[str, dict[str, str]] = {}
    for line in listing.splitlines():
        match = re.match(r"^(.*?)\.([a-z0-9-]+)=(.*)$", line)
        if not match:
            continue
        section, key, raw = match.groups()
        try:
            value = str(ast.literal_eval(raw))  # pip prints each value with repr()
        except (ValueError, SyntaxError):
            value = raw
        sections.setdefault(section, {})[key] = value
    values: dict[str, str] = {}
    # pip's precedence: [global], then the command's own section, then the environment.
    for section in ("global", "download", ":env:"):
        values.update(sections.get(section, {}))
    for key in ("index-url", "extra-index-url", "find-links", "cert", "constraint", "no-index"):
        env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if env is not None:
            values[key] = env
    index_url = values.get("index-url")
    cert = values.get("cert")
    return IndexConfig(
        index_url=index_url if index_url and _usable(index_url, "index-url") else None,
        extra_index_urls=[u for u in values.get("extra-index-url", "").split() if _usable(u, "extra-index-url")],
        find_links=[u for u in values.get("find-links", "").split() if _usable(u, "find-links")],
        # A machine-wide cap pip applies to every download: uv must not pin past it.
        constraints=[c for c in values.get("constraint", "").split() if _usable(c, "constraint")],
        cert=cert if cert and Path(cert).exists() else None,
        no_index=values.get("no-index", "").lower() in TRUE,
    )


def uv_command() -> list[str]:
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    raise BundleError(
        f"uv is not installed for {sys.executable}; install it with "
        "`pip install -c constraints.txt uv` (it is part of the dev extra)"
    )


def resolve(
    python: str, inputs: list[Path], constraints: list[Path], local_dirs: list[Path], config: IndexConfig
) -> Pins:
    """Pin every package the inputs need on CPython `python`, manylinux x86_64, wheels only."""
    cmd = [
        *uv_command(),
        "pip",
        "compile",
        *map(str, inputs),
        "--python-version",
        python,
        "--python-platform",
        UV_PLATFORM,
        "--only-binary",
        ":all:",
        "--no-header",
        "--no-annotate",
        "--no-python-downloads",
        "--no-progress",
        "--color",
        "never",
        "--quiet",
        # pip picks the best version across all its indexes; uv's default stops at the first
        # index that has the project, which would pin something pip never chose.
        "--index-strategy",
        "unsafe-best-match",
        *config.uv_args(),
    ]
    for path in constraints:
        cmd += ["--constraint", str(path)]
    for directory in local_dirs:
        cmd += ["--find-links", str(directory)]
    with tempfile.TemporaryDirectory() as cwd:
        # An empty working directory: uv must not pick up a pyproject.toml or uv.toml where it was started.
        result = subprocess.run(
            cmd, capture_output=True, text=True, check=False, cwd=cwd, env={**os.environ, **config.uv_env()}
        )
    if result.returncode != 0:
        raise BundleError(
            f"cannot resolve the requirements for CPython {python} (manylinux x86_64); uv says:\n{_tail(result)}"
        )
    pins: Pins = {}
    for raw in result.stdout.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = PIN.fullmatch(line)
        if not match:
            raise BundleError(
                f"uv pinned {line!r} for CPython {python}; a bundle holds wheels from an index or --app-wheels, "
                "not direct URLs or editable installs"
            )
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def local_wheels(dirs: list[Path]) -> dict[tuple[NormalizedName, Version], list[Path]]:
    """Wheels given on disk (stackgen's own, --app-wheels), by project name and version."""
    found: dict[tuple[NormalizedName, Version], list[Path]] = {}
    for directory in dirs:
        for wheel in sorted(directory.glob("*.whl")):
            try:
                name, version, _, _ = parse_wheel_filename(wheel.name)
            except (InvalidWheelFilename, InvalidVersion):
                continue
            found.setdefault((name, version), []).append(wheel)
    return found


def fetch(python: str, pins: Pins, local: dict[tuple[NormalizedName, Version], list[Path]], cache: Path) -> list[Path]:
    """The files that install `pins` on CPython `python`: local wheels as given, the rest from the cache,
    downloading into it only what it lacks."""
    files: list[Path] = []
    remote: list[str] = []
    for name, version in sorted(pins.items()):
        given = local.get((name, Version(version)))
        if given:
            # A wheel given on disk always wins over a registry's project of the same name and version.
            files += given
        else:
            remote.append(f"{name}=={version}")
    if not remote:
        return files
    try:
        return files + _pick(python, remote, cache)
    except BundleError:
        pass  # something is not cached yet
    step(f"downloading wheels for CPython {python} (cache: {cache})")
    run_pip(
        ["download", "--no-deps", *_target_args(python), "--dest", str(cache), *remote],
        f"downloading the pinned wheels for CPython {python}",
    )
    return files + _pick(python, remote, cache)


def _target_args(python: str) -> list[str]:
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return ["--only-binary=:all:", "--python-version", python, "--implementation", "cp", *platforms]


def _pick(python: str, requirements: list[str], cache: Path) -> list[Path]:
    # pip's own dry run, offline against the cache, names exactly the file it would install per pin.
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "--dry-run", "--ignore-installed", "--no-deps", *_target_args(python)]
        args += ["--target", str(Path(tmp) / "t"), "--no-index", "--find-links", str(cache), "--report", str(report)]
        run_pip([*args, *requirements], f"choosing the cached wheels for CPython {python}")
        items = json.loads(report.read_text())["install"]
    return [Path(url2pathname(urlparse(item["download_info"]["url"]).path)) for item in items]


def lock_lines(locks: dict[str, Pins]) -> list[str]:
    """requirements.txt lines: one pin where every target Python agrees, else one per Python with a marker."""
    pythons = sorted(locks, key=lambda p: tuple(int(n) for n in p.split(".")))
    lines: list[str] = []
    for name in sorted(set().union(*locks.values())):
        versions = {python: locks[python][name] for python in pythons if name in locks[python]}
        if len(versions) == len(pythons) and len(set(versions.values())) == 1:
            lines.append(f"{name}=={versions[pythons[0]]}")
        else:
            lines += [f'{name}=={version} ; python_version == "{python}"' for python, version in versions.items()]
    return lines


def lock_text(locks: dict[str, Pins]) -> str:
    pythons = ", ".join(sorted(locks, key=lambda p: tuple(int(n) for n in p.split("."))))
    header = f"# Lock for CPython {pythons}: pip install --no-index --find-links wheels -r requirements.txt"
    return "\n".join([header, *lock_lines(locks)]) + "\n"
