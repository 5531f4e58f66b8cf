"""A joined home's distributor history becomes long-term statistics: real HA, API, recorder.

The community imports a distributor's export (as the manager would, or as the Datadis sync
stores it); the home reads it through the community's API (its HTTPS listener, whose
certificate the join code's CA signed) with its join code's token and writes it as external
statistics, which the recorder keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
import socket
from typing import Any

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.statistics import get_metadata, statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager

from custom_components.ioe_community.const import CONF_COMMUNITY, DOMAIN
from custom_components.ioe_community.distributor_history import statistic_id
from tests.community import Community, StartAggregator, start_service

from .conftest import CUPS, fix_issue, fix_issue_answer
from .joined_home import join

FIXTURE_CUPS = "ES0021000000000001RK"  # make_cups(1), m-0001
FIXTURE = Path(__file__).parents[1] / "aggregator/distributor/fixtures/edistribucion_october.csv"
OCTOBER_26 = datetime(2025, 10, 25, 22, tzinfo=UTC)


# Let the test reach the aggregator's API on 127.0.0.1.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Use the recorder (its database is prepared before hass)."""


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """Listen on a TCP port and answer nothing: whoever connects waits in its queue."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


async def import_history(hass: HomeAssistant) -> dict[str, Any]:
    answer = await hass.services.async_call(
        DOMAIN, "import_distributor_history", {}, blocking=True, return_response=True
    )
    await async_wait_recording_done(hass)
    return dict(answer or {})


async def statistics(hass: HomeAssistant, quantity: str) -> list[dict[str, Any]]:
    identifier = statistic_id(CUPS, quantity)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        OCTOBER_26 - timedelta(days=1),
        None,
        {identifier},
        "hour",
        None,
        {"state", "sum"},
    )
    return [dict(row) for row in rows.get(identifier, [])]


def recent_days_csv(tmp_path: Path, kwh: float) -> Path:
    """Write a UFD export of the last three whole local days, ``kwh`` every hour."""
    today = dt_util.now().date()
    lines = ["CUPS;FECHA;HORA;EHCR (kWh);EHEX (kWh)"]
    for back in (3, 2, 1):
        day = today - timedelta(days=back)
        lines += [
            f"{FIXTURE_CUPS};{day:%d/%m/%Y};{hour:02d}:00;{kwh:.3f}".replace(".", ",") + ";0"
            for hour in range(1, 25)
        ]
    path = tmp_path / f"recent-{kwh}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_the_distributor_history_becomes_statistics(
    recorder_mock: Any,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    tmp_path: Path,
) -> None:
    start_service(community, start_aggregator)
    code = community.add_member("m-0001", 1)
    community.cli("import-csv", str(FIXTURE))  # October 2025
    community.cli("import-csv", str(recent_days_csv(tmp_path, 0.5)))
    assert code.api_url == community.options["public_api_url"]
    assert code.api_url == f"https://127.0.0.1:{community.options['https_port']}"
    entry = await join(hass, code)

    first = await import_history(hass)
    imports = await statistics(hass, "import_kwh")

    # Two years back: the October day of 25 hours, the next, and the last three days.
    assert first["hours_written"] == {
        "export": 49 + 72,  # UFD's EHEX column: zeros are values too
        "import": 49 + 72,
        "self_consumption": 49,
    }
    assert len(imports) == 49 + 72
    assert datetime.fromtimestamp(imports[0]["start"], UTC) == OCTOBER_26
    assert imports[24]["state"] == pytest.approx(0.35)  # hour 25
    october = sum(0.1 + 0.01 * h for h in range(1, 26)) + sum(0.1 + 0.01 * h for h in range(1, 25))
    assert imports[48]["sum"] == pytest.approx(october)
    assert imports[-1]["sum"] == pytest.approx(october + 72 * 0.5)
    assert (await statistics(hass, "export_kwh"))[-1]["sum"] == pytest.approx(0.6)
    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={statistic_id(CUPS, "import_kwh")})
    )
    ((_, meta),) = metadata.values()
    assert (meta["unit_of_measurement"], meta["source"]) == ("kWh", DOMAIN)
    assert meta["name"] == "Casa grid import (distributor)"

    # The distributor corrects its recent values: a refresh rewrites the last two months on
    # top of the sum before them, and leaves October 2025 as it was.
    community.cli("import-csv", str(recent_days_csv(tmp_path, 0.4)))
    again = await import_history(hass)
    imports = await statistics(hass, "import_kwh")

    assert again["hours_written"] == {"export": 72, "import": 72}
    assert len(imports) == 49 + 72
    assert imports[48]["sum"] == pytest.approx(october)
    assert imports[-1]["sum"] == pytest.approx(october + 72 * 0.4)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_problems_reading_the_api_are_named(
    recorder_mock: Any,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
) -> None:
    service, _port = start_service(community, start_aggregator)
    code = community.add_member("m-0001", 1)
    await join(hass, code)

    community.cli("members", "rotate", "m-0001")  # the home's token no longer works
    with pytest.raises(HomeAssistantError) as refused:
        await import_history(hass)
    service.stop()
    with pytest.raises(HomeAssistantError) as unreachable:
        await import_history(hass)

    assert refused.value.translation_key == "api_invalid_auth"
    assert unreachable.value.translation_key == "api_cannot_connect"


async def test_a_join_code_without_the_api_or_no_community(
    recorder_mock: Any,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
) -> None:
    # A join code from an aggregator that did not give homes the API's address.
    code = replace(community.add_member("m-0001", 1), api_url=None)
    start_service(community, start_aggregator)
    entry = await join(hass, code)

    with pytest.raises(HomeAssistantError) as no_api:
        await import_history(hass)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_remove(entry.entry_id)
    await join(hass, None)
    with pytest.raises(ServiceValidationError) as not_joined:
        await import_history(hass)

    assert no_api.value.translation_key == "no_api_address"
    assert not_joined.value.translation_key == "not_joined_history"


async def test_an_api_address_in_clear_is_refused_before_any_request(
    recorder_mock: Any,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    listener: socket.socket,
) -> None:
    # Saved by an older version from a join code with an http:// address (the flow refuses
    # such codes now): the token must never go there.
    start_service(community, start_aggregator)
    code = community.add_member("m-0001", 1)
    port = listener.getsockname()[1]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={
            "name": "Casa",
            "cups": CUPS,
            CONF_COMMUNITY: asdict(replace(code, api_url=f"http://127.0.0.1:{port}")),
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    with pytest.raises(HomeAssistantError) as refused:
        await import_history(hass)

    assert refused.value.translation_key == "api_not_https"
    with pytest.raises(BlockingIOError):  # nobody connected
        listener.accept()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_deleted_home_leaves_no_outbox_and_its_statistics_go_when_asked(
    recorder_mock: Any,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    tmp_path: Path,
) -> None:
    start_service(community, start_aggregator)
    code = community.add_member("m-0001", 1)
    community.cli("import-csv", str(recent_days_csv(tmp_path, 0.5)))
    entry = await join(hass, code)
    await import_history(hass)
    outbox = Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.outbox.db"))
    assert await hass.async_add_executor_job(outbox.exists)
    link_sensors = [
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if (e.capabilities or {}).get("state_class")
    ]
    assert link_sensors  # the community's figures are sensors with statistics

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not await hass.async_add_executor_job(outbox.exists)
    issue_id = f"statistics_left_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"home": "Casa"}
    # Nothing is deleted before the household answers.
    assert await statistics(hass, "import_kwh")

    result = await fix_issue(hass, issue_id)
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {"count": str(len(link_sensors) + 4)}
    result = await fix_issue_answer(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await async_wait_recording_done(hass)
    assert await statistics(hass, "import_kwh") == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
