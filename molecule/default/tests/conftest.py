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
