"""Where the repository's roles, playbooks and docker files are (stackgen runs from a checkout)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    override = os.environ.get("STACKGEN_HOME")
    if override:
        return Path(override).resolve()
    # Editable install from a checkout: src/stackgen/paths.py -> the checkout.
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "roles").is_dir():
        return candidate
    raise RuntimeError("cannot find the stackgen checkout (roles/, playbooks/); set STACKGEN_HOME to it")
