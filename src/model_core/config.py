"""Service configuration from environment variables, validated once at start."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .auth import is_acceptable_token
from .errors import ConfigError

PREFIX = "STACKGEN_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOAD_MODES = ("sync", "background", "none")
# The wait adds to a grouped request's latency: the cap keeps a slip (500 for 5) from stalling requests.
MAX_BATCH_WAIT_MS = 50.0
AdapterAuth = Literal["off", "required", "optional"]  # optional: anonymous callers are served too


@dataclass(frozen=True)
class Config:
    model_dir: Path
    max_batch: int = 1024
    max_body_bytes: int = 8 * 1024 * 1024
    log_level: str = "INFO"
    proxy_hops: int = 0
    auth_enabled: bool = False
    api_tokens: tuple[str, ...] = field(default=(), repr=False)
    release_id: str = ""
    load_mode: str = "sync"
    # Cross-request micro-batching (model_core.batching): 0 ms is off; max rows None means max_batch.
    batch_wait_ms: float = 0.0
    batch_max_rows: int | None = None
    # An adapter that authenticates and throttles the protected routes itself (Django's DRF)
    # says so here for the OpenAPI document; never from the environment, and the core then
    # checks no token itself (auth_enabled stays off).
    adapter_auth: AdapterAuth = "off"
    adapter_throttle: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read ``STACKGEN_*`` variables; raise ConfigError naming the first bad one."""
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(PREFIX + name)
            return default if value is None or value == "" else value

        model_dir = get("MODEL_DIR")
        if model_dir is None:
            raise ConfigError(
                f"{PREFIX}MODEL_DIR is not set: point it at a directory holding manifest.json "
                "and the model artifact (make model builds one in build/model)"
            )
        tokens = _read_tokens(get("API_TOKENS"), get("API_TOKENS_FILE"))
        auth = _boolean("AUTH", get("AUTH", "off"))
        if auth and not tokens:
            raise ConfigError(
                f"{PREFIX}AUTH is on but no token is configured: set {PREFIX}API_TOKENS "
                f"(comma-separated) or {PREFIX}API_TOKENS_FILE (one token per line)"
            )
        max_batch = _integer("MAX_BATCH", get("MAX_BATCH", "1024"), minimum=1)
        return cls(
            model_dir=Path(model_dir),
            max_batch=max_batch,
            max_body_bytes=_integer("MAX_BODY_BYTES", get("MAX_BODY_BYTES", str(8 * 1024 * 1024)), minimum=1024),
            log_level=_choice("LOG_LEVEL", (get("LOG_LEVEL", "INFO") or "").upper(), LOG_LEVELS),
            proxy_hops=_integer("PROXY_HOPS", get("PROXY_HOPS", "0"), minimum=0),
            auth_enabled=auth,
            api_tokens=tokens,
            release_id=get("RELEASE_ID", "") or "",
            load_mode=_choice("LOAD_MODE", get("LOAD_MODE", "sync") or "", LOAD_MODES),
            batch_wait_ms=_milliseconds("BATCH_WAIT_MS", get("BATCH_WAIT_MS", "0"), MAX_BATCH_WAIT_MS),
            batch_max_rows=_integer("BATCH_MAX_ROWS", get("BATCH_MAX_ROWS", str(max_batch)), minimum=1),
        )


def _integer(name: str, raw: str | None, minimum: int) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not an integer (expected an integer >= {minimum})") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name}={value} is too small (expected an integer >= {minimum})")
    return value


def _milliseconds(name: str, raw: str | None, maximum: float) -> float:
    expected = f"expected milliseconds from 0 to {maximum:g}"
    try:
        value = float(raw or "")
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a number ({expected})") from None
    if not (math.isfinite(value) and 0 <= value <= maximum):
        raise ConfigError(f"{PREFIX}{name}={raw!r} is out of range ({expected})")
    return value


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not allowed (expected one of: {', '.join(allowed)})")
    return raw


def _boolean(name: str, raw: str | None) -> bool:
    value = (raw or "").lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{PREFIX}{name}={raw!r} is not a boolean (expected on/off, true/false or 1/0)")


def _read_tokens(inline: str | None, path: str | None) -> tuple[str, ...]:
    tokens = [t.strip() for t in (inline or "").split(",") if t.strip()]
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{PREFIX}API_TOKENS_FILE={path!r} cannot be read: {exc.strerror}") from None
        tokens += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not all(is_acceptable_token(t) for t in tokens):
        # The message never quotes the token: it is a secret.
        raise ConfigError(
            f"{PREFIX}API_TOKENS/{PREFIX}API_TOKENS_FILE: a token contains a space, a control or a non-ASCII "
            "character; a bearer token is visible ASCII only"
        )
    return tuple(tokens)
