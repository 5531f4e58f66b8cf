"""A home joins its community and sends its readings: real Home Assistant, broker, aggregator.

The community (the aggregator's generated broker files, Mosquitto on them, the aggregator
service) runs as the manager runs it; the home joins through the config flow with a join code
the aggregator's command line issued, reads a simulated SDM630 over Modbus TCP, and Home
Assistant's clock is moved on with the time-travel fixture. The MQTT client's own thread keeps
real time (it is not Home Assistant's clock that paces its reconnections).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager
import yaml

from custom_components.ioe_community.const import CONF_COMMUNITY, DOMAIN, SUBENTRY_MODBUS
from custom_components.ioe_community.link.client import LinkState
from custom_components.ioe_community.link.messages import Meter, Quality, Quantity
from custom_components.ioe_community.link.outbox import DEFAULT_MAX_BATCHES, Outbox
from custom_components.ioe_community.link.protocol import Reading, encode_readings
from ioe_aggregator.members.join_code import encode
from ioe_dev.modbus_server import Registers
from ioe_dev.physical import write_values
from tests.community import Community, StartAggregator, call, start_service, stored_rows, wait_until
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER, StartModbusServer

from .conftest import CUPS, fix_issue
from .home_devices import answer_device_steps
from .joined_home import (
    IMPORT_KW,
    SDM630,
    add_meter,
    join,
    joined_home,
    reconfigure,
    sensor,
    sensor_state,
    start_meter,
    wait_after_broker_restart,
    wait_for_link,
)


def quarter_start(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


# Today, a while ago (the aggregator counts the readings in today's results), 5 minutes
# before a quarter hour; Home Assistant's clock runs on from there and jumps when told.
START = quarter_start(datetime.now(UTC) - timedelta(hours=1)) + timedelta(minutes=10)
# Where the tests that move the clock on by more than an hour start: the aggregator refuses
# readings from its future.
EARLY_START = START - timedelta(hours=1)
# 5 minutes before the last hour that has ended: its four quarters make it whole (an hour that
# has ended counts only when measured whole, whatever minute the test runs at).
HOUR_START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=65)


# Let the test reach the broker, the aggregator and the meter on 127.0.0.1.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """Let a test of this module use the recorder (its database is prepared before hass)."""


@pytest.mark.freeze_time(HOUR_START, tick=True)
async def test_a_joined_home_sends_its_readings_and_shows_its_results(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    # Nothing counted yet (results may have come, all empty): the figures say why.
    for key, reasons in (
        ("self_sufficiency", {"waiting_for_results", "no_consumption_counted"}),
        ("self_consumption", {"waiting_for_results", "no_generation_allocated"}),
        ("savings_month", {"waiting_for_results", "no_consumption_counted"}),
    ):
        waiting = sensor_state(hass, entry, key)
        assert waiting.state == "unknown"
        assert waiting.attributes["reason"] in reasons

    await home.run(timedelta(minutes=65))  # the four quarter hours of a whole hour

    def four_quarters() -> bool:
        rows = [r for r in stored_rows(community) if r[2] == "import_kwh"]
        return len(rows) >= 4

    await hass.async_add_executor_job(wait_until, four_quarters)
    imports = [r for r in stored_rows(community) if r[2] == "import_kwh"]
    assert [r[:3] for r in imports] == [("m-0001", "grid", "import_kwh")] * 4
    first = HOUR_START + timedelta(minutes=5)
    assert [r[3] for r in imports] == [
        int((first + n * timedelta(minutes=15)).timestamp()) for n in range(4)
    ]
    for row in imports:
        assert row[4] == pytest.approx(0.15, abs=0.002)
        assert row[5] == 0  # stored once, never replaced
    consumption = [r for r in stored_rows(community) if r[2] == "consumption_kwh"]
    assert [r[4] for r in consumption] == pytest.approx([r[4] for r in imports])

    # The community's results come back as the home's sensors.
    base = f"http://127.0.0.1:{port}"
    assert call(base, "POST", "/api/v1/results/publish", admin).status == 200
    expected = call(base, "GET", "/api/v1/members/m-0001/results", code.api_token).json()
    wanted = str(expected["today"]["import_kwh"])
    # Results the aggregator published earlier (after a quarter) may arrive first.
    await hass.async_add_executor_job(
        wait_until, lambda: sensor(hass, entry, "import_today") == wanted
    )
    # Readings of the community's today (Madrid), unless its midnight came between them and
    # the aggregator's now (its clock is not frozen).
    madrid = ZoneInfo("Europe/Madrid")
    computed = datetime.fromisoformat(expected["computed_at"].replace("Z", "+00:00"))
    same_day = HOUR_START.astimezone(madrid).date() == computed.astimezone(madrid).date()
    if same_day:
        assert expected["today"]["import_kwh"] > 0
    assert float(sensor(hass, entry, "coefficient_now")) == pytest.approx(
        expected["coefficient_now"] * 100
    )
    # Every batch is acknowledged (the last ack may still be on its way back).
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    assert sensor(hass, entry, "last_ack") not in ("unknown", "unavailable")
    # A figure without a value says why (the community computed none: no consumption, say).
    sufficiency = sensor_state(hass, entry, "self_sufficiency")
    if expected["kpis"] is None or expected["kpis"].get("self_sufficiency") is None:
        assert sufficiency.attributes["reason"] != "waiting_for_results"
    elif same_day:  # else results of before midnight, with no import today either, may show
        assert "reason" not in sufficiency.attributes

    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.freeze_time(EARLY_START, tick=True)
async def test_no_reading_lost_or_doubled_through_a_broker_outage_and_a_restart(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    start_service(community, start_aggregator)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    counted_from = home.import_kwh

    await home.run(timedelta(minutes=20))  # the quarter from :15 goes through
    community.broker.service.stop()
    await wait_for_link(hass, entry, "disconnected")
    await home.run(timedelta(minutes=30))  # two quarters wait in the outbox
    assert int(sensor(hass, entry, "backlog")) >= 2

    # Home Assistant restarts with batches in its outbox, in the middle of a quarter.
    await home.run(timedelta(minutes=7))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await home.run(timedelta(minutes=38))  # to :45 of the next hour: six quarters in all

    community.broker.service.start(port=community.broker.port)

    def six_quarters() -> bool:
        return len([r for r in stored_rows(community) if r[2] == "import_kwh"]) >= 6

    await wait_after_broker_restart(hass, six_quarters)
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    imports = [r for r in stored_rows(community) if r[2] == "import_kwh"]
    first = EARLY_START + timedelta(minutes=5)
    # Every quarter once, in order, none replaced by a second, different value.
    assert [r[3] for r in imports] == [
        int((first + n * timedelta(minutes=15)).timestamp()) for n in range(6)
    ]
    assert all(r[5] == 0 for r in imports)
    # What the meter counted over those six quarters (at its steady rate), all of it.
    assert sum(r[4] for r in imports) == pytest.approx(6 * 0.15, abs=0.005)
    assert home.import_kwh - counted_from >= 6 * 0.15
    assert all(r[4] >= 0 for r in stored_rows(community))

    assert await hass.config_entries.async_unload(entry.entry_id)


async def resend(hass: HomeAssistant, entry: Any, start: datetime, end: datetime) -> Any:
    return await hass.services.async_call(
        DOMAIN,
        "resend_readings",
        {"config_entry_id": entry.entry_id, "start": start, "end": end},
        blocking=True,
        return_response=True,
    )


@pytest.mark.freeze_time(EARLY_START, tick=True)
async def test_a_past_period_is_sent_again_from_the_recorders_history(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    start_service(community, start_aggregator)
    home, server = await start_meter(hass, freezer, modbus_server)
    entry = await join(hass, None)  # the home is set up first and joins its community later
    await add_meter(hass, entry, server)
    await home.run(timedelta(minutes=35))  # the quarters from :15 and :30, only recorded
    first = EARLY_START + timedelta(minutes=5)
    with pytest.raises(ServiceValidationError) as err:
        await resend(hass, entry, first, first + timedelta(minutes=30))
    assert err.value.translation_key == "not_joined"

    await reconfigure(hass, entry, {"join_code": encode(code)})
    await wait_for_link(hass, entry, "connected")
    await home.run(timedelta(minutes=35))  # the quarters after joining go out live

    for start, end in (
        (first, first),
        (first, first - timedelta(days=1)),
        (first - timedelta(days=40), first),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await resend(hass, entry, start, end)
        assert err.value.translation_key == "invalid_resend_period"
    with pytest.raises(ServiceValidationError) as err:
        await resend(hass, entry, first - timedelta(days=2), first - timedelta(days=1))
    assert err.value.translation_key == "no_history"

    await async_wait_recording_done(hass)
    # Since the meter was added, in the home's local time (a time without its zone).
    since = dt_util.as_local(first - timedelta(minutes=10)).replace(tzinfo=None)
    answer = await resend(hass, entry, since, dt_util.now().replace(tzinfo=None))
    assert answer["quarters"] == 4  # 2 from before joining, 2 after: the current one is left out
    assert answer["readings"] == 4 * 3  # import, export, consumption
    assert answer["batches"] == 1

    def four_quarters() -> bool:
        return len([r for r in stored_rows(community) if r[2] == "import_kwh"]) >= 4

    await hass.async_add_executor_job(wait_until, four_quarters)
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    imports = [r for r in stored_rows(community) if r[2] == "import_kwh"]
    # Each quarter once (one sent live is at most replaced by its recomputed value).
    assert [r[3] for r in imports] == [
        int((first + n * timedelta(minutes=15)).timestamp()) for n in range(4)
    ]
    for row in imports:
        assert row[4] == pytest.approx(0.15, abs=0.003)
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.freeze_time(START, tick=True)
async def test_batches_wait_for_the_aggregator_and_a_replaced_meter_counts_on(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    # What the home publishes, seen as the aggregator sees it: with its login, before it
    # starts (the broker binds a client's id to its login: one connection per login).
    observer = await hass.async_add_executor_job(
        community.connect, AGGREGATOR_USER, AGGREGATOR_PASSWORD
    )
    readings_topic = f"{code.topic_prefix}/m/m-0001/readings"
    await hass.async_add_executor_job(observer.subscribe, readings_topic)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    await home.run(timedelta(minutes=4))  # no quarter finishes yet
    await hass.async_add_executor_job(observer.close)

    # The live power went out every 10 s, with the protocol's names and signs.
    lives = [
        message["live"]
        for payload in observer.payloads(readings_topic)
        if "live" in (message := json.loads(payload))
    ]
    assert len(lives) >= 10
    assert lives[-1]["grid_w"] == pytest.approx(IMPORT_KW * 1000)
    assert lives[-1]["consumption_w"] == pytest.approx(IMPORT_KW * 1000)

    aggregator, port = start_service(community, start_aggregator)
    await home.run(timedelta(minutes=16))  # the quarter from :15 goes through
    aggregator.stop()
    await home.run(timedelta(minutes=10))
    home.import_kwh = 0.0  # the meter is replaced: its counter starts again from zero
    await home.run(timedelta(minutes=20))  # two quarters go to the broker, unacknowledged
    assert sensor(hass, entry, "link_status") == "connected"
    assert int(sensor(hass, entry, "backlog")) >= 2

    aggregator.start(port=port)

    def three_quarters() -> bool:
        return len([r for r in stored_rows(community) if r[2] == "import_kwh"]) >= 3

    await hass.async_add_executor_job(wait_until, three_quarters)
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    imports = [r for r in stored_rows(community) if r[2] == "import_kwh"]
    first = START + timedelta(minutes=5)
    assert [r[3] for r in imports] == [
        int((first + n * timedelta(minutes=15)).timestamp()) for n in range(3)
    ]
    # Neither the reset nor the wait lost, doubled or turned negative any energy.
    for row in imports:
        assert row[4] == pytest.approx(0.15, abs=0.003)
        assert row[5] == 0
    assert all(r[4] >= 0 for r in stored_rows(community))
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.freeze_time(START, tick=True)
async def test_a_full_outbox_raises_a_repair_and_keeps_the_readings(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    start_service(community, start_aggregator)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    community.broker.service.stop()
    await wait_for_link(hass, entry, "disconnected")
    # A long outage filled the outbox up to its limit (older quarters, another day).
    path = Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.outbox.db"))
    older = Outbox(path)
    day_before = quarter_start(START - timedelta(days=25))
    for n in range(DEFAULT_MAX_BATCHES - older.state().batches):
        start = day_before + n * timedelta(minutes=15)
        reading = Reading(
            Meter.GRID, Quantity.IMPORT, start, start + timedelta(minutes=15), 0.1, Quality.MEASURED
        )
        older.put(
            f"older-{n}",
            encode_readings(member="m-0001", batch=f"older-{n}", sent_at=start, readings=[reading]),
            start,
        )
    older.close()

    await home.run(timedelta(minutes=20))  # the quarter from :15 finishes: no room for it
    issue_id = f"outbox_full_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "outbox_full"
    assert sensor(hass, entry, "backlog") == str(DEFAULT_MAX_BATCHES)

    community.broker.service.start(port=community.broker.port)
    await wait_for_link(hass, entry, "connected")

    def drained() -> bool:
        return len(stored_rows(community)) >= DEFAULT_MAX_BATCHES

    await wait_after_broker_restart(hass, drained)
    await home.run(timedelta(minutes=2))  # the kept quarter goes into the outbox at last

    first = int((START + timedelta(minutes=5)).timestamp())

    def kept_quarter_stored() -> bool:
        return any(r[3] == first and r[2] == "consumption_kwh" for r in stored_rows(community))

    await hass.async_add_executor_job(wait_until, kept_quarter_stored)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    kept = [r for r in stored_rows(community) if r[3] == first and r[2] == "import_kwh"]
    assert len(kept) == 1
    assert kept[0][4] == pytest.approx(0.15, abs=0.003)
    assert await hass.config_entries.async_unload(entry.entry_id)


def damage(path: Path) -> None:
    """Write over the file past SQLite's 100-byte header, as a failing SD card returns it."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(100)
        file.write(random.Random(28).randbytes(size - 100))  # noqa: S311 - test data


@pytest.mark.freeze_time(EARLY_START, tick=True)
async def test_a_damaged_outbox_is_set_aside_and_what_waited_in_it_comes_back(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The outbox damaged while two quarters waited in it: every quarter reaches the store once."""
    code = community.add_member("m-0001", cups=CUPS)
    start_service(community, start_aggregator)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    await home.run(timedelta(minutes=20))  # the quarter from :15 goes through
    community.broker.service.stop()
    await wait_for_link(hass, entry, "disconnected")
    await home.run(timedelta(minutes=30))  # two quarters wait in the outbox
    assert int(sensor(hass, entry, "backlog")) >= 2

    # Home Assistant stops, and its SD card damages the outbox file.
    assert await hass.config_entries.async_unload(entry.entry_id)
    path = Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.outbox.db"))
    await hass.async_add_executor_job(damage, path)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"outbox_unusable_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert entry.runtime_data.community.state is LinkState.STOPPED
    await home.run(timedelta(minutes=15))  # the devices go on (and the recorder with them)
    community.broker.service.start(port=community.broker.port)

    await async_wait_recording_done(hass)
    result = await fix_issue(hass, issue_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    aside = {p.name for p in path.parent.iterdir() if p.name.startswith(f"{path.name}.damaged-")}
    assert len(aside - {f"{name}-wal" for name in aside}) == 1  # with its log, if it had one

    first = EARLY_START + timedelta(minutes=5)
    quarters = [int((first + n * timedelta(minutes=15)).timestamp()) for n in range(4)]

    def imports() -> list[tuple[Any, ...]]:
        return [r for r in stored_rows(community) if r[2] == "import_kwh"]

    await wait_after_broker_restart(hass, lambda: len(imports()) >= 4)
    await hass.async_add_executor_job(wait_until, lambda: sensor(hass, entry, "backlog") == "0")
    # Every quarter once (the one acknowledged before at most replaced by its value made
    # again from the recorder), the two that waited in the damaged file among them.
    assert [r[3] for r in imports()] == quarters
    # The quarter under way during the repair is sent once it has ended; the next, live.
    await home.run(timedelta(minutes=32))
    await hass.async_add_executor_job(wait_until, lambda: len(imports()) >= 6)
    quarters += [quarters[-1] + 900, quarters[-1] + 1800]
    assert [r[3] for r in imports()] == quarters
    for row in imports():
        assert row[4] == pytest.approx(0.15, abs=0.003)
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.freeze_time(EARLY_START, tick=True)
async def test_a_device_added_and_removed_keeps_the_link_and_follows_the_model(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The link stays connected through device changes and reads the home's new model.

    The grid's quarters go on uncut. A PV meter added in the middle of a quarter counts from
    its first whole one (the consumption waits for it); once it is removed, the consumption
    is made from the grid alone. No quarter is lost or sent twice.
    """
    code = community.add_member("m-0001", cups=CUPS)
    start_service(community, start_aggregator)
    home, entry = await joined_home(hass, freezer, modbus_server, code)
    link = entry.runtime_data.community
    await home.run(timedelta(minutes=22))  # the quarter from :15 goes out, into the next
    inverter = Registers(input=dict(SDM630.test_vectors[0].input))
    write_values(SDM630, inverter.input, {"power": -400.0, "export_energy": 500.0})
    pv = await modbus_server({1: inverter})

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MODBUS), context={"source": SOURCE_USER}
    )
    pv_meter = {"profile": "eastron_sdm630", "role": "pv", "transport": "tcp"}
    pv_meter |= {"host": "127.0.0.1", "port": pv.port, "unit": 1, "scan_interval": 10}
    result = await answer_device_steps(hass, result["flow_id"], pv_meter)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert entry.runtime_data.community is link  # not started again: still connected
    assert link.state is LinkState.CONNECTED
    await home.run(timedelta(minutes=30))  # the PV's first whole quarter, from :45

    pv_id = next(s.subentry_id for s in entry.subentries.values() if s.data["role"] == "pv")
    assert hass.config_entries.async_remove_subentry(entry, pv_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.community is link
    assert link.state is LinkState.CONNECTED
    await home.run(timedelta(minutes=15))  # the grid's quarter from :00

    def rows(quantity: str) -> list[tuple[Any, ...]]:
        return [r for r in stored_rows(community) if r[2] == quantity]

    await hass.async_add_executor_job(
        wait_until, lambda: len(rows("import_kwh")) >= 4 and len(rows("consumption_kwh")) >= 4
    )
    first = EARLY_START + timedelta(minutes=5)
    quarters = [int((first + n * timedelta(minutes=15)).timestamp()) for n in range(4)]
    for quantity in ("import_kwh", "consumption_kwh"):
        found = rows(quantity)
        assert [r[3] for r in found] == quarters, quantity  # each once, none lost
        assert all(r[5] == 0 for r in found)
        assert [r[4] for r in found] == pytest.approx([0.15] * 4, abs=0.003)
    # The PV's one whole quarter while it was there (it fed nothing in).
    assert [(r[1], r[3], r[4]) for r in rows("generation_kwh")] == [("pv", quarters[2], 0.0)]
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.freeze_time(START, tick=True)
async def test_the_community_device_is_named_as_the_manager_names_the_community(
    hass: HomeAssistant,
    community: Community,
    start_aggregator: StartAggregator,
    modbus_server: StartModbusServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The join code brings the community's name; a new name reaches the home while it runs."""
    community.options["community_name"] = "Comunidad Energética Los Molinos"
    community.config_file.write_text(yaml.safe_dump(community.options))
    code = community.add_member("m-0001", cups=CUPS)
    assert code.community_name == "Comunidad Energética Los Molinos"
    service, _port = start_service(community, start_aggregator)
    _home, entry = await joined_home(hass, freezer, modbus_server, code)
    link = entry.runtime_data.community
    devices = dr.async_get(hass)
    identifier = (DOMAIN, f"{entry.entry_id}_molinos")
    device = devices.async_get_device_by_identifier(identifier, entry.entry_id)
    assert device is not None
    assert device.name == "Comunidad Energética Los Molinos"

    # The manager renames the community (the add-on restarts with its new options).
    service.stop()
    community.options["community_name"] = "Cooperativa Los Molinos"
    start_service(community, start_aggregator)

    def renamed() -> bool:
        found = devices.async_get_device_by_identifier(identifier, entry.entry_id)
        return found is not None and found.name == "Cooperativa Los Molinos"

    await hass.async_add_executor_job(wait_until, renamed)
    assert entry.data[CONF_COMMUNITY]["community_name"] == "Cooperativa Los Molinos"
    await hass.async_block_till_done()
    assert entry.runtime_data.community is link  # the home was not set up again
    assert link.state is LinkState.CONNECTED
    # Its texts name it too (Reconfigure's step to change the community, here).
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": entry.title, "cups": CUPS}
    )
    assert result["step_id"] == "change_community"
    assert result["description_placeholders"]["current"] == "Cooperativa Los Molinos"
    assert await hass.config_entries.async_unload(entry.entry_id)
