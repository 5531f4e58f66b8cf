"""The safety layer, for any inputs: no command beyond a limit, the contracted power kept.

Hypothesis draws homes (load, PV, battery and car as measured, SoC, allocation, the hour's
moment), households' limits and every mode, and runs the control for a sequence of steps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from custom_components.ioe_community.controls.home import HomeControl
from custom_components.ioe_community.controls.model import (
    BatteryMode,
    BatterySettings,
    ChargerMode,
    ChargerSettings,
    HomeNow,
    Limits,
)
from custom_components.ioe_community.controls.safety import guard

MADRID = ZoneInfo("Europe/Madrid")
START = datetime(2026, 6, 1, tzinfo=MADRID)

powers = st.floats(min_value=-12_000, max_value=12_000, allow_nan=False)
limits_st = st.builds(
    Limits,
    contracted_w=st.sampled_from([2300.0, 3450.0, 4600.0, 5750.0, 6900.0, 9200.0]),
    headroom_w=st.floats(min_value=0, max_value=500),
    max_charge_w=st.floats(min_value=0, max_value=6000),
    max_discharge_w=st.floats(min_value=0, max_value=6000),
    soc_min=st.floats(min_value=0, max_value=40),
    soc_max=st.floats(min_value=60, max_value=100),
    max_current_a=st.floats(min_value=6, max_value=32),
    ramp_w=st.floats(min_value=100, max_value=10_000),
    ramp_a=st.floats(min_value=1, max_value=32),
)
chargers = st.builds(
    ChargerSettings,
    mode=st.sampled_from(ChargerMode),
    min_current_a=st.sampled_from([6.0, 8.0]),
    phases=st.sampled_from([1, 3]),
    start_delay_s=st.sampled_from([0.0, 60.0]),
    stop_delay_s=st.sampled_from([0.0, 180.0]),
    target_kwh=st.floats(min_value=0, max_value=60),
    deadline=st.one_of(st.none(), st.just(START + timedelta(hours=10))),
    safe_paused=st.booleans(),
)
batteries = st.builds(
    BatterySettings,
    mode=st.sampled_from(BatteryMode),
    reserve_soc=st.floats(min_value=0, max_value=100),
    valley_target_soc=st.floats(min_value=0, max_value=100),
    manual_charge_w=powers,
    capacity_wh=st.sampled_from([0.0, 5000.0, 10_000.0]),
    priority_soc=st.floats(min_value=0, max_value=100),
)


@st.composite
def moments(draw: st.DrawFn) -> list[HomeNow]:
    """Draw a sequence of what the home measures, a few seconds to minutes apart."""
    at = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 7)))
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        at += timedelta(seconds=draw(st.sampled_from([1, 10, 30, 300, 900])))
        steps.append(
            HomeNow(
                at=at,
                grid_w=draw(st.one_of(st.none(), powers)),
                charge_w=draw(st.one_of(st.none(), powers)),
                soc=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=100))),
                ev_w=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=22_000))),
                car_connected=draw(st.one_of(st.none(), st.booleans())),
                session_kwh=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=80))),
                allocation_w=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=5000))),
                battery_reachable=draw(st.booleans()),
                charger_reachable=draw(st.booleans()),
                settled=draw(st.booleans()),
            )
        )
    return steps


def within_limits(
    now: HomeNow,
    limits: Limits,
    charger: ChargerSettings | None,
    charge_w: float | None,
    current_a: float | None,
    expected_w: float,
) -> None:
    """Assert that the commands keep every limit, the contracted power included."""
    tolerance = 1e-6
    if charge_w is not None:
        assert -limits.max_discharge_w - tolerance <= charge_w <= limits.max_charge_w + tolerance
        if charge_w > 0:
            assert now.soc is not None
            assert now.soc < limits.soc_max
        if charge_w < 0:
            assert now.soc is not None
            assert now.soc > limits.soc_min
    if current_a is not None and current_a > 0:
        assert charger is not None
        assert charger.min_current_a <= current_a <= limits.max_current_a
    assert now.grid_w is not None
    battery_w = charge_w if charge_w is not None else (now.charge_w or 0.0)
    # The car draws at most what it is offered (what it draws now, when not commanded).
    car_w = expected_w - (now.grid_w - (now.charge_w or 0.0) - (now.ev_w or 0.0) + battery_w)
    if current_a is not None and charger is not None:
        assert -1e-3 <= car_w <= charger.watts(current_a) + 1e-3
    else:
        assert abs(car_w - (now.ev_w or 0.0)) < 1e-3
    if expected_w > limits.grid_limit_w + tolerance:
        # Over the limit only when nothing controlled adds to it and the battery gives its most.
        assert charge_w is None or charge_w <= 0
        assert not current_a
        if charge_w is not None and now.soc is not None and now.soc > limits.soc_min:
            assert abs(charge_w + limits.max_discharge_w) < tolerance


@settings(max_examples=400, deadline=None)
@given(
    limits=limits_st,
    battery=st.one_of(st.none(), batteries),
    charger=st.one_of(st.none(), chargers),
    steps=moments(),
)
def test_no_sequence_of_inputs_makes_a_command_exceed_a_limit(
    limits: Limits,
    battery: BatterySettings | None,
    charger: ChargerSettings | None,
    steps: list[HomeNow],
) -> None:
    control = HomeControl(limits=limits, battery=battery, charger=charger)
    for now in steps:
        decisions = control.step(now)
        if now.grid_w is None:  # blind: the battery to its own mode, the car to its safe state
            assert decisions.battery is None or decisions.battery.charge_w is None
            if decisions.charger is not None and charger is not None:
                assert decisions.charger.current_a in {0.0, charger.min_current_a}
            continue
        charge_w = decisions.battery.charge_w if decisions.battery else None
        current_a = decisions.charger.current_a if decisions.charger else None
        if decisions.charger is not None and not now.charger_reachable:
            current_a = None
        assert decisions.expected_grid_w is not None
        within_limits(now, limits, charger, charge_w, current_a, decisions.expected_grid_w)


@settings(max_examples=400, deadline=None)
@given(
    limits=limits_st,
    charger=chargers,
    grid_w=powers,
    charge_w=st.one_of(st.none(), powers),
    current_a=st.one_of(st.none(), st.floats(min_value=0, max_value=80)),
    soc=st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    last_charge_w=st.one_of(st.none(), powers),
    last_current_a=st.one_of(st.none(), st.floats(min_value=0, max_value=32)),
)
def test_the_guard_alone_keeps_every_limit(
    limits: Limits,
    charger: ChargerSettings,
    grid_w: float,
    charge_w: float | None,
    current_a: float | None,
    soc: float | None,
    last_charge_w: float | None,
    last_current_a: float | None,
) -> None:
    now = HomeNow(at=START, grid_w=grid_w, charge_w=500.0, soc=soc, ev_w=1380.0)
    guarded = guard(
        now=now,
        grid_w=grid_w,
        limits=limits,
        charge_w=charge_w,
        current_a=current_a,
        charger=charger,
        last_charge_w=last_charge_w,
        last_current_a=last_current_a,
    )
    within_limits(
        now, limits, charger, guarded.charge_w, guarded.current_a, guarded.expected_grid_w
    )
