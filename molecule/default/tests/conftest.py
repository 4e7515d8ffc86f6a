"""Shared helpers (molecule/common/hostcheck.py) and the bundles the release tests deploy."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))

from hostcheck import build_bundle

# A token no client of the tests sends: a bundle that turns auth on with it starts, reports
# ready, and then answers every inference with 401.
FOREIGN_TOKEN = "f" * 32


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    return {
        "good": build_bundle(tmp_path_factory.mktemp("good")),
        "ready_but_failing": build_bundle(
            tmp_path_factory.mktemp("ready-but-failing"),
            "--env",
            "STACKGEN_AUTH=on",
            "--env",
            f"STACKGEN_API_TOKENS={FOREIGN_TOKEN}",
        ),
        "crashing": build_bundle(tmp_path_factory.mktemp("crashing"), "--env", "STACKGEN_LOG_LEVEL=LOUD"),
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The release gate under load runs on the bookworm host only: it exercises the same roles
    on either release, costs about 7 minutes per host, and trixie still converges, proves
    idempotence, and runs the service, HTTP and check-mode tests. A third-party app (test_06)
    deploys on trixie only, whose Python 3.13 needs other pins than bookworm's 3.11 (the
    bundle's per-Python lock). Deselected, not skipped."""
    dropped = [
        item
        for item in items
        if ("test_04_release_gate" in item.nodeid and "trixie" in item.nodeid)
        or ("test_06_any_app" in item.nodeid and "bookworm" in item.nodeid)
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
