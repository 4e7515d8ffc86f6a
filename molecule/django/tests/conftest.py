"""Make the shared helpers (molecule/common/hostcheck.py) importable as `conftest`'s neighbours."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))


def pytest_collection_modifyitems(config, items) -> None:
    """The tests check the Django host; the ACME server's host (pebble) only serves them.
    Deselected, not skipped."""
    dropped = [item for item in items if "stackgen-django-acme" in item.nodeid]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
