"""The control benchmark's simulation and accounting, over a few days of its home's year."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from custom_components.ioe_community.controls.model import PHASE_VOLTS
from ioe_dev.bench_control import (
    CHARGER_A,
    HEADLINE,
    SCENARIOS,
    HomeYear,
    Scenario,
    foresight,
    make_year,
    settle,
    simulate,
)

QUARTER_H = 0.25


@cache
def week() -> HomeYear:
    """Return a week of June (Monday to Sunday): sunny, the car home from Friday to Monday."""
    year = make_year()
    first = next(
        i
        for i in range(150, 160)
        if year.days(i, 1).starts.tz_convert("Europe/Madrid")[0].dayofweek == 0
    )
    return year.days(first, 7)


def scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def test_settlement_of_two_hours_by_hand() -> None:
    # Hour 1 imports 1.6 kWh net against 1 kWh allocated: 1 kWh used, 0.6 kWh paid.
    # Hour 2 exports 0.2 kWh net: none of its 1 kWh allocated is used, nothing paid.
    net_wh = np.array([1000.0, 500.0, -200.0, 300.0, -500.0, 100.0, 100.0, 100.0])
    hourly = settle(net_wh, np.full(8, 250.0))
    np.testing.assert_allclose(hourly.net_wh, [1600.0, -200.0])
    np.testing.assert_allclose(hourly.used_wh, [1000.0, 0.0])
    np.testing.assert_allclose(hourly.paid_wh, [600.0, 0.0])


def test_doing_nothing_uses_what_the_home_draws_each_hour() -> None:
    days = week()
    run = simulate(days, scenario("nothing"))
    car_w = np.zeros(len(days.starts))
    delivered = run.session_wh.copy()
    for number, session in enumerate(days.sessions):  # full current from arrival until full
        for q in range(session.arrive, session.leave):
            car_w[q] = min(CHARGER_A * PHASE_VOLTS, delivered[number] / QUARTER_H)
            delivered[number] -= car_w[q] * QUARTER_H
    assert np.allclose(delivered, 0.0, atol=1e-6)
    net_wh = (days.load_w - days.pv_w + car_w) * QUARTER_H
    np.testing.assert_allclose(run.import_wh - run.export_wh, net_wh, atol=1e-6)
    expected = settle(net_wh, days.allocation_w * QUARTER_H)
    used = settle(run.import_wh - run.export_wh, days.allocation_w * QUARTER_H).used_wh
    np.testing.assert_allclose(used, expected.used_wh, atol=1e-6)


@pytest.mark.parametrize("name", [HEADLINE, "use_my_share + plan"])
def test_energy_balances_and_foresight_does_at_least_as_well(name: str) -> None:
    days = week()
    run = simulate(days, scenario(name))
    losses_wh = run.charged_wh - run.discharged_wh  # what the battery kept or lost
    drawn_wh = ((days.load_w - days.pv_w) * QUARTER_H).sum() + losses_wh + run.session_wh.sum()
    assert (run.import_wh - run.export_wh).sum() == pytest.approx(drawn_wh, abs=1e-6)
    needs = np.array([s.need_wh for s in days.sessions])
    assert np.all(run.session_wh <= needs + 1e-6)
    allocation_wh = days.allocation_w * QUARTER_H
    controller = settle(run.import_wh - run.export_wh, allocation_wh).used_wh.sum()
    for cap_wh in (needs, run.session_wh):
        best = settle(foresight(days, cap_wh).net_wh, allocation_wh).used_wh.sum()
        assert best >= controller - 1e-6
        assert best <= allocation_wh.sum() + 1e-6
