"""Make the shared helpers (molecule/common/hostcheck.py) importable as `conftest`'s neighbours."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "common"))
