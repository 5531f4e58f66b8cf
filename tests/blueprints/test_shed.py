"""The shedding blueprint: loads off in order above the contracted power, back on below it."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event

from .conftest import helpers, is_on, local, run_for, settle, use_blueprint
from .signals import GRID_POWER, set_grid_power

# In shedding order, with what each draws (W).
LOADS = {
    "input_boolean.water_heater": 1500,
    "input_boolean.heat_pump": 2000,
    "input_boolean.oven": 2200,
}
WATER_HEATER, HEAT_PUMP, OVEN = LOADS


class House:
    """The home's grid meter: the rest of the house plus the loads that are on (W)."""

    def __init__(self, hass: HomeAssistant, rest_w: float) -> None:
        """Read the loads' states from now on; the meter shows the sum."""
        self.hass = hass
        self.rest_w = rest_w
        async_track_state_change_event(hass, list(LOADS), self._changed)
        self._show()

    def set_rest(self, watts: float) -> None:
        """Change what the rest of the house draws."""
        self.rest_w = watts
        self._show()

    @callback
    def _changed(self, _: Event[EventStateChangedData]) -> None:
        self._show()

    def _show(self) -> None:
        on_w = sum(watts for load, watts in LOADS.items() if is_on(self.hass, load))
        set_grid_power(self.hass, self.rest_w + on_w)


async def start(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, on: tuple[str, ...], rest_w: float
) -> House:
    """At 19:00 (Madrid), the loads ``on`` on, the rest of the house at ``rest_w``.

    4.6 kW contracted and the defaults: 0.3 kW of margin (a limit of 4300 W), 10 seconds
    above the limit, 5 minutes under it.
    """
    freezer.move_to(local("2026-12-05 19:00"))
    await helpers(
        hass, "input_boolean", {load.split(".")[1]: {"initial": load in on} for load in LOADS}
    )
    house = House(hass, rest_w)
    await use_blueprint(
        hass,
        "shed_loads",
        {"grid_power": GRID_POWER, "contracted_power": 4.6, "loads": list(LOADS)},
    )
    return house


def loads_on(hass: HomeAssistant) -> list[str]:
    """Return the loads that are on, in shedding order."""
    return [load for load in LOADS if is_on(hass, load)]


async def test_loads_go_off_in_order_and_come_back_in_reverse(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    house = await start(hass, freezer, on=(WATER_HEATER, HEAT_PUMP), rest_w=300)
    assert loads_on(hass) == [WATER_HEATER, HEAT_PUMP]  # 3800 W
    step = timedelta(seconds=1)

    house.set_rest(2700)  # the oven's neighbour, a kettle: 6200 W
    await run_for(hass, freezer, timedelta(seconds=9), step)
    assert loads_on(hass) == [WATER_HEATER, HEAT_PUMP]
    await run_for(hass, freezer, timedelta(seconds=2), step)
    assert loads_on(hass) == [HEAT_PUMP]  # 4700 W: still above
    await run_for(hass, freezer, timedelta(seconds=11), step)
    assert loads_on(hass) == []  # 2700 W

    # Under the limit for 5 minutes: the heat pump first (5700 W would be too much, so it
    # goes again, and comes back once the kettle is off).
    await run_for(hass, freezer, timedelta(minutes=4, seconds=50), step)
    assert loads_on(hass) == []
    await run_for(hass, freezer, timedelta(seconds=20), step)
    assert loads_on(hass) == [HEAT_PUMP]
    house.set_rest(300)  # 2300 W
    await run_for(hass, freezer, timedelta(minutes=5, seconds=10), step)
    assert loads_on(hass) == [WATER_HEATER, HEAT_PUMP]

    # All back: the automation has ended.
    automation = hass.states.get("automation.under_test")
    assert automation is not None
    assert automation.attributes["current"] == 0


async def test_a_peak_shorter_than_the_delay_sheds_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    house = await start(hass, freezer, on=(WATER_HEATER, HEAT_PUMP, OVEN), rest_w=200)
    house.set_rest(-1000)  # the sun on the home's own panels: 4700 W from the grid
    await settle()
    house.set_rest(1000)  # a cloud: 6700 W for 8 seconds
    await run_for(hass, freezer, timedelta(seconds=8), timedelta(seconds=1))
    house.set_rest(-1000)
    await run_for(hass, freezer, timedelta(minutes=1), timedelta(seconds=1))
    assert loads_on(hass) == [WATER_HEATER, HEAT_PUMP, OVEN]


async def test_loads_already_off_are_skipped_and_a_silent_meter_restores_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    house = await start(hass, freezer, on=(HEAT_PUMP, OVEN), rest_w=0)  # 4200 W
    house.set_rest(500)  # 4700 W
    await run_for(hass, freezer, timedelta(seconds=11), timedelta(seconds=1))
    assert loads_on(hass) == [OVEN]  # 2700 W

    # The meter goes silent: the heat pump stays off, however long.
    set_grid_power(hass, "unavailable")
    await run_for(hass, freezer, timedelta(minutes=30), timedelta(seconds=10))
    assert loads_on(hass) == [OVEN]
    house.set_rest(0)  # back with 2200 W: room for the heat pump
    await run_for(hass, freezer, timedelta(minutes=5, seconds=10), timedelta(seconds=10))
    assert loads_on(hass) == [HEAT_PUMP, OVEN]
