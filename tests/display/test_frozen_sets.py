"""A period's members are fixed when its figures are first given: late data moves nobody."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ioe_aggregator.public.figures import INCOMPLETE, day_figures, today_figures
from ioe_aggregator.sharing.allocation import Allocation
from tests.display.data import ZONE

DAY = date(2026, 6, 10)
SIX = [f"m-{n:04d}" for n in range(1, 7)]


def _allocation(consumption: dict[str, list[float]], hours: int = 3) -> Allocation:
    """Return an allocation of the first ``hours`` of ``DAY``: 0.5 kWh shared to each member."""
    index = pd.date_range(pd.Timestamp(DAY, tz=ZONE), periods=hours, freq="h", name="start")
    used = pd.DataFrame(consumption, index=index.tz_convert("UTC"))
    allocated = pd.DataFrame(0.5, index=used.index, columns=used.columns)
    self_consumed = np.minimum(allocated, used)
    return Allocation(
        generation_kwh=pd.Series(0.5 * len(used.columns), index=used.index),
        consumption_kwh=used,
        allocated_kwh=allocated,
        self_consumed_kwh=self_consumed,
        import_kwh=used - self_consumed,
        surplus_kwh=allocated - self_consumed,
    )


def test_a_member_outside_todays_set_never_enters_it() -> None:
    first = today_figures(_allocation(dict.fromkeys(SIX, [1.0] * 3)), DAY, None)
    assert first.withheld is None
    assert first.counted == frozenset(SIX)
    # A seventh member's data for the same hours arrives late: complete, but not counted.
    late = _allocation(dict.fromkeys(SIX, [1.0] * 3) | {"m-0007": [0.2] * 3})
    assert today_figures(late, DAY, None).counted == frozenset([*SIX, "m-0007"])
    again = today_figures(late, DAY, first.counted)
    assert again.counted == first.counted
    assert again.self_consumed_kwh == first.self_consumed_kwh
    assert again.allocated_kwh == first.allocated_kwh


def test_a_member_of_the_set_missing_an_hour_withholds_today() -> None:
    gap = dict.fromkeys(SIX, [1.0] * 3) | {"m-0006": [1.0, 1.0, np.nan]}
    # Unfrozen, today would be counted over five: the difference would be m-0006's own.
    assert today_figures(_allocation(gap), DAY, None).counted == frozenset(SIX[:5])
    withheld = today_figures(_allocation(gap), DAY, frozenset(SIX))
    assert withheld.withheld == INCOMPLETE


def test_a_day_keeps_its_set_when_computed_again() -> None:
    late = _allocation(dict.fromkeys(SIX, [1.0] * 24) | {"m-0007": [0.2] * 24}, hours=24)
    [day] = day_figures(late, ZONE, {DAY: frozenset(SIX)})
    assert day.withheld is None
    assert day.counted == frozenset(SIX)
    [unfrozen] = day_figures(late, ZONE, {})
    assert unfrozen.counted == frozenset([*SIX, "m-0007"])
    gap = dict.fromkeys(SIX, [1.0] * 24) | {"m-0001": [np.nan] + [1.0] * 23}
    [incomplete] = day_figures(_allocation(gap, hours=24), ZONE, {DAY: frozenset(SIX)})
    assert incomplete.withheld == INCOMPLETE
