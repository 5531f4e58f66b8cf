"""Judging learning schemes as a community would live with them: re-fitted at the legal cadence.

A community may change its coefficients every four months (Orden TED/1247/2021). A scheme that
learns from history is then lived as a sequence of fits: on each change date, fitted on all the
data known by then, and used until the next. ``rolling`` builds that sequence; ``rolling_split``
chooses, for a history of at least a year, the months judged that way — never the months a fit
learnt from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from ioe_aggregator.sharing import schemes as sch
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_aggregator.sharing.model import Coefficients, Member
from ioe_aggregator.sharing.rules import Rules

# How often coefficients may change (months): Orden TED/1247/2021 today; a 2025 draft decree
# proposes monthly changes.
REFIT_MONTHS: Final = 4
# The least history a first fit learns from, in the default split (months).
FIRST_FIT_MONTHS: Final = 8
# At most this much is judged by default (months): the last year.
JUDGED_MONTHS: Final = 12


def _month_start(moment: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Return the first local midnight of a month at or after ``moment`` (UTC)."""
    local = moment.tz_convert(tz)
    start = pd.Timestamp(year=local.year, month=local.month, day=1, tz=tz)
    if start < local:
        start = (start + pd.DateOffset(months=1)).tz_localize(None).tz_localize(tz)
    return start.tz_convert("UTC")


def _months_later(moment: pd.Timestamp, months: int, tz: str) -> pd.Timestamp:
    """Return the local midnight ``months`` later (UTC), across summer-time changes."""
    local = moment.tz_convert(tz).tz_localize(None) + pd.DateOffset(months=months)
    return local.tz_localize(tz).tz_convert("UTC")


def fit_dates(
    start: pd.Timestamp, end: pd.Timestamp, tz: str = DEFAULT_TZ, months: int = REFIT_MONTHS
) -> list[pd.Timestamp]:
    """Return the change dates from ``start`` (included) every ``months`` months before ``end``."""
    dates = []
    moment = start
    while moment < end:
        dates.append(moment)
        moment = _months_later(moment, months, tz)
    return dates


def rolling_split(
    index: pd.DatetimeIndex, tz: str = DEFAULT_TZ
) -> tuple[pd.Timestamp, pd.Timestamp, list[pd.Timestamp]] | None:
    """Return (first data, end of data, change dates) to judge on, or None under a year.

    Judged: the months after the first ``FIRST_FIT_MONTHS`` whole months, at most the last
    ``JUDGED_MONTHS``, starting on a month's first day; re-fitted every ``REFIT_MONTHS``.
    """
    first, end = index[0], index[-1] + pd.Timedelta(hours=1)
    if end < _months_later(_month_start(first, tz), JUDGED_MONTHS, tz):
        return None
    earliest = _months_later(_month_start(first, tz), FIRST_FIT_MONTHS, tz)
    last_year = _month_start(_months_later(end, -JUDGED_MONTHS, tz), tz)
    judged_from = max(earliest, last_year)
    return first, end, fit_dates(judged_from, end, tz)


@dataclass(frozen=True, kw_only=True)
class Rolled:
    """A scheme lived as a sequence of fits (``coefficients``), and its first fit alone.

    ``first`` gives the first fit's β for every hour from the first change date to the end:
    the scheme fitted once, which the report compares with re-fitting.
    """

    coefficients: Coefficients
    first: Coefficients


def rolling(
    scheme: str,
    members: Sequence[Member],
    consumption_kwh: pd.DataFrame,
    generation_kwh: pd.Series,
    *,
    changes: Sequence[pd.Timestamp],
    end: pd.Timestamp,
    tz: str = DEFAULT_TZ,
    rules: Rules | None = None,
    options: Mapping[str, Any] | None = None,
) -> Rolled:
    """Return the scheme's β from ``changes[0]`` to ``end``, re-fitted at each change date.

    Each stretch's β are learnt from the data strictly before its change date, and nothing
    after it. The result is hourly (a static scheme's β step at each change); its ``fit`` is
    the last fit's, with the change dates. ``options`` go to each fit (`schemes.build`).
    """
    index = consumption_kwh.index
    pieces = []
    first: Coefficients | None = None
    last: Coefficients | None = None
    for number, change in enumerate(changes):
        until = changes[number + 1] if number + 1 < len(changes) else end
        known = index < change
        stretch = index[(index >= change) & (index < until)]
        if not len(stretch):
            continue
        # The first fit gives β to the end: it is also the scheme fitted once.
        target = index[(index >= change) & (index < end)] if first is None else stretch
        fitted = sch.build(
            scheme,
            members,
            history_kwh=consumption_kwh.loc[known],
            history_generation_kwh=generation_kwh.loc[generation_kwh.index < change],
            target_index=target,
            tz=tz,
            rules=rules,
            options=options,
        )
        pieces.append(fitted.hourly(stretch))
        first = first or fitted
        last = fitted
    if first is None or last is None:
        raise ValueError(f"{scheme}: no hour to judge after {changes[0]}")
    return Rolled(
        coefficients=Coefficients(
            scheme=scheme,
            values=pd.concat(pieces),
            # What the last fit chose, and when each fit was made.
            fit={**last.fit, "changes": [change.isoformat() for change in changes]},
        ),
        first=first,
    )
