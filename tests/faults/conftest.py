"""Faults: real processes (aggregator replicas, Mosquitto, PostgreSQL, homes' link) made to fail."""

from __future__ import annotations

import pytest

from tests.aggregator.conftest import postgres  # noqa: F401 - the session's PostgreSQL server
from tests.community import addon_community, community, start_aggregator  # noqa: F401 - fixtures of every fault test


@pytest.fixture(autouse=True)
def every_test_reaches_local_servers(allow_local_sockets: None) -> None:
    """Let every fault test reach the real local servers it starts (tests/conftest.py)."""
