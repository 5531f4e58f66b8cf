"""Run the real aggregator service as its own process, as the add-on does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import itertools
from pathlib import Path
import shutil
import tempfile

import pytest
import pytest_socket

from ioe_aggregator.config import Config, load_config
from ioe_aggregator.members.registry import Member, NewMember, Registry
from ioe_aggregator.store import Store, open_store
from ioe_dev.postgres import PostgresServer, start_postgres
from tests.community import (  # noqa: F401 - fixtures and helpers of every aggregator test
    SERVICE_TASKS,
    Answer,
    Community,
    MqttClient,
    StartAggregator,
    addon_community,
    aggregator_command,
    aggregator_env,
    call,
    community,
    get_json,
    make_cups,
    start_aggregator,
    start_service,
    stored_rows,
    wait_for_broker_status,
)

# The members of the results' tests (``registry_with_members``).
MEMBERS = ("m-1", "m-2", "m-3")


@pytest.fixture(autouse=True)
def every_test_reaches_local_servers(allow_local_sockets: None) -> None:
    """Let every aggregator test reach the real local servers it starts (tests/conftest.py)."""


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the session (tests make their own databases).

    It is set up before the first test that uses it lifts Home Assistant's socket guard, so it
    lifts the guard itself (each test's setup puts the guard back).
    """
    pytest_socket.enable_socket()
    directory = Path(tempfile.mkdtemp(prefix="ioe-postgres-"))
    server = start_postgres(directory)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def timescale_postgres() -> Iterator[PostgresServer]:
    """Start a throw-away PostgreSQL server with TimescaleDB preloaded (telemetry off)."""
    pytest_socket.enable_socket()
    directory = Path(tempfile.mkdtemp(prefix="ioe-timescale-"))
    server = start_postgres(
        directory,
        {"shared_preload_libraries": "timescaledb", "timescaledb.telemetry_level": "off"},
    )
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


_databases = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty database: SQLite, then one on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aggregator.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"test_{next(_databases)}")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """Yield an open, migrated store on each backend."""
    opened = await open_store(database_url)
    yield opened
    await opened.close()


async def register_members(store: Store, cups: dict[str, str]) -> list[Member]:
    """Register members (id → CUPS) straight in the store; return every registered member."""
    registry = Registry(
        store, load_config(None, {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "broker.example"}).members
    )
    for number, (member, supply) in enumerate(cups.items(), start=1):
        new = NewMember(
            id=member, name=f"Casa {number}", cups=supply, contracted_kw=4.6, investment_share=0.1
        )
        await registry.add(new, actor="test")
    return list(await registry.members())


def config(**options: str) -> Config:
    """Return the configuration of the environment variables ``options`` name (key=value)."""
    environ = {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "broker.example"}
    environ |= {f"IOE_AGGREGATOR_{key.upper()}": value for key, value in options.items()}
    return load_config(None, environ)


async def registry_with_members(store: Store, settings: Config) -> Registry:
    """Register MEMBERS (m-3 with the community's plant); return the registry."""
    registry = Registry(store, settings.members)
    for number, member in enumerate(MEMBERS, start=1):
        new = NewMember(
            id=member,
            name=f"Casa {number}",
            cups=make_cups(number),
            contracted_kw=3.3 * number,
            investment_share=(0.5, 0.3, 0.2)[number - 1],
            # The community's plant is registered at m-3's.
            plant_kw=5.0 if member == "m-3" else 0.0,
        )
        await registry.add(new, actor="test")
    return registry
