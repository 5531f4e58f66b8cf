"""``scripts/bench control``: a year of one home under each battery and charger mode.

The home (seeded, 2025, Europe/Madrid, 15-minute data): a house load of REE's P2.0TD profile
reshaped for a household away on working days (``synthetic.HABITS``) × 3,500 kWh a year with
quarter-hour noise and appliance spikes; a 2 kWp roof; an allocation of β = 0.04 of a 60 kWp
community plant (same weather as the roof); a 10 kWh battery (3.5 kW, 95 % each way, SoC
10-100 %); a 3.7 kW charger (16 A, one phase, 6 A minimum) and a car at home on working-day
evenings and nights and all weekend, each arrival needing a lognormal energy, leaving at 07:30;
a contracted power of 5.75 kW.

The control runs as in Home Assistant: a loop every 60 s over the quarter's data held constant,
each step seeing what the devices did after its previous command. A device follows its last
*written* setpoint (``WriteGate``, as the integration writes). Settlement is per clock hour:
net import N_h, self-consumed allocation S_h = min(A_h, max(N_h, 0)), paid import
max(N_h − A_h, 0). A mixed-integer programme with perfect foresight of the same year (HiGHS)
gives the most allocation the same battery and car could have used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
import itertools
import time as clock
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from custom_components.ioe_community.controls.home import HomeControl
from custom_components.ioe_community.controls.model import (
    PHASE_VOLTS,
    BatteryMode,
    BatterySettings,
    ChargerMode,
    ChargerSettings,
    HomeNow,
    Limits,
)
from custom_components.ioe_community.controls.writes import WriteGate
from ioe_aggregator.sharing.calendar import DEFAULT_TZ, hours_of_year
from ioe_aggregator.sharing.profiles import ree_profile
from ioe_dev.synthetic import SPECIFIC_YIELD_KWH_PER_KWP, SYNTHETIC_SITE, habit_profile

Array = NDArray[np.float64]

YEAR: Final = 2025  # REE's profile's year
ZONE: Final = ZoneInfo(DEFAULT_TZ)
SEED: Final = 23
QUARTER_S: Final = 900
LOOP_S: Final = 60  # the control loop's period
QUARTERS_PER_HOUR: Final = 4

ANNUAL_LOAD_KWH: Final = 3500.0
HABIT: Final = "away_working_days"
ROOF_KWP: Final = 2.0
PLANT_KWP: Final = 60.0
BETA: Final = 0.04
BATTERY_WH: Final = 10_000.0
BATTERY_W: Final = 3500.0
EFFICIENCY: Final = 0.95  # each way
SOC_MIN: Final = 10.0
SOC_MAX: Final = 100.0
SOC_START: Final = 50.0
CHARGER_A: Final = 16.0
PHASES: Final = 1
CONTRACTED_W: Final = 5750.0
DEPARTURE: Final = time(7, 30)
# A commute's energy at arrival: lognormal around 7 kWh (≈ 40 km), within 1-30 kWh.
NEED_MEDIAN_KWH: Final = 7.0
NEED_SIGMA: Final = 0.5
# Writes: the battery's setpoint refreshed before a 10-minute remote-control timeout.
BATTERY_STEP_W: Final = 50.0
BATTERY_WRITES_PER_HOUR: Final = 60
BATTERY_REVERT_S: Final = 600.0
CHARGER_STEP_A: Final = 1.0
CHARGER_WRITES_PER_HOUR: Final = 30
# The foresight's objective, per kWh: allocation used first; paid import as a tie-break; a
# toll on charging above the 1 − η² a round trip wastes, so that the programme cannot "use"
# allocation by cycling the battery in place.
PAID_WEIGHT: Final = 0.2
CHARGE_TOLL: Final = 0.1


@dataclass(frozen=True, kw_only=True)
class Session:
    """A car's stay: quarters ``arrive`` (included) to ``leave`` (excluded), and its need (Wh)."""

    arrive: int
    leave: int
    need_wh: float
    departure: datetime  # local


@dataclass(frozen=True, kw_only=True)
class HomeYear:
    """The home's year at 15 minutes: powers (W), constant within each quarter."""

    starts: pd.DatetimeIndex  # UTC, each quarter's start
    load_w: Array
    pv_w: Array
    allocation_w: Array
    sessions: list[Session]

    def days(self, first: int, count: int) -> HomeYear:
        """Return ``count`` local days from the year's ``first`` (0-based), sessions within."""
        local = self.starts.tz_convert(ZONE).normalize()
        day_starts = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
        start = int(day_starts[first])
        stop = int(day_starts[first + count]) if first + count < len(day_starts) else len(local)
        return _window(self, start, stop)


def make_year(seed: int = SEED) -> HomeYear:
    """Return the home's year (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    hours = hours_of_year(YEAR)
    starts = pd.date_range(hours[0], periods=len(hours) * 4, freq="15min", name="start")
    shape = np.repeat(habit_profile(ree_profile(), HABIT).to_numpy(), 4) / 4
    base = shape * rng.gamma(shape=6.0, scale=1 / 6, size=len(starts))
    # Kettles, ovens, washing machines: a few 1-2.5 kW quarters a day, where the day is busy.
    spikes_w = np.where(
        rng.random(len(starts)) < 0.03 * shape / shape.mean(),
        rng.uniform(1000.0, 2500.0, len(starts)),
        0.0,
    )
    spikes_kwh = spikes_w.sum() * QUARTER_S / 3.6e6
    load_w = base * (ANNUAL_LOAD_KWH - spikes_kwh) * 1000 * 3600 / QUARTER_S + spikes_w
    sun = _clear_sky_share(starts, rng)
    pv_w = ROOF_KWP * sun * np.clip(rng.normal(1.0, 0.05, len(starts)), 0.8, 1.1)
    plant_w = PLANT_KWP * sun * np.clip(rng.normal(1.0, 0.03, len(starts)), 0.9, 1.05)
    return HomeYear(
        starts=starts,
        load_w=load_w,
        pv_w=pv_w,
        allocation_w=BETA * plant_w,
        sessions=_sessions(starts, rng),
    )


def _clear_sky_share(starts: pd.DatetimeIndex, rng: np.random.Generator) -> Array:
    """Return W per kWp at each quarter: clear sky × a daily clearness, 1,600 kWh/kWp a year."""
    ghi = SYNTHETIC_SITE.get_clearsky(starts + pd.Timedelta(minutes=7.5))["ghi"].to_numpy()
    days = starts.tz_convert(ZONE).normalize()
    codes, day_of = np.unique(days, return_inverse=True)
    raw = ghi * rng.beta(5.0, 1.6, size=len(codes))[day_of]
    return np.asarray(raw * (SPECIFIC_YIELD_KWH_PER_KWP * 1000 * 4 / raw.sum()), dtype=float)


def _sessions(starts: pd.DatetimeIndex, rng: np.random.Generator) -> list[Session]:
    """Return the car's stays: working-day evenings to 07:30, Friday's until Monday's."""
    ns = starts.asi8
    sessions = []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        if day.weekday() < 5:
            hour = float(np.clip(rng.normal(18.5, 1.0), 16.0, 22.0))
            arrive = datetime.combine(day, time(int(hour), int(hour % 1 * 4) * 15), ZONE)
            leave_day = day + timedelta(days=3 if day.weekday() == 4 else 1)
            departure = datetime.combine(leave_day, DEPARTURE, ZONE)
            need_kwh = float(np.clip(rng.lognormal(np.log(NEED_MEDIAN_KWH), NEED_SIGMA), 1, 30))
            first, last = (
                int(np.searchsorted(ns, pd.Timestamp(moment).value))
                for moment in (arrive, departure)
            )
            if first < len(ns):
                sessions.append(
                    Session(arrive=first, leave=last, need_wh=need_kwh * 1000, departure=departure)
                )
        day += timedelta(days=1)
    return sessions


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A way of running the home: no control (``battery``/``charger`` None) or HomeControl's."""

    name: str
    battery: bool
    battery_mode: BatteryMode | None = None
    charger_mode: ChargerMode | None = None


SCENARIOS: Final = (
    Scenario(name="nothing", battery=False),
    Scenario(name="native", battery=True),
    Scenario(
        name="use_my_share + surplus",
        battery=True,
        battery_mode=BatteryMode.USE_MY_SHARE,
        charger_mode=ChargerMode.SURPLUS,
    ),
    Scenario(
        name="use_my_share + min_surplus",
        battery=True,
        battery_mode=BatteryMode.USE_MY_SHARE,
        charger_mode=ChargerMode.MIN_SURPLUS,
    ),
    Scenario(
        name="use_my_share + plan",
        battery=True,
        battery_mode=BatteryMode.USE_MY_SHARE,
        charger_mode=ChargerMode.PLAN,
    ),
    Scenario(
        name="valley + surplus",
        battery=True,
        battery_mode=BatteryMode.VALLEY,
        charger_mode=ChargerMode.SURPLUS,
    ),
    Scenario(
        name="reserve + surplus",
        battery=True,
        battery_mode=BatteryMode.RESERVE,
        charger_mode=ChargerMode.SURPLUS,
    ),
)
HEADLINE: Final = "use_my_share + surplus"

LIMITS: Final = Limits(
    contracted_w=CONTRACTED_W,
    max_charge_w=BATTERY_W,
    max_discharge_w=BATTERY_W,
    soc_min=SOC_MIN,
    soc_max=SOC_MAX,
    max_current_a=CHARGER_A,
)


@dataclass
class Run:
    """What a scenario did: energies per quarter (Wh) and per session, writes, decision times."""

    import_wh: Array
    export_wh: Array
    session_wh: Array
    charged_wh: float = 0.0  # into the battery, AC side
    discharged_wh: float = 0.0
    battery_writes: int = 0
    charger_writes: int = 0
    step_ns: list[int] = field(default_factory=list)


def _control(scenario: Scenario) -> HomeControl | None:
    if scenario.battery_mode is None or scenario.charger_mode is None:
        return None
    return HomeControl(
        limits=LIMITS,
        battery=BatterySettings(mode=scenario.battery_mode, capacity_wh=BATTERY_WH),
        charger=ChargerSettings(mode=scenario.charger_mode, phases=PHASES),
    )


def simulate(year: HomeYear, scenario: Scenario) -> Run:  # noqa: PLR0912, PLR0915 - one loop
    """Run ``scenario`` over ``year``: a control step every 60 s, the devices' physics between.

    Without control the battery (if any) is a self-consumption inverter on the home's meter and
    the car draws the charger's full current. With control, each device follows the last value
    its ``WriteGate`` let through (None: the battery's own self-consumption).
    """
    quarters = len(year.starts)
    run = Run(
        import_wh=np.zeros(quarters),
        export_wh=np.zeros(quarters),
        session_wh=np.zeros(len(year.sessions)),
    )
    control = _control(scenario)
    battery_gate = WriteGate(
        step=BATTERY_STEP_W, per_hour=BATTERY_WRITES_PER_HOUR, revert_s=BATTERY_REVERT_S
    )
    charger_gate = WriteGate(step=CHARGER_STEP_A, per_hour=CHARGER_WRITES_PER_HOUR)
    charge_set: float | None = None  # the battery's written setpoint; None: its own mode
    current_set = CHARGER_A if control is None else 0.0
    soc = SOC_START
    session: int | None = None
    arrivals = {s.arrive: number for number, s in enumerate(year.sessions)}
    step_h = LOOP_S / 3600
    t0 = int(year.starts[0].timestamp())
    for q in range(quarters):
        load_w, pv_w, allocation_w = year.load_w[q], year.pv_w[q], year.allocation_w[q]
        if q in arrivals:
            session = arrivals[q]
            if control is not None and control.charger is not None:
                control.charger = replace(
                    control.charger,
                    target_kwh=year.sessions[session].need_wh / 1000,
                    deadline=year.sessions[session].departure,
                )
        if session is not None and q >= year.sessions[session].leave:
            session = None
        imported = exported = 0.0
        for minute in range(QUARTER_S // LOOP_S):
            # The devices, as last told.
            ev_w = 0.0
            if session is not None:
                left_wh = year.sessions[session].need_wh - run.session_wh[session]
                ev_w = min(min(current_set, CHARGER_A) * PHASE_VOLTS * PHASES, left_wh / step_h)
            battery_w = 0.0
            if scenario.battery:
                wanted = pv_w - load_w - ev_w if charge_set is None else charge_set
                battery_w = min(max(wanted, -BATTERY_W), BATTERY_W)
                if battery_w > 0:
                    room_wh = (SOC_MAX - soc) / 100 * BATTERY_WH / EFFICIENCY
                    battery_w = min(battery_w, room_wh / step_h)
                else:
                    stored_wh = (soc - SOC_MIN) / 100 * BATTERY_WH * EFFICIENCY
                    battery_w = max(battery_w, -stored_wh / step_h)
            grid_w = load_w - pv_w + battery_w + ev_w
            imported += max(grid_w, 0.0) * step_h
            exported += max(-grid_w, 0.0) * step_h
            if battery_w > 0:
                run.charged_wh += battery_w * step_h
                soc += battery_w * step_h * EFFICIENCY / BATTERY_WH * 100
            else:
                run.discharged_wh -= battery_w * step_h
                soc += battery_w * step_h / EFFICIENCY / BATTERY_WH * 100
            if session is not None:
                run.session_wh[session] += ev_w * step_h
            if control is None:
                continue
            # The control sees the devices as they were this minute, then decides.
            at = datetime.fromtimestamp(t0 + (q * QUARTER_S + minute * LOOP_S), ZONE)
            now = HomeNow(
                at=at,
                grid_w=grid_w,
                charge_w=battery_w,
                soc=soc,
                ev_w=ev_w,
                car_connected=session is not None,
                session_kwh=run.session_wh[session] / 1000 if session is not None else 0.0,
                allocation_w=allocation_w,
            )
            started = clock.perf_counter_ns()
            decisions = control.step(now)
            run.step_ns.append(clock.perf_counter_ns() - started)
            if decisions.battery is not None:
                wanted_set = decisions.battery.charge_w
                if battery_gate.due(wanted_set, at):
                    battery_gate.wrote(wanted_set, at)
                    charge_set = wanted_set
                    run.battery_writes += 1
            if decisions.charger is not None and charger_gate.due(decisions.charger.current_a, at):
                charger_gate.wrote(decisions.charger.current_a, at)
                current_set = decisions.charger.current_a
                run.charger_writes += 1
        run.import_wh[q], run.export_wh[q] = imported, exported
    return run


@dataclass(frozen=True, kw_only=True)
class Hourly:
    """A year's settlement per clock hour (Wh)."""

    net_wh: Array  # import − export
    allocated_wh: Array
    used_wh: Array  # min(allocated, max(net, 0))
    paid_wh: Array  # max(net − allocated, 0)


def settle(net_wh: Array, allocation_wh: Array) -> Hourly:
    """Return the hourly settlement of quarter-hour net imports and allocations (Wh).

    The quarters start on a clock hour (as the year does), four to an hour.
    """
    net = net_wh.reshape(-1, QUARTERS_PER_HOUR).sum(axis=1)
    allocated = allocation_wh.reshape(-1, QUARTERS_PER_HOUR).sum(axis=1)
    return Hourly(
        net_wh=net,
        allocated_wh=allocated,
        used_wh=np.minimum(allocated, np.maximum(net, 0.0)),
        paid_wh=np.maximum(net - allocated, 0.0),
    )


@dataclass(frozen=True, kw_only=True)
class Foresight:
    """The perfect-foresight schedule's quarter-hour net import (Wh) and its car energies."""

    net_wh: Array
    session_wh: Array
    seconds: float
    windows: int
    worst_gap: float  # the largest relative MIP gap of a window


def foresight(year: HomeYear, session_cap_wh: Array) -> Foresight:
    """Return the schedule that uses the most allocation over ``year``, knowing all of it.

    Per quarter the battery's charge and discharge (kW, AC side, 95 % each way, 10-100 % SoC,
    never exporting nor feeding the car, as the control's battery) and the car's power (≤ the
    charger's while plugged); per session the car's energy ≤ ``session_cap_wh``; per quarter the
    contracted power less the control's headroom. Maximises Σ S_h, then (``PAID_WEIGHT``)
    minimises paid import.

    S_h = min(A_h, max(N_h, 0)) is not concave in the schedule (an hour that exports uses none
    of its allocation, however little it exports), so each hour has a binary "this hour imports"
    and the programme is a MILP. Solved week by week (HiGHS), the battery's SoC carried over:
    the weeks start on Monday at 08:00, when the car has left and the sun has barely risen, so
    no session is cut and little is lost at the seams.
    """
    started = clock.perf_counter()
    n = len(year.starts)
    local = year.starts.tz_convert(ZONE)
    seams = np.flatnonzero((local.dayofweek == 0) & (local.hour == 8) & (local.minute == 0))
    edges = [0, *(int(i) for i in seams if i > 0), n]
    net_wh = np.zeros(n)
    session_wh = np.zeros(len(year.sessions))
    soc_kwh = SOC_START / 100 * BATTERY_WH / 1000
    worst_gap = 0.0
    for first, stop in itertools.pairwise(edges):
        window = _window(year, first, stop)
        numbers = [k for k, s in enumerate(year.sessions) if first <= s.arrive < stop]
        net, energies, soc_kwh, gap = _foresee(window, session_cap_wh[numbers], soc_kwh)
        net_wh[first:stop] = net
        session_wh[numbers] = energies
        worst_gap = max(worst_gap, gap)
    return Foresight(
        net_wh=net_wh,
        session_wh=session_wh,
        seconds=clock.perf_counter() - started,
        windows=len(edges) - 1,
        worst_gap=worst_gap,
    )


def _window(year: HomeYear, first: int, stop: int) -> HomeYear:
    return HomeYear(
        starts=year.starts[first:stop],
        load_w=year.load_w[first:stop],
        pv_w=year.pv_w[first:stop],
        allocation_w=year.allocation_w[first:stop],
        sessions=[
            replace(s, arrive=s.arrive - first, leave=min(s.leave, stop) - first)
            for s in year.sessions
            if first <= s.arrive < stop
        ],
    )


def _foresee(  # noqa: PLR0915 - one model
    year: HomeYear, session_cap_wh: Array, soc_start_kwh: float
) -> tuple[Array, Array, float, float]:
    """Return one window's net import (Wh per quarter), car energies (Wh), end SoC (kWh), gap."""
    n = len(year.starts)
    hours = n // QUARTERS_PER_HOUR
    dt_h = QUARTER_S / 3600
    base_kw = (year.load_w - year.pv_w) / 1000
    car_kw = CHARGER_A * PHASE_VOLTS * PHASES / 1000
    session_of = np.full(n, -1)
    for number, stay in enumerate(year.sessions):
        session_of[stay.arrive : stay.leave] = number
    allocated_kwh = (year.allocation_w / 1000 * dt_h).reshape(-1, 4).sum(axis=1)
    base_kwh = (base_kw * dt_h).reshape(-1, 4).sum(axis=1)
    # Variables: charge c, discharge d, car e (kW); SoC s (kWh, end of quarter); per hour the
    # allocation used S, the paid import P (kWh) and whether it imports, z.
    c, d, e, s = (np.arange(n) + k * n for k in range(4))
    used, paid, imports = (4 * n + k * hours + np.arange(hours) for k in range(3))
    size = 4 * n + 3 * hours
    q = np.arange(n)
    h = np.arange(hours)
    hour_of = q // QUARTERS_PER_HOUR
    capacity = BATTERY_WH / 1000
    # SoC: s_q − s_{q−1} − η c dt + d dt / η = 0 (before the first quarter, the start).
    soc_eq = _matrix(
        n,
        size,
        [(q, s, 1.0), (q, c, -EFFICIENCY * dt_h), (q, d, dt_h / EFFICIENCY), (q[1:], s[:-1], -1.0)],
    )
    soc_rhs = np.zeros(n)
    soc_rhs[0] = soc_start_kwh
    # N_h − base_h = Σ (c − d + e) dt. S_h ≤ N_h + M_h (1 − z_h); S_h ≤ A_h z_h;
    # P_h ≥ N_h − A_h.
    big_m = np.maximum(-base_kwh, 0.0) + BATTERY_W / 1000
    flows = [(hour_of, c, -dt_h), (hour_of, d, dt_h), (hour_of, e, -dt_h)]
    used_ub = _matrix(hours, size, [(h, used, 1.0), (h, imports, big_m), *flows])
    allocation_ub = _matrix(hours, size, [(h, used, 1.0), (h, imports, -allocated_kwh)])
    paid_ub = _matrix(hours, size, [(h, paid, -1.0), *((r, col, -v) for r, col, v in flows)])
    # Contracted power: c − d + e ≤ the limit less the home's own net draw (≥ 0).
    grid_ub = _matrix(n, size, [(q, c, 1.0), (q, d, -1.0), (q, e, 1.0)])
    grid_rhs = np.maximum(LIMITS.grid_limit_w / 1000 - base_kw, 0.0)
    plugged = q[session_of >= 0]
    session_ub = _matrix(len(year.sessions), size, [(session_of[plugged], e[plugged], dt_h)])
    lower, upper = np.zeros(size), np.zeros(size)
    upper[c] = BATTERY_W / 1000
    upper[d] = np.minimum(BATTERY_W / 1000, np.maximum(base_kw, 0.0))
    upper[e[plugged]] = car_kw
    lower[s], upper[s] = SOC_MIN / 100 * capacity, SOC_MAX / 100 * capacity
    upper[used] = allocated_kwh
    upper[paid] = np.inf
    # Only an hour with allocation that may export needs deciding: with none, nothing is used;
    # with every quarter drawing, the battery (which never exports) cannot make it export.
    may_export = (np.minimum(base_kw, 0.0).reshape(-1, 4).sum(axis=1) < 0) & (allocated_kwh > 0)
    lower[imports] = upper[imports] = allocated_kwh > 0
    lower[imports[may_export]], upper[imports[may_export]] = 0.0, 1.0
    integrality = np.zeros(size)
    integrality[imports[may_export]] = 1
    cost = np.zeros(size)
    cost[used] = -1.0
    cost[paid] = PAID_WEIGHT
    cost[c] = CHARGE_TOLL * dt_h
    result = milp(
        cost,
        constraints=[
            LinearConstraint(soc_eq, soc_rhs, soc_rhs),
            LinearConstraint(
                sparse.vstack([used_ub, allocation_ub, paid_ub, grid_ub, session_ub]),
                -np.inf,
                np.r_[
                    base_kwh + big_m,
                    np.zeros(hours),
                    allocated_kwh - base_kwh,
                    grid_rhs,
                    session_cap_wh / 1000,
                ],
            ),
        ],
        bounds=Bounds(lower, upper),
        integrality=integrality,
        options={"mip_rel_gap": 5e-3, "time_limit": 60.0},
    )
    if result.x is None:
        raise RuntimeError(f"foresight: {result.message}")
    x = result.x
    net_kwh = (base_kw + x[c] - x[d] + x[e]) * dt_h
    energies = np.bincount(
        session_of[plugged], weights=x[e][plugged] * dt_h * 1000, minlength=len(year.sessions)
    ).astype(float)
    return net_kwh * 1000, energies, float(x[s][-1]), float(getattr(result, "mip_gap", 0.0) or 0.0)


def _matrix(count: int, size: int, entries: list[tuple[Any, Any, Any]]) -> sparse.csr_array:
    """Return a ``count`` × ``size`` matrix from (rows, columns, values) triples (broadcast)."""
    rows, columns, values = [], [], []
    for row, column, value in entries:
        row_of, column_of = np.broadcast_arrays(np.asarray(row), np.asarray(column))
        rows.append(row_of)
        columns.append(column_of)
        values.append(np.broadcast_to(np.asarray(value, dtype=float), row_of.shape))
    return sparse.csr_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
        shape=(count, size),
    )


def summarise(hourly: Hourly) -> dict[str, float]:
    """Return the year's allocation used and paid import (kWh, share)."""
    return {
        "allocated_kwh": float(hourly.allocated_wh.sum() / 1000),
        "used_kwh": float(hourly.used_wh.sum() / 1000),
        "used_share": float(hourly.used_wh.sum() / hourly.allocated_wh.sum()),
        "paid_import_kwh": float(hourly.paid_wh.sum() / 1000),
    }


def _quarter_wh(power_w: Array) -> Array:
    return power_w * QUARTER_S / 3600


def _scenario_result(year: HomeYear, scenario: Scenario, run: Run) -> dict[str, Any]:
    days = len(year.starts) / 96
    hourly = settle(run.import_wh - run.export_wh, _quarter_wh(year.allocation_w))
    needs = np.array([s.need_wh for s in year.sessions])
    times_us = np.array(run.step_ns) / 1000
    return {
        "scenario": scenario.name,
        **summarise(hourly),
        "meter_import_kwh": float(run.import_wh.sum() / 1000),
        "export_kwh": float(run.export_wh.sum() / 1000),
        "battery_cycles": run.discharged_wh / BATTERY_WH if scenario.battery else 0.0,
        "ev_kwh": float(run.session_wh.sum() / 1000),
        "ev_need_kwh": float(needs.sum() / 1000),
        "sessions": len(needs),
        "sessions_short": int((run.session_wh < needs - 1.0).sum()),
        "battery_writes_per_day": run.battery_writes / days,
        "charger_writes_per_day": run.charger_writes / days,
        "step_median_us": float(np.median(times_us)) if len(times_us) else None,
        "step_p99_us": float(np.percentile(times_us, 99)) if len(times_us) else None,
        "session_wh": run.session_wh,
        "hourly_used_wh": hourly.used_wh,
    }


def _worst_days(year: HomeYear, controller_wh: Array, best_wh: Array, count: int = 8) -> list[Any]:
    """Return the days where the controller used least of what foresight used (kWh)."""
    hour_starts = year.starts[::QUARTERS_PER_HOUR].tz_convert(ZONE)
    days = pd.Series(best_wh - controller_wh, index=hour_starts.date).groupby(level=0).sum()
    lost = days.sort_values(ascending=False).head(count)
    return [{"day": str(day), "lost_kwh": round(float(kwh) / 1000, 2)} for day, kwh in lost.items()]


def bench_control() -> dict[str, Any]:
    """Run every scenario over the year and the perfect-foresight schedules."""
    started = clock.perf_counter()
    year = make_year()
    allocation_wh = _quarter_wh(year.allocation_w)
    results: dict[str, Any] = {
        "year": YEAR,
        "home": {
            "load_kwh": float(_quarter_wh(year.load_w).sum() / 1000),
            "roof_kwh": float(_quarter_wh(year.pv_w).sum() / 1000),
            "allocated_kwh": float(allocation_wh.sum() / 1000),
            "roof_kwp": ROOF_KWP,
            "plant_kwp": PLANT_KWP,
            "beta": BETA,
            "battery_kwh": BATTERY_WH / 1000,
            "battery_kw": BATTERY_W / 1000,
            "charger_kw": CHARGER_A * PHASE_VOLTS * PHASES / 1000,
            "contracted_kw": CONTRACTED_W / 1000,
        },
        "loop_s": LOOP_S,
        "scenarios": [],
    }
    runs = {}
    for scenario in SCENARIOS:
        runs[scenario.name] = _scenario_result(year, scenario, simulate(year, scenario))
    needs = np.array([s.need_wh for s in year.sessions])
    headline = runs[HEADLINE]
    best_need = foresight(year, needs)
    best_same = foresight(year, headline["session_wh"])
    nothing = runs["nothing"]
    for name, run in runs.items():
        run["vs_nothing_used_kwh"] = run["used_kwh"] - nothing["used_kwh"]
        run["import_avoided_kwh"] = nothing["paid_import_kwh"] - run["paid_import_kwh"]
        run["import_avoided_share"] = run["import_avoided_kwh"] / nothing["paid_import_kwh"]
        run["vs_native_used_kwh"] = run["used_kwh"] - runs["native"]["used_kwh"]
        results["scenarios"].append(
            {k: v for k, v in run.items() if k not in {"session_wh", "hourly_used_wh"}}
            | {"name": name}
        )
    for label, best in (("need", best_need), ("same_ev_energy", best_same)):
        hourly = settle(best.net_wh, allocation_wh)
        summary = summarise(hourly)
        results[f"foresight_{label}"] = summary | {
            "ev_kwh": float(best.session_wh.sum() / 1000),
            "lp_s": best.seconds,
            "weeks": best.windows,
            "worst_mip_gap": best.worst_gap,
            "controller_ratio": headline["used_kwh"] / summary["used_kwh"],
        }
        if label == "need":
            results["worst_days"] = _worst_days(year, headline["hourly_used_wh"], hourly.used_wh)
    results["seconds"] = clock.perf_counter() - started
    return results


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table."""
    print(
        "| scenario | allocation used | vs nothing | vs native | paid import | avoided "
        "| battery cycles | EV kWh | sessions short | writes/day battery, charger "
        "| step median, p99 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in results["scenarios"]:
        timing = (
            f"{row['step_median_us']:.0f}, {row['step_p99_us']:.0f} µs"
            if row["step_median_us"] is not None
            else "–"
        )
        print(
            f"| {row['name']} | {row['used_share']:.1%} ({row['used_kwh']:,.0f} kWh) "
            f"| {row['vs_nothing_used_kwh']:+,.0f} kWh | {row['vs_native_used_kwh']:+,.0f} kWh "
            f"| {row['paid_import_kwh']:,.0f} kWh "
            f"| {row['import_avoided_kwh']:,.0f} kWh ({row['import_avoided_share']:.0%}) "
            f"| {row['battery_cycles']:.0f} | {row['ev_kwh']:,.0f} "
            f"| {row['sessions_short']} / {row['sessions']} "
            f"| {row['battery_writes_per_day']:.0f}, {row['charger_writes_per_day']:.1f} "
            f"| {timing} |"
        )
    for label in ("need", "same_ev_energy"):
        best = results[f"foresight_{label}"]
        print(
            f"| foresight (car ≤ {label.replace('_', ' ')}) | {best['used_share']:.1%} "
            f"({best['used_kwh']:,.0f} kWh) | | | {best['paid_import_kwh']:,.0f} kWh | | "
            f"| {best['ev_kwh']:,.0f} | | | MILP {best['lp_s']:.0f} s |"
        )
    print(
        f"\n{HEADLINE} / foresight: {results['foresight_need']['controller_ratio']:.1%} "
        f"(car ≤ need), {results['foresight_same_ev_energy']['controller_ratio']:.1%} "
        "(car ≤ what the controller gave it)"
    )
