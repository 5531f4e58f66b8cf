"""A community read through a local fake Datadis, and the clock the fake lives in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from ioe_dev.fake_datadis import FakeDatadis, FakeSupply

from ..conftest import make_cups

MANAGER = "B12345678"
PASSWORD = "s3cret-pass"
# The owners of the members' supplies: OWNER authorised the manager, STRANGER did not.
OWNER, STRANGER, OWNER_QUARTERS = "12345678Z", "87654321X", "11111111H"
CUPS = make_cups(1)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


class Clock:
    """The fake's clock, moved by the test."""

    def __init__(self) -> None:
        """Start at NOW."""
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        """Return the time the fake lives in."""
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeDatadis:
    """Return Datadis holding the members' four supplies.

    m-1's (authorised, contract from March 2025, in a CAU), m-2's (not authorised), m-3's (the
    manager's own, since 2024) and m-4's (quarter hours, since September 2026).
    """
    return FakeDatadis(
        accounts={MANAGER: PASSWORD, OWNER: "owner-pass"},
        supplies=[
            FakeSupply(
                owner=OWNER,
                cups=CUPS,
                contract_start=date(2025, 3, 10),
                cau=CUPS + "A001",
                partition_coefficient=0.125,
                installed_capacity_kw=40.0,
            ),
            FakeSupply(owner=STRANGER, cups=make_cups(2), contract_start=date(2024, 5, 1)),
            FakeSupply(owner=MANAGER, cups=make_cups(3), contract_start=date(2024, 1, 8)),
            FakeSupply(
                owner=OWNER_QUARTERS,
                cups=make_cups(4),
                contract_start=date(2026, 9, 20),
                point_type=2,
            ),
        ],
        authorizations={OWNER: {MANAGER}, OWNER_QUARTERS: {MANAGER}},
        now=clock,
    )


@pytest.fixture
async def server(fake: FakeDatadis) -> AsyncIterator[TestServer]:
    test_server = TestServer(fake.app(), host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
