"""Datadis through the REST API of the real service: its status, and a sync asked for now.

The service syncs as it starts (no sync yet); an operator then asks for another, which runs in
the background while the status says so, and a second one meanwhile is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from pathlib import Path
import sqlite3
from typing import Any

from aiohttp.test_utils import TestServer
import yaml

from ioe_aggregator.auth.secrets import split_token

from ..conftest import Answer, Community, StartAggregator, call
from .conftest import OWNER, PASSWORD, STRANGER
from .test_commands import cli, configure

SYNC = "/api/v1/datadis/sync"


async def _call(base: str, method: str, path: str, token: str) -> Answer:
    """Call the API without blocking the loop that serves the fake."""
    return await asyncio.to_thread(call, base, method, path, token)


async def _status_until(
    base: str, token: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(300):  # the sync's queries are a second apart
        body: dict[str, Any] = (await _call(base, "GET", "/api/v1/datadis", token)).json()
        if check(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"the Datadis status never came: {body}")


async def _start(community: Community, start_aggregator: StartAggregator) -> str:
    """Start the service, its daily sync's members not spread over two hours."""
    options = yaml.safe_load(community.config_file.read_text())
    # In a thread: this loop serves the fake Datadis the service logs in to as it starts.
    _service, port = await asyncio.to_thread(start_aggregator, **options, datadis_spread_minutes=0)
    return f"http://127.0.0.1:{port}"


async def test_a_sync_asked_for_runs_in_the_background(
    community: Community, server: TestServer, start_aggregator: StartAggregator
) -> None:
    community.add_member("m-1", 1)
    community.add_member("m-2", 2)
    configure(community, server)
    for member, nif in (("m-1", OWNER), ("m-2", STRANGER)):
        await cli(community, "datadis", "link", member, "--nif", nif)
    viewer, operator, admin = (community.token(role) for role in ("viewer", "operator", "admin"))
    base = await _start(community, start_aggregator)

    first = await _status_until(base, viewer, lambda body: body["last_sync"] is not None)
    assert first["configured"] is True
    assert first["running"] is None
    assert first["last_sync"]["trigger"] == "schedule"
    assert first["last_sync"]["members"] == 2
    members = {m["member"]: m for m in first["members"]}
    assert (members["m-1"]["authorised"], members["m-2"]["authorised"]) == (True, False)
    assert members["m-1"]["nif"] == "12******Z"
    text = json.dumps(first)
    assert OWNER not in text
    assert PASSWORD not in text

    assert (await _call(base, "POST", SYNC, viewer)).status == 403
    # Called from this thread, the fake (on this loop) cannot answer: the sync is still running.
    started = call(base, "POST", SYNC, operator)
    again = call(base, "POST", SYNC, operator)
    assert started.status == 202
    assert started.json()["trigger"] == "manual"
    assert started.json()["running"] is True
    assert (again.status, again.json()["error"]) == (409, "sync_running")
    running = call(base, "GET", "/api/v1/datadis", viewer).json()
    assert running["running"]["trigger"] == "manual"

    done = await _status_until(
        base,
        viewer,
        lambda body: body["running"] is None and body["last_sync"]["trigger"] == "manual",
    )
    assert done["last_sync"]["login_refused"] is False
    assert done["last_sync"]["finished_at"] is not None
    overview = (await _call(base, "GET", "/api/v1/community/overview", viewer)).json()
    assert overview["datadis"] | {"last_sync": None} == {
        "configured": True,
        "running": False,
        "last_sync": None,
        "login_refused": False,
        "members_linked": 2,
        "members_authorised": 1,
        "members_not_authorised": 1,
    }
    entries = (await _call(base, "GET", "/api/v1/audit", admin)).json()["entries"]
    syncs = [entry for entry in entries if entry["action"] == "datadis_sync"]
    assert [entry["actor"] for entry in syncs] == [f"token:{split_token(operator)[0]}"]  # type: ignore[index]


async def test_a_refused_login_is_an_alert(
    community: Community, server: TestServer, start_aggregator: StartAggregator
) -> None:
    community.add_member("m-1", 1)
    configure(community, server, password="not-the-password")
    await cli(community, "datadis", "link", "m-1", "--nif", OWNER)
    viewer = await asyncio.to_thread(community.token, "viewer")
    base = await _start(community, start_aggregator)

    status = await _status_until(base, viewer, lambda body: body["last_sync"] is not None)
    overview = (await _call(base, "GET", "/api/v1/community/overview", viewer)).json()

    assert status["login_refused"] is True
    assert status["last_sync"]["login_refused"] is True
    assert overview["datadis"]["login_refused"] is True
    (alert,) = (a for a in overview["alerts"] if a["kind"] == "datadis_login_refused")
    assert alert["member"] is None
    assert alert["since"] == status["last_login"]["at"]
    assert "not-the-password" not in json.dumps(status) + json.dumps(overview)
    # The webhooks are told (the event is kept for those that want it), without the password.
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        told = connection.execute(
            "SELECT data FROM webhook_events WHERE type = 'datadis.sync_failed'"
        ).fetchall()
    assert told
    assert json.loads(told[0][0])["login_refused"]  # why, in Datadis's words
    assert "not-the-password" not in told[0][0]
