"""The public figures: the community's totals by local day, guarded so that nobody shows in them.

What the public display and its open data give, and the rules that make them safe to give to
anyone (``RULES`` states them in the JSON, docs/public-display.md explains them):

- **Aggregates only**, by whole local day or whole hour of today: the figures that depend on
  the members' consumption (energy shared, self-consumed, its share, CO2 avoided, money kept)
  are given for today's complete hours so far, the last complete day and the year up to it.
  Today runs from local midnight to the last whole hour (the hour under way never counts, nor
  one that ended less than ``SETTLE`` ago) and is computed once per hour that ends, so the
  finest series anyone can difference out of it is the community's hourly total, never a
  home's. The plant's production now is given live: it is the community's plant, no household's.
- **At least ``MIN_CONTRIBUTORS`` members**: a day counts only when at least that many members'
  consumption is known for every hour of it (the rule ``/api/v1/community/kpis`` applies to
  public callers, here on the hours the results are computed from); today likewise for every
  hour so far. With fewer active members the display shows nothing, and says why.
- **No dominant member**: a day counts only when no member used more than
  ``MAX_MEMBER_SHARE`` of the day's consumption of the members counted, nor of its
  self-consumed energy: a total that is mostly one home's is that home's figure. Today counts
  only when no hour so far breaks this (each hour checked on its own): one hour that breaks a
  rule withholds today (saying only ``withheld``) rather than leaving that hour out (a gap would
  say when).
- **Membership changes**: a day is computed over the members whose consumption is known for the
  whole of it, so a member who joins or leaves during a day is left out of that day, and the
  year is the sum of the days that count (up to yesterday: today is not in it). Today likewise
  counts the members known for every hour since midnight.
- **Frozen member sets**: the members a day (or today) counts are fixed when its figures are
  first given, so that late data (Datadis, a back-filled gap) never changes a figure by exactly
  one home's: a member outside the set never enters it; a day whose member no longer has
  complete data keeps the figures it was given; today, when a member of its set lacks a counted
  hour, is withheld until the data comes. The sets are kept in memory: a restart works them out
  again from the data (a residual risk, docs/public-display.md). How many members a period
  counts is never given, and today's reason is only ``withheld`` (whole days say which rule).

The figures are the results engine's (``ResultsEngine.shares``: the same allocation the members'
results count); money kept is the self-consumed energy at the import price, what it saved its
members at the price the results value it. Days are read from the store's hourly sums; past days
are kept in memory and only the last ``FRESH_DAYS`` (late data: Datadis, corrections) are
computed again every ``refresh_s``, in the background, so a request never sums the year's
readings nor waits for a computation (but the first after the service starts, when the display
is off: with it on, the service computes them as it starts).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import logging
import math
import time
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioe_aggregator.api.community import MIN_CONTRIBUTORS
from ioe_aggregator.config import Config
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.public.emissions import factor_for
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.results.publisher import ResultsPublisher
from ioe_aggregator.sharing.allocation import Allocation

_LOGGER = logging.getLogger(__name__)
# No member may weigh more than this in a day's consumption or self-consumed energy.
MAX_MEMBER_SHARE: Final = 0.4
# The days computed again at every refresh (later ones are kept until ``KEEP_S`` passes).
FRESH_DAYS: Final = 7
KEEP_S: Final = 24 * 3600
STALE_PER_REFRESH: Final = 31
# The most days computed in one step: the year's first figures read every member's hours, and
# one step for all of them would hold the service's other answers back for seconds; between
# steps they go through.
DAYS_PER_STEP: Final = 14
# An hour of today counts once this has passed since it ended (its readings have arrived).
SETTLE: Final = timedelta(minutes=15)
TOO_FEW_MEMBERS = "too_few_members"
# Today's only reason: which rule an hour broke would say what one home did in it.
WITHHELD = "withheld"
# A member of a period's frozen set lacks data in it.
INCOMPLETE = "incomplete"
DOMINANT_MEMBER = "dominant_member"
NO_DATA = "no_data"
NO_PRICES = "no_prices"
RULES: Final = {
    "min_members": MIN_CONTRIBUTORS,
    "max_member_share": MAX_MEMBER_SHARE,
    "resolution": "whole local day; today: whole hours to the last one, computed once an hour "
    "(production now: live, the community's plant)",
    "text": [
        "Only totals of the community: no figure of any member.",
        f"A day counts only when at least {MIN_CONTRIBUTORS} members' consumption is known "
        "for every hour of it; with fewer active members nothing is shown.",
        f"A day counts only when no member used more than {MAX_MEMBER_SHARE:.0%} of its "
        "consumption or of its self-consumed energy.",
        "Today covers its complete hours so far (never the hour under way), computed once an "
        "hour; it is shown only when every one of those hours passes both rules above, each "
        "hour on its own, else it is withheld (without saying which rule an hour broke).",
        "The year is the sum of the whole days that count, up to yesterday.",
        "Each day (and today) is computed over the members present since its midnight, so a "
        "member joining or leaving changes no figure given.",
        "The members a day (or today) counts are fixed when its figures are first given: late "
        "data never adds or removes a member from figures already given.",
    ],
}


@dataclass(frozen=True, slots=True)
class Day:
    """One local day's figures over the members counted, or why it does not count."""

    day: date
    counted: frozenset[str]
    withheld: str | None
    generation_kwh: float
    allocated_kwh: float
    self_consumed_kwh: float
    hours: int

    @property
    def members(self) -> int:
        """How many members the figures count."""
        return len(self.counted)


def _withheld(used: pd.DataFrame, self_consumed: pd.DataFrame) -> str | None:
    """Return the rule that some span's sums break, or None (rows: spans; columns: members)."""
    if used.shape[1] < MIN_CONTRIBUTORS:
        return TOO_FEW_MEMBERS
    for sums in (used, self_consumed):
        totals = sums.sum(axis=1)
        if bool(((totals > 0) & (sums.max(axis=1) > MAX_MEMBER_SHARE * totals)).any()):
            return DOMINANT_MEMBER
    return None


def _span(
    allocation: Allocation,
    rows: np.ndarray,
    day: date,
    *,
    hourly: bool,
    frozen: frozenset[str] | None,
) -> Day:
    """Return the figures of some hours of ``day`` over the members known for all of them.

    The rules apply to the hours' sums, or (``hourly``) to each hour's. With a ``frozen`` set,
    over its members alone, and ``INCOMPLETE`` when any of them is not known for every hour.
    """
    consumption = allocation.consumption_kwh[rows]
    counted = consumption.columns[consumption.notna().all(axis=0).to_numpy()]
    if frozen is not None:
        if not frozen <= set(counted):
            return Day(day, frozen, INCOMPLETE, 0.0, 0.0, 0.0, hours=len(consumption.index))
        counted = counted[counted.isin(list(frozen))]
    used = consumption[counted]
    self_consumed = allocation.self_consumed_kwh[rows][counted]
    if hourly:
        withheld = _withheld(used, self_consumed)
    else:
        withheld = _withheld(used.sum(axis=0).to_frame().T, self_consumed.sum(axis=0).to_frame().T)
    return Day(
        day=day,
        counted=frozenset(str(member) for member in counted),
        withheld=withheld,
        generation_kwh=float(allocation.generation_kwh[rows].sum()),
        allocated_kwh=float(allocation.allocated_kwh[rows][counted].sum().sum()),
        self_consumed_kwh=float(self_consumed.sum().sum()),
        hours=len(consumption.index),
    )


def day_figures(
    allocation: Allocation, zone: ZoneInfo, frozen: dict[date, frozenset[str]]
) -> list[Day]:
    """Return each local day's figures of an allocation over whole local days (rules above).

    A day in ``frozen`` counts that set of members alone (``INCOMPLETE`` if one lacks data).
    """
    local = allocation.consumption_kwh.index.tz_convert(zone)
    days = np.array([moment.date() for moment in local.to_pydatetime()])
    return [
        _span(allocation, days == day, day, hourly=False, frozen=frozen.get(day))
        for day in sorted(set(days))
    ]


def today_figures(allocation: Allocation, today: date, frozen: frozenset[str] | None) -> Day:
    """Return today's figures over an allocation of its complete hours, each hour's checked.

    With a ``frozen`` set (today's first figures'), over its members alone.
    """
    rows = np.ones(len(allocation.consumption_kwh.index), dtype=bool)
    return _span(allocation, rows, today, hourly=True, frozen=frozen)


def today_end(now: datetime, zone: ZoneInfo) -> datetime:
    """Return (UTC) the end of today's last hour that counts at ``now``.

    An hour counts once ``SETTLE`` has passed since it ended (the members' last quarter hour of
    it has arrived); never before local midnight.
    """
    settled = (now - SETTLE).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return max(settled, local_midnight(now.astimezone(zone).date(), zone))


def today_hours(now: datetime, zone: ZoneInfo) -> pd.DatetimeIndex:
    """Return the starts (UTC) of today's hours that count at ``now``: none in its first hour."""
    midnight = local_midnight(now.astimezone(zone).date(), zone)
    end = today_end(now, zone)
    if end <= midnight:  # pandas would give [midnight] for this empty span
        return pd.DatetimeIndex([], tz=UTC, name="start")
    return pd.date_range(midnight, end, freq="h", inclusive="left", name="start")


def _value(value: float | None, unit: str, digits: int = 1) -> dict[str, Any]:
    return {"value": None if value is None else round(value, digits), "unit": unit}


class PublicFigures:
    """The public figures, computed at most once per ``refresh_s`` however often asked for."""

    def __init__(self, config: Config, registry: Registry, results: ResultsPublisher) -> None:
        """Read the community's results, members and options."""
        self._config = config
        self._registry = registry
        self._results = results
        self._zone = config.results.zone
        self._days: dict[date, tuple[Day, float]] = {}
        # The members each day counts, fixed at its first figures given.
        self._day_sets: dict[date, frozenset[str]] = {}
        # Today's figures and the end of their last hour: computed once per hour that ends.
        self._today: tuple[datetime, Day] | None = None
        # The members today counts, fixed at its first figures given.
        self._today_set: tuple[date, frozenset[str]] | None = None
        self._lock = asyncio.Lock()
        self._figures: dict[str, Any] | None = None
        self._computed_s = -math.inf
        self._task: asyncio.Task[None] | None = None

    @property
    def refresh_s(self) -> int:
        """How often the figures are computed again (and the display asks for them)."""
        return self._config.display.refresh_s

    async def figures(self) -> dict[str, Any]:
        """Return the figures; older than ``refresh_s``, computed again in the background.

        Only the first caller ever waits (the year's days, a few seconds for hundreds of
        members); later ones get the figures at hand while newer ones are computed.
        """
        if self._figures is None:
            await self._refresh()
        elif not self._fresh() and not self._refreshing():
            self._task = asyncio.create_task(self._refresh())
        if self._figures is None:
            raise Refused(
                Kind.UNAVAILABLE,
                "the public figures cannot be computed now: try again later",
                code="figures_unavailable",
            )
        return self._figures

    def start(self) -> None:
        """Compute the figures in the background now, so that nobody waits for the first."""
        if not self._refreshing():
            self._task = asyncio.create_task(self._refresh())

    async def stop(self) -> None:
        """Stop a computation under way."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _refreshing(self) -> bool:
        return self._task is not None and not self._task.done()

    def _fresh(self) -> bool:
        """Whether the figures (or the attempt to compute them) are recent enough."""
        return time.monotonic() - self._computed_s < self.refresh_s

    async def _refresh(self) -> None:
        """Compute the figures unless recent; a failure is logged, the last figures stand."""
        async with self._lock:
            if self._fresh():
                return
            try:
                self._figures = await self._compute(datetime.now(UTC))
            except Exception:
                _LOGGER.exception("The public display's figures could not be computed")
            self._computed_s = time.monotonic()

    async def _days_of_year(self, last: date, now: datetime) -> list[Day]:
        """Return the days from 1 January to ``last``, computing those not kept (or stale).

        Days never computed are computed at once; the last ``FRESH_DAYS`` every time; older
        ones kept longer than ``KEEP_S`` again, at most ``STALE_PER_REFRESH`` of them a time
        (the kept figures stand meanwhile), so that no refresh computes the whole year.
        """
        first = last.replace(month=1, day=1)
        clock = time.monotonic()
        fresh_from = last - timedelta(days=FRESH_DAYS - 1)
        wanted = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        expired = [
            day
            for day in wanted
            if day < fresh_from and day in self._days and clock - self._days[day][1] > KEEP_S
        ]
        chosen = set(expired[:STALE_PER_REFRESH]) | {
            day for day in wanted if day >= fresh_from or day not in self._days
        }
        for run in consecutive_runs(sorted(chosen), DAYS_PER_STEP):
            hours = pd.date_range(
                local_midnight(run[0], self._zone),
                local_midnight(run[-1] + timedelta(days=1), self._zone),
                freq="h",
                inclusive="left",
                name="start",
            )
            shares = await self._results.engine.shares(hours, now)
            computed = await asyncio.to_thread(
                day_figures, shares.allocation, self._zone, self._day_sets
            )
            for found in computed:
                if found.withheld == INCOMPLETE:  # a member of its set lacks data: it stands
                    _LOGGER.info("Kept the public figures of %s: a member lacks data", found.day)
                    continue
                if found.withheld is None:
                    self._day_sets.setdefault(found.day, found.counted)
                self._days[found.day] = (found, clock)
        for day in [day for day in self._days if day < first]:
            del self._days[day]
            self._day_sets.pop(day, None)
        return [self._days[day][0] for day in wanted if day in self._days]

    async def _today_figures(self, now: datetime) -> Day:
        """Return today's figures over its complete hours, computed once per hour that ends."""
        end = today_end(now, self._zone)
        if self._today is not None and self._today[0] == end:
            return self._today[1]
        today = now.astimezone(self._zone).date()
        hours = today_hours(now, self._zone)
        if hours.empty:
            found = Day(today, frozenset(), NO_DATA, 0.0, 0.0, 0.0, hours=0)
        else:
            frozen = None
            if self._today_set is not None and self._today_set[0] == today:
                frozen = self._today_set[1]
            shares = await self._results.engine.shares(hours, now)
            found = await asyncio.to_thread(today_figures, shares.allocation, today, frozen)
            if frozen is None and found.withheld is None:
                self._today_set = (today, found.counted)
        self._today = (end, found)
        return found

    async def _compute(self, now: datetime) -> dict[str, Any]:
        members = sum(1 for member in await self._registry.members() if member.active)
        yesterday = now.astimezone(self._zone).date() - timedelta(days=1)
        enough = members >= MIN_CONTRIBUTORS
        days = await self._days_of_year(yesterday, now) if enough else []
        today = await self._today_figures(now) if enough else None
        shown = [day for day in days if day.withheld is None]
        today_shown = today is not None and today.withheld is None
        last = days[-1] if days and days[-1].day == yesterday else None
        factor = factor_for(yesterday.year, self._config.display.emission_factor_kg_kwh)
        figures: dict[str, Any] = {
            "generated_at": utc_text(now),
            "refresh_s": self.refresh_s,
            "timezone": self._zone.key,
            "shown": bool(shown) or today_shown,
            "reason": None if shown or today_shown else _reason(days, today),
            "emission_factor": factor.as_dict(),
            "privacy": RULES,
        }
        if today is None or not figures["shown"]:
            return figures | {
                "members": None,
                "production_now": None,
                "today": None,
                "day": None,
                "year": None,
            }
        snapshot = self._results.latest
        day_withheld = NO_DATA if last is None else last.withheld
        end = today_end(now, self._zone)
        return figures | {
            "members": _value(members, "members", 0),
            "production_now": None
            if snapshot is None
            else {
                **_value(snapshot.now_w["generation"] / 1000, "kW", 2),
                "at": utc_text(snapshot.computed_at),
            },
            "today": {
                "from": local_midnight(today.day, self._zone).astimezone(self._zone).isoformat(),
                "to": end.astimezone(self._zone).isoformat(),
                "hours_counted": today.hours if today_shown else 0,
                "shown": today_shown,
                "reason": None if today_shown else NO_DATA if not today.hours else WITHHELD,
                "figures": self._period([today], factor.kg_per_kwh) if today_shown else None,
            },
            "day": {
                "from": yesterday.isoformat(),
                "to": yesterday.isoformat(),
                "shown": day_withheld is None,
                "reason": day_withheld,
                "figures": None
                if last is None or day_withheld is not None
                else self._period([last], factor.kg_per_kwh),
            },
            "year": {
                "from": yesterday.replace(month=1, day=1).isoformat(),
                "to": yesterday.isoformat(),
                "days_counted": len(shown),
                "days_withheld": sum(1 for d in days if d.members and d.withheld is not None),
                "figures": self._period(shown, factor.kg_per_kwh) if shown else None,
            },
        }

    def _period(self, days: list[Day], kg_per_kwh: float) -> dict[str, Any]:
        """Return the figures of some days (or today's hours) that count (their sums)."""
        allocated = sum(day.allocated_kwh for day in days)
        used = sum(day.self_consumed_kwh for day in days)
        prices = self._config.results.prices
        return {
            "production": _value(sum(day.generation_kwh for day in days), "kWh"),
            "energy_shared": _value(allocated, "kWh"),
            "self_consumed": _value(used, "kWh"),
            "self_consumed_share": _value(100 * used / allocated if allocated > 0 else None, "%"),
            "co2_avoided": _value(used * kg_per_kwh, "kg CO2-eq"),
            "money_kept": {
                **_value(None if prices is None else used * prices[0], "EUR", 2),
                "reason": NO_PRICES if prices is None else None,
            },
        }


def consecutive_runs(days: list[date], longest: int) -> list[list[date]]:
    """Return sorted days as runs of consecutive days, none longer than ``longest``."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day and len(runs[-1]) < longest:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _reason(days: list[Day], today: Day | None) -> str:
    """Return why nothing counts: the latest day's with any data, else today's, else too few.

    Today's is only ``WITHHELD``: which rule an hour broke would say what one home did in it.
    """
    with_data = [day.withheld for day in days if day.members and day.withheld is not None]
    if with_data:
        return with_data[-1]
    return WITHHELD if today is not None and today.members else TOO_FEW_MEMBERS
