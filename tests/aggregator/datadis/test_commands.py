"""``datadis link|sync|status`` as a manager runs them, against the fake served by the test."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp.test_utils import TestServer
import pytest
import yaml

from ioe_dev.aggregator_cli import run_aggregator
from ioe_dev.fake_datadis import FakeDatadis

from ..conftest import Community, StartAggregator, aggregator_env, stored_rows
from .conftest import MANAGER, OWNER, PASSWORD, STRANGER, Clock


async def cli(community: Community, *args: str) -> tuple[int, str, str]:
    """Run a command without blocking the loop that serves the fake."""
    result = await asyncio.to_thread(
        run_aggregator,
        [*args, "--config", str(community.config_file)],
        env=aggregator_env(),
        timeout=120,
    )
    return result.returncode, result.stdout, result.stderr


def configure(community: Community, server: TestServer, password: str = PASSWORD) -> None:
    options = community.options | {
        "datadis_username": MANAGER.lower(),  # a NIF is read in capitals
        "datadis_password": password,
        "datadis_url": str(server.make_url("/")).rstrip("/"),
        "datadis_history_months": 3,
    }
    community.config_file.write_text(yaml.safe_dump(options))


@pytest.fixture(autouse=True)
def real_time(clock: Clock) -> None:
    """Run the fake at the real time, as the command line does."""
    clock.now = time.time()


async def test_link_sync_and_status(community: Community, server: TestServer) -> None:
    community.add_member("m-1", 1)
    community.add_member("m-2", 2)
    code, out, _ = await cli(community, "datadis", "status")
    assert "Datadis is not configured" in out
    configure(community, server)

    code, out, _ = await cli(community, "datadis", "sync")
    assert (code, out.strip()) == (0, "No member is read through Datadis (datadis link MEMBER …).")
    for member, nif in (("m-1", OWNER), ("m-2", STRANGER)):
        code, out, err = await cli(community, "datadis", "link", member, "--nif", nif)
        assert code == 0, err
    assert out.strip() == "m-2 is read through NIF 87******X"

    code, out, err = await cli(community, "datadis", "sync", "--json")
    assert code == 0, err
    report = {m["member"]: m for m in json.loads(out)["members"]}
    assert report["m-1"]["status"] == "ok"
    assert len(report["m-1"]["months"]) == 3
    assert report["m-2"]["status"] == "not_authorized"

    code, out, _ = await cli(community, "datadis", "status", "--json")
    status = {m["member"]: m for m in json.loads(out)["members"]}
    assert status["m-1"]["last_success"] is not None
    assert status["m-1"]["nif"] == "12******Z"
    assert status["m-1"]["contract"]["cau"] is not None
    assert status["m-2"]["status"] == "not_authorized"
    assert "has not authorised" in status["m-2"]["last_error"]
    code, text, _ = await cli(community, "datadis", "status")
    assert "m-2" in text
    assert "not_authorized" in text
    assert OWNER not in text  # NIFs are shown masked

    # Asked again at once: nothing is sent (every query is less than 24 hours old).
    code, out, _ = await cli(community, "datadis", "sync", "--json")
    assert [m["queries"] for m in json.loads(out)["members"]] == [0, 0]


async def test_a_wrong_password_is_named_and_not_shown(
    community: Community, server: TestServer
) -> None:
    community.add_member("m-1", 1)
    configure(community, server, password="not-the-password")
    await cli(community, "datadis", "link", "m-1", "--nif", OWNER)

    code, out, err = await cli(community, "datadis", "sync")

    assert code == 1
    assert "Datadis refused the login" in out
    assert "wrong NIF or password" in out
    assert "not-the-password" not in out + err
    code, out, _ = await cli(community, "datadis", "status")
    assert "(refused)" in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["link", "m-9", "--nif", OWNER], "m-9"),
        (["link", "m-1", "--nif", "not-a-nif"], "expected a NIF/NIE"),
        (["unlink", "m-1"], "is not read through Datadis"),
        (["sync", "--from", "2026-01"], "--from and --to go together"),
    ],
)
async def test_refusals(
    community: Community, server: TestServer, arguments: list[str], message: str
) -> None:
    community.add_member("m-1", 1)
    configure(community, server)

    code, _, err = await cli(community, "datadis", *arguments)

    assert code != 0
    assert message in err


async def test_the_service_syncs_when_it_starts(
    community: Community, server: TestServer, fake: FakeDatadis, start_aggregator: StartAggregator
) -> None:
    community.add_member("m-1", 1)
    configure(community, server)
    await cli(community, "datadis", "link", "m-1", "--nif", OWNER)

    service, _ = start_aggregator(**yaml.safe_load(community.config_file.read_text()))
    for _ in range(300):  # the sync's queries are a second apart
        if "Datadis sync done" in service.log_file.read_text():
            break
        await asyncio.sleep(0.2)

    assert len(fake.queries("get-consumption-data-v2")) == 3
    stored = {row[1:3] for row in stored_rows(community)}
    assert stored == {("grid", "import_kwh")}
    assert "Datadis sync done: 1 members" in service.log_file.read_text()
    assert PASSWORD not in service.log_file.read_text()
