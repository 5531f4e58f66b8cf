"""The appliance blueprint: starts on the unused share, once a day, by its latest start."""

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
from .signals import TARIFF_PERIOD, UNUSED_SHARE, set_tariff_period, set_unused_share

DISHWASHER = "input_boolean.dishwasher"
LAST_RUN = "input_datetime.dishwasher_last_run"


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, at: str, **inputs: Any
) -> None:
    """At ``at`` (Madrid), with no share: a dishwasher plug, its helper, the automation.

    The blueprint's defaults: 1000 W, 200 W of hysteresis, 5 minutes, 120 minutes of run
    time, done by 20:00 (so the latest start is 18:00).
    """
    freezer.move_to(local(at))
    await helpers(hass, "input_boolean", {"dishwasher": {}})
    await helpers(
        hass, "input_datetime", {"dishwasher_last_run": {"has_date": True, "has_time": True}}
    )
    set_unused_share(hass, 0)
    await use_blueprint(
        hass,
        "appliance_on_share",
        {"unused_share": UNUSED_SHARE, "appliance": DISHWASHER, "last_run": LAST_RUN, **inputs},
    )


def last_run(hass: HomeAssistant) -> float:
    """Return the helper's time stamp of the last start."""
    state = hass.states.get(LAST_RUN)
    assert state is not None
    return float(state.attributes["timestamp"])


async def test_the_share_starts_the_appliance_once_a_day_for_its_run_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:00")
    set_unused_share(hass, 1200)
    await run_for(hass, freezer, timedelta(minutes=4, seconds=30))
    assert not is_on(hass, DISHWASHER)
    await run_for(hass, freezer, timedelta(minutes=1))
    assert is_on(hass, DISHWASHER)
    assert last_run(hass) == local("2026-12-05 10:05").timestamp()

    # Running, it uses the share; the run time ends it.
    set_unused_share(hass, 150)
    await run_until(hass, freezer, local("2026-12-05 12:04"))
    assert is_on(hass, DISHWASHER)
    await run_until(hass, freezer, local("2026-12-05 12:06"))
    assert not is_on(hass, DISHWASHER)

    # More share the same day: it has run today.
    set_unused_share(hass, 2500)
    await run_until(hass, freezer, local("2026-12-05 13:00"))
    assert not is_on(hass, DISHWASHER)

    # The next day the share starts it again.
    set_unused_share(hass, 0)
    await run_until(hass, freezer, local("2026-12-06 09:00"), step=timedelta(minutes=10))
    assert not is_on(hass, DISHWASHER)
    set_unused_share(hass, 1100)
    await run_for(hass, freezer, timedelta(minutes=6))
    assert is_on(hass, DISHWASHER)


async def test_dips_within_the_hysteresis_keep_the_count_and_deeper_ones_restart_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:00")
    set_unused_share(hass, 1100)
    await run_for(hass, freezer, timedelta(minutes=2))
    set_unused_share(hass, 700)  # below 1000 − 200: the count is lost
    await run_for(hass, freezer, timedelta(minutes=8))
    assert not is_on(hass, DISHWASHER)

    set_unused_share(hass, 1100)
    await run_for(hass, freezer, timedelta(minutes=2))
    set_unused_share(hass, 850)  # within the hysteresis: the count goes on
    await run_for(hass, freezer, timedelta(minutes=2, seconds=30))
    assert not is_on(hass, DISHWASHER)
    await run_for(hass, freezer, timedelta(minutes=1))
    assert is_on(hass, DISHWASHER)


async def test_without_share_it_starts_at_the_latest_start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 08:00", deadline="21:30:00", run_time=90)
    # The link is down and the share unknown all day; a short share is not enough.
    set_unused_share(hass, "unavailable")
    await run_until(hass, freezer, local("2026-12-05 15:00"), step=timedelta(minutes=5))
    set_unused_share(hass, 600)
    await run_until(hass, freezer, local("2026-12-05 19:59"))
    assert not is_on(hass, DISHWASHER)
    await run_until(hass, freezer, local("2026-12-05 20:01"))
    assert is_on(hass, DISHWASHER)
    assert last_run(hass) == local("2026-12-05 20:00").timestamp()
    await run_until(hass, freezer, local("2026-12-05 21:32"))
    assert not is_on(hass, DISHWASHER)


async def test_home_assistant_starting_after_the_latest_start_starts_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 18:30")
    await home_assistant_starts(hass)
    assert is_on(hass, DISHWASHER)


async def test_home_assistant_starting_before_the_latest_start_waits(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 17:30")
    await home_assistant_starts(hass)
    assert not is_on(hass, DISHWASHER)


async def test_the_share_waits_for_an_allowed_tariff_period(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:00", tariff_period=TARIFF_PERIOD)
    set_tariff_period(hass, "P1", next_change=local("2026-12-05 14:00"))
    set_unused_share(hass, 1500)
    await run_until(hass, freezer, local("2026-12-05 14:00"))
    assert not is_on(hass, DISHWASHER)

    set_tariff_period(hass, "P2", next_change=local("2026-12-05 18:00"))
    await run_for(hass, freezer, timedelta(minutes=4))
    assert not is_on(hass, DISHWASHER)
    await run_for(hass, freezer, timedelta(minutes=2))
    assert is_on(hass, DISHWASHER)


async def test_a_run_it_did_not_start_is_left_alone(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await start(hass, freezer, "2026-12-05 10:00")
    await by_hand(hass, "input_boolean.turn_on", DISHWASHER)
    await run_for(hass, freezer, timedelta(hours=3), step=timedelta(minutes=1))
    assert is_on(hass, DISHWASHER)


async def test_a_script_is_run_once_when_the_share_covers_the_appliance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(local("2026-12-05 10:00"))
    await helpers(hass, "input_boolean", {"washing_machine_started": {}})
    await helpers(
        hass, "input_datetime", {"dishwasher_last_run": {"has_date": True, "has_time": True}}
    )
    # The way a machine with remote start is often driven: a script of its integration.
    await helpers(
        hass,
        "script",
        {
            "start_washing_machine": {
                "sequence": [
                    {
                        "action": "input_boolean.toggle",
                        "target": {"entity_id": "input_boolean.washing_machine_started"},
                    }
                ]
            }
        },
    )
    set_unused_share(hass, 0)
    await use_blueprint(
        hass,
        "appliance_on_share",
        {
            "unused_share": UNUSED_SHARE,
            "appliance": "script.start_washing_machine",
            "last_run": LAST_RUN,
            "appliance_power": 500,
        },
    )
    set_unused_share(hass, 600)
    await run_for(hass, freezer, timedelta(minutes=5, seconds=30))
    assert is_on(hass, "input_boolean.washing_machine_started")
    set_unused_share(hass, 0)
    await run_for(hass, freezer, timedelta(minutes=5))
    set_unused_share(hass, 600)
    await run_for(hass, freezer, timedelta(minutes=10))
    # Run once: a second run would have toggled it back.
    assert is_on(hass, "input_boolean.washing_machine_started")
