"""The car blueprint: charges on community surplus, and by its deadline whatever the surplus."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant

from .conftest import (
    by_hand,
    helpers,
    home_assistant_starts,
    is_on,
    local,
    run_for,
    run_until,
    use_blueprint,
)
from .signals import SURPLUS_FOR_ME, set_surplus_for_me

CHARGER = "input_boolean.charger"
STATE_OF_CHARGE = "sensor.car_state_of_charge"


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: str, **inputs: Any
) -> None:
    """At ``at`` (Madrid), no surplus, the charger off; the automation with its defaults.

    The defaults: start after 5 minutes of surplus, stop after 10 without; charged by 07:30,
    4 hours needed (the must-charge window opens at 03:30).
    """
    freezer.move_to(local(at))
    await helpers(hass, "input_boolean", {"charger": {}})
    set_surplus_for_me(hass, "off")
    await use_blueprint(
        hass, "car_on_surplus", {"surplus": SURPLUS_FOR_ME, "charger": CHARGER, **inputs}
    )


def set_state_of_charge(hass: HomeAssistant, percent: float) -> None:
    """Set the car's state of charge (%)."""
    hass.states.async_set(
        STATE_OF_CHARGE, str(percent), {"unit_of_measurement": "%", "device_class": "battery"}
    )


async def test_surplus_starts_and_stops_the_charger_after_its_delays(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 11:00")
    set_surplus_for_me(hass, "on")
    await run_for(hass, freezer, timedelta(minutes=4, seconds=30))
    assert not is_on(hass, CHARGER)
    await run_for(hass, freezer, timedelta(minutes=1))
    assert is_on(hass, CHARGER)

    # A cloud shorter than the stop delay does not stop it.
    set_surplus_for_me(hass, "off")
    await run_for(hass, freezer, timedelta(minutes=8))
    set_surplus_for_me(hass, "on")
    await run_for(hass, freezer, timedelta(minutes=15))
    assert is_on(hass, CHARGER)

    # A longer one does, and so does the link going down (no surplus signal).
    set_surplus_for_me(hass, "unavailable")
    await run_for(hass, freezer, timedelta(minutes=9, seconds=30))
    assert is_on(hass, CHARGER)
    await run_for(hass, freezer, timedelta(minutes=1))
    assert not is_on(hass, CHARGER)


async def test_without_surplus_it_charges_the_hours_before_the_deadline(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 22:00")
    set_surplus_for_me(hass, "unavailable")
    await run_until(hass, freezer, local("2026-12-06 03:29"), step=timedelta(minutes=1))
    assert not is_on(hass, CHARGER)
    await run_until(hass, freezer, local("2026-12-06 03:31"))
    assert is_on(hass, CHARGER)

    # No surplus in the window does not stop it; the deadline does.
    set_surplus_for_me(hass, "off")
    await run_until(hass, freezer, local("2026-12-06 07:29"), step=timedelta(minutes=1))
    assert is_on(hass, CHARGER)
    await run_until(hass, freezer, local("2026-12-06 07:31"))
    assert not is_on(hass, CHARGER)


async def test_surplus_at_the_deadline_keeps_it_charging(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 13:00", deadline="15:00:00", hours_needed=1)
    await run_until(hass, freezer, local("2026-12-05 14:01"))
    assert is_on(hass, CHARGER)
    set_surplus_for_me(hass, "on")
    await run_until(hass, freezer, local("2026-12-05 15:30"))
    assert is_on(hass, CHARGER)
    set_surplus_for_me(hass, "off")
    await run_for(hass, freezer, timedelta(minutes=11))
    assert not is_on(hass, CHARGER)


async def test_a_charged_car_stops_charging_and_does_not_start_again(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 11:00", charge_level=STATE_OF_CHARGE, charge_target=80)
    set_state_of_charge(hass, 60)
    set_surplus_for_me(hass, "on")
    await run_for(hass, freezer, timedelta(minutes=6))
    assert is_on(hass, CHARGER)
    set_state_of_charge(hass, 80)
    await run_for(hass, freezer, timedelta(seconds=30))
    assert not is_on(hass, CHARGER)

    # Charged: neither a new surplus nor the must-charge window starts it.
    set_surplus_for_me(hass, "off")
    await run_for(hass, freezer, timedelta(minutes=20))
    set_surplus_for_me(hass, "on")
    await run_for(hass, freezer, timedelta(minutes=10))
    assert not is_on(hass, CHARGER)
    await run_until(hass, freezer, local("2026-12-06 04:00"), step=timedelta(minutes=10))
    assert not is_on(hass, CHARGER)


async def test_home_assistant_starting_in_the_hours_before_the_deadline_starts_charging(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-06 05:00")
    await home_assistant_starts(hass)
    assert is_on(hass, CHARGER)


async def test_home_assistant_starting_outside_them_leaves_the_charger_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 23:00")
    await by_hand(hass, "input_boolean.turn_on", CHARGER)
    await home_assistant_starts(hass)
    assert is_on(hass, CHARGER)
