"""Health that tells the truth, and tasks that cannot die in silence.

Before: when the only writer task ended, every member's acks stopped for good while
``/api/health`` stayed green, and a full disk (which still answers a ping) looked healthy.
Now every long-running task is supervised (one that ends stops the service, so that its own
supervisor starts it again) and health reports each task and the last write, 503 when the
ingest cannot store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
from pathlib import Path
import sqlite3
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
import pytest

from ioe_aggregator.app import Services, build_services, create_app
from ioe_aggregator.config import load_config
from ioe_aggregator.replicas import SoleReplica
from ioe_aggregator.store import open_store
from ioe_aggregator.supervisor import Supervisor, TaskEnded
from tests.community import (
    PREFIX,
    SERVICE_TASKS,
    Community,
    StartAggregator,
    acks,
    batch,
    get_json,
    home,
    payload,
    start_service,
    stored_rows,
)

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

# What a full disk looks like to SQLite, raised at the database's own boundary.
DISK_FULL = """CREATE TRIGGER disk_full BEFORE INSERT ON readings
    BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"""


def _database(community: Community) -> Path:
    return Path(community.options["database_url"].removeprefix("sqlite:///"))


def _health_until(port: int, status: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        code, body = get_json(f"http://127.0.0.1:{port}/api/health")
        if code == status or time.monotonic() > deadline:
            assert code == status, body
            return body
        time.sleep(0.1)


def test_health_is_503_while_the_ingest_cannot_store_and_nothing_is_lost(
    community: Community, start_aggregator: StartAggregator
) -> None:
    client = home(community, "m-0001")
    _service, port = start_service(community, start_aggregator)
    with sqlite3.connect(_database(community)) as connection:
        connection.execute(DISK_FULL)

    client.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))
    body = _health_until(port, 503)

    assert body["problems"] == ["ingest"]
    assert body["database"]["status"] == "ok"  # a ping still answers: it is not enough
    assert body["ingest"]["last_write"]["ok"] is False
    assert "disk is full" in body["ingest"]["last_write"]["error"]
    assert acks(client, "m-0001") == []  # never acknowledged, so the home keeps it

    with sqlite3.connect(_database(community)) as connection:
        connection.execute("DROP TRIGGER disk_full")
    client.publish(f"{PREFIX}/m/m-0001/readings", payload(batch("m-0001", "b-1")))  # resent
    client.wait_for(lambda: acks(client, "m-0001"))

    assert _health_until(port, 200)["problems"] == []
    assert len(stored_rows(community)) == 4


def test_health_lists_every_task_running(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_service(community, start_aggregator)

    body = get_json(f"http://127.0.0.1:{port}/api/health")[1]

    assert body["tasks"] == {name: {"running": True, "error": None} for name in SERVICE_TASKS}


async def _failing() -> None:
    await asyncio.sleep(0)
    raise RuntimeError("a bug nobody caught")


async def _returning() -> None:
    await asyncio.sleep(0)


async def test_a_task_that_ends_is_logged_at_once_and_ends_the_service(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor()
    supervisor.start("steady", asyncio.Event().wait())
    supervisor.start("doomed", _failing())

    ended = await asyncio.wait_for(supervisor.wait_for_failure(), 5)

    assert isinstance(ended, TaskEnded)
    assert "task doomed ended: RuntimeError: a bug nobody caught" in str(ended)
    (record,) = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "Task doomed ended" in record.getMessage()
    assert record.exc_info is not None  # with its traceback
    states = supervisor.states()
    assert states["steady"].running
    assert not states["doomed"].running
    await supervisor.stop()


async def test_a_task_that_returns_ends_the_service_too() -> None:
    supervisor = Supervisor()
    supervisor.start("quiet", _returning())

    ended = await asyncio.wait_for(supervisor.wait_for_failure(), 5)

    assert "task quiet ended: returned" in str(ended)
    await supervisor.stop()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    config = load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    store = await open_store(config.database_url)
    built = await build_services(config, store, SoleReplica(store))
    yield built
    await built.supervisor.stop()
    await store.close()


async def test_health_is_503_while_a_task_is_not_running(
    services: Services, tmp_path: Path
) -> None:
    config = load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    services.supervisor.start("ingest", services.ingest.run())
    services.supervisor.start("doomed", _failing())
    await asyncio.wait_for(services.supervisor.wait_for_failure(), 5)
    async with TestClient(TestServer(create_app(config, services))) as client:
        answer = await client.get("/api/health")
        body = await answer.json()

    assert answer.status == 503
    assert body["problems"] == ["task doomed"]
    assert body["tasks"]["ingest"] == {"running": True, "error": None}
    assert body["tasks"]["doomed"]["error"] == "RuntimeError: a bug nobody caught"
