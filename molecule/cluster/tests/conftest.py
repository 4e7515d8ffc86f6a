"""The cluster's hosts by role, as fixtures (helpers: fleet.py)."""

from __future__ import annotations

import pytest
from fleet import APP_HOSTS, get


@pytest.fixture(scope="session")
def lb():
    return get("stackgen-cluster-lb")


@pytest.fixture(scope="session")
def apps():
    return [get(name) for name in APP_HOSTS]


@pytest.fixture(scope="session")
def db():
    return get("stackgen-cluster-db")
