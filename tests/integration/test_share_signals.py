"""The household's signals: its share now and ahead, "surplus for me", the tariff period.

A real Home Assistant core; for the share, a home joined to a real Mosquitto with a simulated
SDM630 (600 W of import), and the community's retained messages published as the aggregator
publishes them. The link is then cut: the figures go on from the last forecast, and the
forecast survives a restart of the home with the broker still down.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ioe_community.const import DOMAIN
from custom_components.ioe_community.controls.tariff import is_valley_day
from tests.community import PREFIX, RESULTS, Community, MqttClient, state_message, wait_until
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER, StartModbusServer

from .conftest import CUPS, set_up_home
from .joined_home import IMPORT_KW, entity_id, joined_home, share

MADRID = ZoneInfo("Europe/Madrid")


def _working_day_before(day: date) -> date:
    while is_valley_day(day):
        day -= timedelta(days=1)
    return day


# A recent working day at 11:10 in Madrid: peak time, the sun up. In the past: the community's
# certificates are made on the test's clock and checked by the broker on the real one.
NOON = datetime.combine(
    _working_day_before(datetime.now(MADRID).date() - timedelta(days=2)), time(11, 10), MADRID
)
# The forecast of the share: 0.8 kWh in the hour under way, then 0.15 kWh less each hour to 0.
FORECAST_KWH = [round(max(0.8 - 0.15 * n, 0.0), 2) for n in range(36)]

pytestmark = pytest.mark.usefixtures("allow_local_sockets")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def forecast(now: datetime, kwh: list[float]) -> dict[str, Any]:
    """Return a member's forecast as the aggregator publishes it, from ``now``'s hour."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "schema": "ioe.forecast.v1",
        "computed_at": _utc(now),
        "method": "clear-sky-index",
        "history_days": 14,
        "hours": [
            {
                "start": _utc(hour + timedelta(hours=n)),
                "kwh": value,
                "kwh_p10": round(value * 0.6, 4),
                "kwh_p90": round(value * 1.2, 4),
            }
            for n, value in enumerate(kwh)
        ],
    }


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    await _move_to(hass, freezer, dt_util.utcnow() + delta)


async def _move_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime) -> None:
    freezer.move_to(moment)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.freeze_time(NOON, tick=True)
async def test_the_share_now_and_ahead_go_on_from_the_last_forecast_when_the_link_is_down(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    modbus_server: StartModbusServer,
    community: Community,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await hass.config.async_set_time_zone("Europe/Madrid")
    code = community.add_member("m-0001", cups=CUPS)
    aggregator: MqttClient = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    now = dt_util.utcnow()
    # β = 10 % of 10 kW now: 1000 W allocated, of which the home's 600 W import takes 600.
    results = RESULTS | {
        "computed_at": _utc(now),
        "coefficient_now": 0.1,
        "allocated_w_now": 1000.0,
    }
    aggregator.publish(f"{PREFIX}/m/m-0001/results", json.dumps(results).encode(), retain=True)
    # The aggregator's clock is two hours ahead of the home's: its state is judged by when it
    # came too, and grows old on the home's clock all the same.
    ahead = now + timedelta(hours=2)
    aggregator.publish(
        f"{PREFIX}/community/state", json.dumps(state_message(ahead, 10000.0)).encode(), retain=True
    )
    events: list[Event] = []
    hass.bus.async_listen(f"{DOMAIN}_forecast", events.append)
    aggregator.publish(
        f"{PREFIX}/m/m-0001/forecast",
        json.dumps(forecast(now, FORECAST_KWH)).encode(),
        retain=True,
    )
    _home, entry = await joined_home(hass, freezer, modbus_server, code)
    link = entry.runtime_data.community
    await hass.async_add_executor_job(
        wait_until,
        lambda: (
            link.coordinator.data.forecast is not None
            and link.coordinator.data.community_state is not None
            and link.coordinator.data.results is not None
        ),
    )
    await _tick(hass, freezer, timedelta(seconds=10))  # the meter read once more

    allocated = share(hass, entry, "sensor", "allocated_power")
    assert float(allocated.state) == pytest.approx(1000.0)
    assert allocated.attributes["source"] == "community"
    unused = share(hass, entry, "sensor", "unused_share")
    assert float(unused.state) == pytest.approx(1000.0 - IMPORT_KW * 1000, abs=5)
    surplus = share(hass, entry, "binary_sensor", "surplus_for_me")
    assert surplus.state == "on"
    assert surplus.attributes["unused_w"] == pytest.approx(400.0, abs=5)

    # The forecast: what is left of today from 11:00 to midnight (13 hours), hour by hour.
    ahead = share(hass, entry, "sensor", "share_forecast")
    assert float(ahead.state) == pytest.approx(sum(FORECAST_KWH[:13]))
    hourly = ahead.attributes["detailedHourly"]
    assert len(hourly) == 36
    assert hourly[0] == {
        "period_start": NOON.replace(minute=0).isoformat(),
        "pv_estimate": 0.8,
        "pv_estimate10": 0.48,
        "pv_estimate90": 0.96,
    }
    assert ahead.attributes["wh_hours"][NOON.replace(hour=12, minute=0).isoformat()] == 650
    assert ahead.attributes["next_24h_kwh"] == pytest.approx(sum(FORECAST_KWH[:24]))
    assert ahead.attributes["next_24h_kwh_p10"] == pytest.approx(
        sum(round(v * 0.6, 4) for v in FORECAST_KWH[:24])
    )
    # One event for the forecast, not one more for the same retained message at a reconnection.
    assert len(events) == 1
    assert events[0].data["member"] == "m-0001"
    assert events[0].data["today_kwh"] == pytest.approx(sum(FORECAST_KWH[:13]))

    # The broker goes away; the community's state grows old: the forecast's hour takes over.
    community.broker.service.stop()
    await hass.async_add_executor_job(
        wait_until, lambda: share(hass, entry, "sensor", "link_status").state != "connected"
    )
    # Five minutes after it came (its stamp is in the home's future); up to the minute before
    # that moment, it is still the community's figure.
    fresh_until = link.coordinator.data.state_fresh_until
    assert fresh_until is not None
    assert fresh_until - dt_util.utcnow() <= timedelta(minutes=5)
    last_minute = fresh_until.replace(second=0, microsecond=0)
    if last_minute > dt_util.utcnow():
        await _move_to(hass, freezer, last_minute)
    assert share(hass, entry, "sensor", "allocated_power").attributes["source"] == "community"
    # At that moment, between two minutes and with the meter's power unchanged, every figure
    # turns to the forecast together (not each at its next refresh).
    await _move_to(hass, freezer, fresh_until)
    allocated = share(hass, entry, "sensor", "allocated_power")
    assert allocated.attributes["source"] == "forecast"
    assert float(allocated.state) == pytest.approx(800.0)
    unused = share(hass, entry, "sensor", "unused_share")
    assert unused.attributes["source"] == "forecast"
    assert float(unused.state) == pytest.approx(800.0 - IMPORT_KW * 1000, abs=5)
    surplus = share(hass, entry, "binary_sensor", "surplus_for_me")
    assert surplus.attributes["source"] == "forecast"
    assert surplus.attributes["unused_w"] == pytest.approx(800.0 - IMPORT_KW * 1000, abs=5)
    # An hour on, the next hour's forecast: 650 W allocated, 50 W unused, no "surplus for me".
    await _tick(hass, freezer, timedelta(minutes=50))
    assert float(share(hass, entry, "sensor", "allocated_power").state) == pytest.approx(650.0)
    assert share(hass, entry, "binary_sensor", "surplus_for_me").state == "off"
    ahead = share(hass, entry, "sensor", "share_forecast")
    assert float(ahead.state) == pytest.approx(sum(FORECAST_KWH[1:13]))
    assert len(ahead.attributes["detailedHourly"]) == 35

    # Home Assistant restarts with the broker still down: the forecast was kept on disk.
    await _tick(hass, freezer, timedelta(seconds=10))  # past the forecast's delayed save
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    ahead = share(hass, entry, "sensor", "share_forecast")
    assert float(ahead.state) == pytest.approx(sum(FORECAST_KWH[1:13]))
    assert share(hass, entry, "sensor", "allocated_power").attributes["source"] == "forecast"
    assert len(events) == 1  # kept, not new

    # A damaged file costs the kept forecast, nothing else: said in the log, the home loads.
    hass_storage[f"{DOMAIN}.{entry.entry_id}.forecast"]["data"] = {"schema": "ioe.forecast.v1"}
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert share(hass, entry, "sensor", "share_forecast").state == "unknown"
    assert f"The last forecast of {entry.title} could not be read" in caplog.text
    assert share(hass, entry, "sensor", "unused_share").state == "unknown"
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("zone", "moment", "now", "change", "after"),
    [
        # Good Friday is no 2.0TD holiday: a working day's peak.
        ("Europe/Madrid", "2026-04-03T11:00", "P1", "2026-04-03T14:00:00+02:00", "P2"),
        # 7 December: some regions move the Sunday holiday there; the tariff does not.
        ("Europe/Madrid", "2026-12-07T09:30", "P2", "2026-12-07T10:00:00+01:00", "P1"),
        # 8 December, a national holiday on a Tuesday: valley all day, flat from 8 the next.
        ("Europe/Madrid", "2026-12-08T12:00", "P3", "2026-12-09T08:00:00+01:00", "P2"),
        # A Friday evening: the valley of the weekend starts at midnight and lasts to Monday.
        ("Europe/Madrid", "2026-12-11T22:30", "P2", "2026-12-12T00:00:00+01:00", "P3"),
        # The Canaries keep the peninsula's hours on their own clock.
        (
            "Atlantic/Canary",
            "2026-12-10T10:30",
            "P1",
            "2026-12-10T14:00:00+00:00",
            "P2",
        ),
        # Ceuta and Melilla: the peak an hour later (10:30 still flat, 14:30 still peak).
        ("Africa/Ceuta", "2026-12-10T10:30", "P2", "2026-12-10T11:00:00+01:00", "P1"),
        ("Africa/Ceuta", "2026-12-10T14:30", "P1", "2026-12-10T15:00:00+01:00", "P2"),
    ],
)
async def test_the_tariff_period_and_its_next_change(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    home_entry: MockConfigEntry,
    zone: str,
    moment: str,
    now: str,
    change: str,
    after: str,
) -> None:
    """Worked out in the home, with no community: the period now and when it changes."""
    await hass.config.async_set_time_zone(zone)
    # ``moment``: the local clock's time in ``zone``.
    freezer.move_to(datetime.fromisoformat(moment).replace(tzinfo=ZoneInfo(zone)))
    await set_up_home(hass, home_entry)
    tariff = entity_id(hass, "sensor", f"{home_entry.entry_id}_tariff_period")

    state = hass.states.get(tariff)
    assert state is not None
    assert (state.state, state.attributes["next_change"], state.attributes["next_period"]) == (
        now,
        change,
        after,
    )
    # At its next change, the sensor changes with it.
    freezer.move_to(datetime.fromisoformat(change))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(tariff).state == after  # type: ignore[union-attr]
