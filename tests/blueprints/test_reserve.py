"""The reserve blueprint: a high battery reserve before a forecast shortfall of the share."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from .conftest import (
    by_hand,
    helpers,
    home_assistant_starts,
    local,
    run_until,
    settle,
    use_blueprint,
)
from .signals import SHARE_FORECAST, fire_forecast_event, set_share_forecast

RESERVE = "input_number.reserve_soc"
CONSUMPTION = "sensor.expected_consumption"
# 36 hours from 10:00: a sunny midday, then the evening and the night with no share.
SUNNY_MIDDAY = [1.2, 1.5, 1.6, 1.4, 1.0, 0.5, 0.1] + [0.0] * 17 + [0.3, 0.9, 1.3] + [0.0] * 9


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: str, **inputs: Any
) -> None:
    """At ``at`` (Madrid), the battery's reserve at 20 %; the automation with its defaults.

    The defaults: 6 hours ahead, the expected value, 3 kWh of consumption, 80 % before a
    shortfall, 20 % otherwise.
    """
    freezer.move_to(local(at))
    await helpers(
        hass, "input_number", {"reserve_soc": {"min": 0, "max": 100, "step": 1, "initial": 20}}
    )
    await use_blueprint(
        hass,
        "reserve_before_shortfall",
        {"share_forecast": SHARE_FORECAST, "reserve": RESERVE, **inputs},
    )


def reserve(hass: HomeAssistant) -> float:
    """Return the reserve setting (%)."""
    state = hass.states.get(RESERVE)
    assert state is not None
    return float(state.state)


async def new_forecast(hass: HomeAssistant, at: str, kwh: list[float], **kwargs: Any) -> None:
    """Publish a forecast computed at ``at`` as the integration does: state, then event."""
    set_share_forecast(hass, local(at), kwh, **kwargs)
    fire_forecast_event(hass, local(at))
    await settle()


async def test_a_shortfall_ahead_raises_the_reserve_and_its_end_lowers_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:05")
    # 10:00–16:00 brings 7.2 kWh: no shortfall.
    await new_forecast(hass, "2026-12-05 10:02", SUNNY_MIDDAY)
    assert reserve(hass) == 20

    # At 13:00 the hours ahead (13:00–19:00) bring 3.0 kWh: still enough; at 14:00, 1.6.
    await run_until(hass, freezer, local("2026-12-05 13:30"), step=timedelta(minutes=5))
    assert reserve(hass) == 20
    await run_until(hass, freezer, local("2026-12-05 14:00:30"), step=timedelta(minutes=5))
    assert reserve(hass) == 80

    # The next morning's new forecast brings the sun back within the hours ahead.
    await run_until(hass, freezer, local("2026-12-06 08:05"), step=timedelta(minutes=30))
    assert reserve(hass) == 80
    await new_forecast(hass, "2026-12-06 08:02", [0.2, 0.8, 1.4, 1.6, 1.5, 1.2] + [0.0] * 30)
    assert reserve(hass) == 20


@pytest.mark.parametrize(("band", "expected_reserve"), [("pv_estimate", 20), ("pv_estimate10", 80)])
async def test_the_cautious_forecast_raises_it_where_the_expected_one_does_not(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, band: str, expected_reserve: float
) -> None:
    await start(hass, freezer, "2026-12-05 10:05", band=band)
    # 4.8 kWh expected in the 6 hours ahead, 1.8 kWh at the 10th percentile.
    await new_forecast(
        hass, "2026-12-05 10:02", [0.8] * 6 + [0.0] * 30, p10_kwh=[0.3] * 6 + [0.0] * 30
    )
    assert reserve(hass) == expected_reserve


async def test_a_consumption_sensor_replaces_the_number_while_it_has_a_value(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:05", consumption_sensor=CONSUMPTION)
    hass.states.async_set(CONSUMPTION, "8.5", {"unit_of_measurement": "kWh"})
    await new_forecast(hass, "2026-12-05 10:02", SUNNY_MIDDAY)
    assert reserve(hass) == 80
    hass.states.async_set(CONSUMPTION, "unavailable")
    await new_forecast(hass, "2026-12-05 10:04", SUNNY_MIDDAY)
    assert reserve(hass) == 20


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param(None, id="no forecast sensor"),
        pytest.param({}, id="no hourly attribute"),
        pytest.param({"detailedHourly": "unknown"}, id="not a list"),
        pytest.param({"detailedHourly": [{"period_start": "soon", "pv_estimate": 0}]}, id="bad"),
    ],
)
async def test_an_unknown_forecast_leaves_the_reserve_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, attributes: dict[str, Any] | None
) -> None:
    await start(hass, freezer, "2026-12-05 10:05")
    if attributes is not None:
        hass.states.async_set(SHARE_FORECAST, "unknown", attributes)
    hass.bus.async_fire("ioe_community_forecast", {"computed_at": "2026-12-05T09:02:00+00:00"})
    await run_until(hass, freezer, local("2026-12-05 12:01"), step=timedelta(minutes=10))
    assert reserve(hass) == 20


async def test_with_the_link_down_the_last_forecast_serves_while_it_covers_the_hours_ahead(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:05")
    # The last forecast before the link went down: nothing more comes.
    await new_forecast(hass, "2026-12-05 10:02", SUNNY_MIDDAY)
    await run_until(hass, freezer, local("2026-12-05 14:00:30"), step=timedelta(minutes=10))
    assert reserve(hass) == 80
    # The forecast covers the 6 hours ahead up to 16:00 the next day (its last hour starts
    # at 21:00); after that it is not used, and a reserve set by hand stays.
    await run_until(hass, freezer, local("2026-12-06 17:00:30"), step=timedelta(minutes=30))
    assert reserve(hass) == 80
    await by_hand(hass, "input_number.set_value", RESERVE, value=20)
    await run_until(hass, freezer, local("2026-12-06 20:00:30"), step=timedelta(minutes=30))
    assert reserve(hass) == 20


async def test_a_reserve_set_by_hand_is_not_lowered(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:05")
    await by_hand(hass, "input_number.set_value", RESERVE, value=50)
    await new_forecast(hass, "2026-12-05 10:02", SUNNY_MIDDAY)
    assert reserve(hass) == 50


async def test_home_assistant_starting_reads_the_forecast_it_kept(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 14:20")
    set_share_forecast(hass, local("2026-12-05 10:02"), SUNNY_MIDDAY)
    await home_assistant_starts(hass)
    assert reserve(hass) == 80
