"""What each mode decides, step by step, for a home at a known moment.

The home: 5.75 kW contracted (300 W kept free), a 10 kWh battery of 3 kW, a charger of
6-16 A on one phase. Times are a Thursday in December in Madrid.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from custom_components.ioe_community.controls.home import HomeControl
from custom_components.ioe_community.controls.model import (
    BatteryMode,
    BatteryOverride,
    BatterySettings,
    ChargerMode,
    ChargerSettings,
    Clip,
    HomeNow,
    Limits,
    Reason,
)
from custom_components.ioe_community.controls.writes import WriteGate

MADRID = ZoneInfo("Europe/Madrid")
NOON = datetime(2026, 12, 3, 12, 0, tzinfo=MADRID)
LIMITS = Limits(contracted_w=5750, max_charge_w=3000, max_discharge_w=3000, ramp_w=10_000)
SHARE = BatterySettings(mode=BatteryMode.USE_MY_SHARE, capacity_wh=10_000)
SURPLUS = ChargerSettings(mode=ChargerMode.SURPLUS, start_delay_s=60, stop_delay_s=180)


def home(at: datetime = NOON, **values: float | bool | None) -> HomeNow:
    defaults: dict[str, float | bool | None] = {
        "grid_w": 0.0,
        "charge_w": 0.0,
        "soc": 50.0,
        "ev_w": 0.0,
        "car_connected": True,
        "allocation_w": 0.0,
    }
    return HomeNow(at=at, **{**defaults, **values})  # type: ignore[arg-type]


def test_use_my_share_stores_what_the_home_would_leave_unused() -> None:
    control = HomeControl(limits=LIMITS, battery=SHARE)
    # 1 kW of community share now, and the home imports 200 W: 800 W of it would go unused.
    decision = control.step(home(grid_w=200, allocation_w=1000)).battery
    assert decision is not None
    assert decision.charge_w == pytest.approx(800)
    assert decision.reason is Reason.STORING_SURPLUS


def test_use_my_share_covers_the_import_beyond_the_share() -> None:
    control = HomeControl(limits=LIMITS, battery=SHARE)
    decision = control.step(home(grid_w=1500, allocation_w=500)).battery
    assert decision is not None
    assert decision.charge_w == pytest.approx(-1000)
    assert decision.reason is Reason.COVERING_IMPORT


def test_the_hour_s_balance_counts_import_already_made() -> None:
    """Half an hour of 1 kW import without a share: the rest of the hour aims 1 kW lower."""
    control = HomeControl(limits=LIMITS, battery=SHARE)
    empty = 10.0  # the battery cannot help in the first half hour
    for minutes in (0, 10, 20):
        control.step(home(NOON + timedelta(minutes=minutes), grid_w=1000, soc=empty))
    decisions = control.step(
        home(NOON + timedelta(minutes=30), grid_w=-500, soc=50, allocation_w=2000)
    )
    # 500 Wh imported beyond the share, over the 30 minutes left: 1000 W less than the share.
    assert decisions.target_grid_w == pytest.approx(1000)
    assert decisions.battery is not None
    assert decisions.battery.charge_w == pytest.approx(1500)


def test_a_new_hour_starts_its_balance_again() -> None:
    control = HomeControl(limits=LIMITS, battery=SHARE)
    control.step(home(NOON + timedelta(minutes=50), grid_w=3000, soc=10, allocation_w=0))
    decisions = control.step(home(NOON + timedelta(hours=1), grid_w=0, allocation_w=700))
    assert decisions.target_grid_w == pytest.approx(700)


def test_the_battery_does_not_export() -> None:
    control = HomeControl(limits=LIMITS, battery=SHARE)
    control.step(home(NOON, grid_w=3000, soc=10))
    decisions = control.step(home(NOON + timedelta(minutes=40), grid_w=400, soc=80))
    assert decisions.target_grid_w == 0
    assert decisions.battery is not None
    assert decisions.battery.charge_w == pytest.approx(-400)


def test_valley_charges_in_the_night_s_p3_to_its_target_spread_to_its_end() -> None:
    valley = replace(SHARE, mode=BatteryMode.VALLEY, valley_target_soc=80)
    control = HomeControl(limits=LIMITS, battery=valley)
    # 04:00 on a Thursday: 4 hours of P3 left; 30 % of 10 kWh to store: 750 W.
    decision = control.step(home(NOON.replace(hour=4), grid_w=300, soc=50)).battery
    assert decision is not None
    assert decision.reason is Reason.VALLEY_CHARGING
    assert decision.charge_w == pytest.approx(750)
    # In P1 it uses the share as use_my_share does.
    decision = control.step(home(NOON, grid_w=1200, soc=80)).battery
    assert decision is not None
    assert decision.charge_w == pytest.approx(-1200)


def test_reserve_holds_and_restores_its_reserve() -> None:
    reserve = replace(SHARE, mode=BatteryMode.RESERVE, reserve_soc=40)
    control = HomeControl(limits=LIMITS, battery=reserve)
    decision = control.step(home(grid_w=900, soc=40)).battery
    assert decision is not None
    assert (decision.charge_w, decision.reason) == (0.0, Reason.RESERVE_HOLDING)
    decision = control.step(home(NOON + timedelta(seconds=10), grid_w=900, soc=30)).battery
    assert decision is not None
    assert decision.reason is Reason.RESERVE_CHARGING
    assert decision.charge_w == pytest.approx(1500)  # half its power, from the grid


def test_a_one_off_charge_lasts_until_its_soc() -> None:
    control = HomeControl(limits=LIMITS, battery=SHARE)
    control.override = BatteryOverride(charge_w=2000, until=NOON + timedelta(hours=2), until_soc=60)
    decision = control.step(home(grid_w=500, soc=55)).battery
    assert decision is not None
    assert (decision.charge_w, decision.reason) == (2000, Reason.ONE_OFF)
    decision = control.step(home(NOON + timedelta(minutes=5), grid_w=500, soc=60)).battery
    assert decision is not None
    assert decision.reason is Reason.COVERING_IMPORT


def test_surplus_charging_waits_for_surplus_to_last_and_to_go() -> None:
    control = HomeControl(limits=LIMITS, charger=SURPLUS)
    # 2 kW exported: 8 A on one phase, but only once it has lasted a minute.
    steps = [
        (0, -2000, 0.0, Reason.STARTING),
        (30, -2000, 0.0, Reason.STARTING),
        (60, -2000, 8.0, Reason.CHARGING_SURPLUS),
        (70, -2000 + 1840, 8.0, Reason.CHARGING_SURPLUS),
        # A cloud: no surplus. The car keeps its minimum current for 3 minutes, then stops.
        (80, 1840, 6.0, Reason.STOPPING),
        (80 + 179, 1380, 6.0, Reason.STOPPING),
        (80 + 180, 1380, 0.0, Reason.WAITING_SURPLUS),
    ]
    ev_w = 0.0
    for seconds, grid_w, amps, reason in steps:
        now = home(NOON + timedelta(seconds=seconds), grid_w=grid_w, ev_w=ev_w)
        decision = control.step(now).charger
        assert decision is not None
        assert (seconds, decision.current_a, decision.reason) == (seconds, amps, reason)
        ev_w = amps * 230


def test_min_surplus_never_goes_below_its_minimum() -> None:
    control = HomeControl(limits=LIMITS, charger=replace(SURPLUS, mode=ChargerMode.MIN_SURPLUS))
    decision = control.step(home(grid_w=800)).charger
    assert decision is not None
    assert (decision.current_a, decision.reason) == (6.0, Reason.MINIMUM_CURRENT)


def test_a_small_change_of_surplus_does_not_move_the_current() -> None:
    control = HomeControl(limits=LIMITS, charger=replace(SURPLUS, mode=ChargerMode.MIN_SURPLUS))
    first = control.step(home(grid_w=-2300)).charger  # 10 A
    # 50 W less surplus while the car draws its 10 A: 9.8 A would do, 10 A stay.
    second = control.step(home(NOON + timedelta(seconds=10), grid_w=50, ev_w=2300)).charger
    assert first is not None
    assert second is not None
    assert first.current_a == second.current_a == 10.0


def test_the_contracted_power_pauses_the_car_before_the_limiter_trips() -> None:
    control = HomeControl(limits=LIMITS, charger=replace(SURPLUS, mode=ChargerMode.NOW))
    decisions = control.step(home(grid_w=2000))
    assert decisions.charger is not None
    # 2 kW of house load: 5450 W allowed, so 15 A (3450 W), not 16.
    assert decisions.charger.current_a == 15.0
    assert Clip.CONTRACTED_POWER in decisions.charger.clips
    decisions = control.step(home(NOON + timedelta(seconds=10), grid_w=5000 + 3450, ev_w=3450))
    assert decisions.charger is not None
    assert decisions.charger.current_a == 0.0  # 450 W left: less than the car's 6 A
    assert decisions.expected_grid_w == pytest.approx(5000)


def test_readings_that_do_not_show_the_last_command_raise_nothing() -> None:
    """The meter read before the car took its 10 A: it looks like 2.3 kW more surplus."""
    control = HomeControl(limits=LIMITS, charger=replace(SURPLUS, mode=ChargerMode.NOW))
    control.step(home(grid_w=0.0))
    control.last_current_a = 10.0
    later = NOON + timedelta(seconds=10)
    held = control.step(home(later, grid_w=0.0, ev_w=2300, settled=False)).charger
    assert held is not None
    assert held.current_a == 10.0
    assert held.clips[0] is Clip.SETTLING
    # Less is never held: the oven starts, the car goes down at once.
    lower = control.step(home(later, grid_w=6000, ev_w=2300, settled=False)).charger
    assert lower is not None
    assert lower.current_a < 10.0
    settled = control.step(home(later + timedelta(seconds=10), grid_w=0.0, ev_w=2300)).charger
    assert settled is not None
    assert settled.current_a > lower.current_a  # raised again, by its ramp


def test_a_start_held_for_the_readings_does_not_wait_its_delay_again() -> None:
    control = HomeControl(limits=LIMITS, charger=SURPLUS)
    control.step(home(grid_w=-2300))  # 2.3 kW of surplus: 10 A, once it lasts a minute
    held = control.step(home(NOON + timedelta(seconds=70), grid_w=-2300, settled=False)).charger
    assert held is not None
    assert held.current_a == 0.0
    assert held.clips == (Clip.SETTLING,)
    started = control.step(home(NOON + timedelta(seconds=80), grid_w=-2300)).charger
    assert started is not None
    assert started.current_a == 10.0


def test_the_battery_goes_first_below_its_priority_and_never_feeds_the_car() -> None:
    both = {"battery": SHARE, "charger": replace(SURPLUS, start_delay_s=0)}
    low = HomeControl(limits=LIMITS, **both).step(home(grid_w=-2500, soc=30))
    assert low.battery is not None
    assert low.charger is not None
    assert (low.battery.charge_w, low.charger.current_a) == (2500, 0.0)
    high = HomeControl(limits=LIMITS, **both).step(home(grid_w=-2500, soc=80))
    assert high.battery is not None
    assert high.charger is not None
    assert high.charger.current_a == 10.0
    assert high.battery.charge_w == pytest.approx(2500 - 2300)
    now = HomeControl(limits=LIMITS, battery=SHARE, charger=replace(SURPLUS, mode=ChargerMode.NOW))
    decisions = now.step(home(grid_w=0, soc=80))
    assert decisions.battery is not None
    assert decisions.battery.charge_w == 0.0  # the car's 16 A come from the grid, not the battery


def test_a_full_car_leaves_the_surplus_to_the_battery() -> None:
    """The car goes first above the battery's priority, but takes only what it draws."""
    both = HomeControl(limits=LIMITS, battery=SHARE, charger=replace(SURPLUS, start_delay_s=0))
    first = both.step(home(grid_w=-2500, soc=80))
    assert first.charger is not None
    assert first.charger.current_a == 10.0
    # The car is full: offered 10 A, it draws nothing; the battery takes the 2.5 kW.
    later = both.step(
        home(NOON + timedelta(seconds=10), grid_w=-2500 + 200, soc=80, ev_w=0.0, charge_w=200)
    )
    assert later.battery is not None
    assert later.battery.charge_w == pytest.approx(2500, abs=10)  # + the hour's 10 s of export


def test_a_plan_charges_in_the_last_valley_hours_or_catches_up() -> None:
    evening = NOON.replace(hour=22)
    plan = replace(
        SURPLUS, mode=ChargerMode.PLAN, target_kwh=10, deadline=evening + timedelta(hours=10)
    )
    control = HomeControl(limits=LIMITS, charger=plan)
    # 10 kWh at 90 % of 3.68 kW take 3.02 h (+ 15 min): not yet at 22:00 nor at 04:00...
    for hour in (22, 28):
        decision = control.step(home(evening + timedelta(hours=hour - 22), grid_w=300)).charger
        assert decision is not None
        assert decision.current_a == 0.0
    # ...but at 05:00, with 3 hours of P3 left.
    decision = control.step(home(evening + timedelta(hours=7), grid_w=300)).charger
    assert decision is not None
    assert (decision.current_a, decision.reason) == (16.0, Reason.DEADLINE_VALLEY)
    # The car takes its full 3.68 kW, faster than assumed: at 07:30 the half hour left looks
    # enough for its last 0.8 kWh, and it goes on all the same (not stopped to start again).
    at = evening + timedelta(hours=9, minutes=30)
    decision = control.step(home(at, grid_w=4000, ev_w=3680, session_kwh=9.2)).charger
    assert decision is not None
    assert (decision.current_a, decision.reason) == (16.0, Reason.DEADLINE_VALLEY)
    late = replace(plan, deadline=NOON + timedelta(hours=3))
    decision = HomeControl(limits=LIMITS, charger=late).step(home(grid_w=300)).charger
    assert decision is not None
    assert decision.reason is Reason.DEADLINE_CATCH_UP
    done = HomeControl(limits=LIMITS, charger=late).step(home(grid_w=300, session_kwh=10))
    assert done.charger is not None
    assert done.charger.reason is Reason.TARGET_REACHED


@pytest.mark.parametrize(("grid_w", "reason"), [(None, Reason.METER_STALE)])
def test_a_silent_grid_meter_sends_everything_to_its_safe_state(
    grid_w: float | None, reason: Reason
) -> None:
    control = HomeControl(
        limits=LIMITS, battery=SHARE, charger=replace(SURPLUS, mode=ChargerMode.NOW)
    )
    decisions = control.step(home(grid_w=grid_w))
    assert decisions.battery is not None
    assert decisions.charger is not None
    assert (decisions.battery.charge_w, decisions.battery.reason) == (None, reason)
    assert (decisions.charger.current_a, decisions.charger.reason) == (0.0, reason)
    control.enabled = False
    decisions = control.step(home(grid_w=100))
    assert decisions.battery is not None
    assert decisions.battery.reason is Reason.DISABLED


def test_the_link_being_down_changes_nothing_but_the_allocation_s_age() -> None:
    """The integration keeps the last allocation; none known counts as nothing allocated."""
    control = HomeControl(limits=LIMITS, battery=SHARE)
    decision = control.step(home(grid_w=-600, allocation_w=None)).battery
    assert decision is not None
    assert decision.charge_w == pytest.approx(600)


def test_writes_only_on_a_change_within_a_budget_and_before_the_device_reverts() -> None:
    gate = WriteGate(step=50, per_hour=3, revert_s=120)
    assert gate.due(1000, NOON)
    gate.wrote(1000, NOON)
    assert not gate.due(1040, NOON + timedelta(seconds=10))  # a small change
    assert gate.due(1040, NOON + timedelta(seconds=60))  # refreshed at half the revert time
    gate.wrote(1040, NOON + timedelta(seconds=60))
    gate.wrote(1500, NOON + timedelta(seconds=70))
    assert not gate.due(2000, NOON + timedelta(seconds=80))  # three writes this hour
    assert gate.due(200, NOON + timedelta(seconds=80))  # less power: at once
    assert gate.due(None, NOON + timedelta(seconds=80))  # the device's own mode: at once
