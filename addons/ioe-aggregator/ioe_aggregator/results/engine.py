"""Each member's results and the community's state, from the stored readings and agreements.

Consumption C is what each member draws at its supply point (meter ``grid``, ``import_kwh``:
what the distributor settles the allocation against). Each hour that has ended comes from one
source (``history.hourly.best_consumption``): the member's own meter where its readings cover
the hour whole, else the distributor's data (Datadis, a CSV export); an hour neither has is
unknown (NaN), neither allocated nor counted, never taken for a zero. The hour under way counts
what the member's meter has sent of it so far. Generation G is the community plant (meter
``plant``, ``generation_kwh``, from whichever home measures it). Quarter-hours are summed to
hours and allocated hour by hour with the β of the agreement in force (``sharing.allocation``);
an hour no agreement covers allocates nothing. Sums skip the unknown hours.

"Now" figures come from the homes' live reports when fresh, else from the last complete
quarter-hour's energy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ioe_aggregator.agreements import Agreement, Agreements
from ioe_aggregator.config import ResultsConfig
from ioe_aggregator.forecast import Site
from ioe_aggregator.history.hourly import best_consumption
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.prices import PriceBook, Used
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, SUPPLY_EXPORT, SUPPLY_IMPORT, Live
from ioe_aggregator.protocol.messages import (
    CoefficientValidity,
    CommunityState,
    CommunityToday,
    Energies,
    Kpis,
    MonthEnergies,
    Results,
    Signal,
    SignalKind,
)
from ioe_aggregator.results import forecasts
from ioe_aggregator.results.forecasts import Forecasts
from ioe_aggregator.sharing.allocation import Allocation, allocate, member_kpis
from ioe_aggregator.sharing.economics import monthly_economics
from ioe_aggregator.sharing.model import Coefficients
from ioe_aggregator.store import Store

QUARTER = timedelta(minutes=15)
# A live report older than this is not "now" any more.
LIVE_MAX_AGE = timedelta(minutes=5)
# A signal holds until the next one is due, with one quarter of slack.
SIGNAL_VALIDITY = 2 * QUARTER
KWH_PER_QUARTER_TO_W = 4000.0


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What was computed at one moment: results per active member, community state, signal.

    Typed messages: the publisher and the API write them as the protocol's JSON. ``now_w``:
    the powers the state was computed from (W: generation, consumption, import, export).
    """

    computed_at: datetime
    results: Mapping[str, Results]
    state: CommunityState
    signal: Signal
    now_w: Mapping[str, float]


def _value(number: float) -> float:
    return round(float(number), 4)


def _ratio(value: Any) -> float | None:
    number = float(value) if value is not None else math.nan
    return None if math.isnan(number) else round(min(max(number, 0.0), 1.0), 4)


@dataclass(frozen=True, kw_only=True)
class _Hours:
    """What an allocation is computed from, read from the store."""

    hours: pd.DatetimeIndex
    active: list[str]
    # The one member whose consumption was read and share settled, if only one's: active or not.
    member: str | None
    plants: list[str]
    # (member, UTC hour) → kWh, for the hours whose consumption is known.
    consumption: Mapping[tuple[str, datetime], float]
    generation: pd.Series
    agreements: tuple[pd.DataFrame, list[Agreement | None]]

    def allocation(self) -> Allocation:
        """Share each hour's generation by the β in force and settle it (pandas: off the loop)."""
        beta, _in_force = self.agreements
        consumption = _table(self.consumption, self.hours)
        if self.member is None:
            columns = sorted(set(self.active) | set(consumption.columns) | set(beta.columns))
            settled = None
        else:  # one member's share: everyone's β (checked), that member's consumption alone
            columns = sorted({self.member} | set(beta.columns))
            settled = [self.member]
        if list(beta.columns) != columns:
            beta = beta.reindex(columns=columns, fill_value=0.0)
        return allocate(
            Coefficients(scheme="agreement", values=beta),
            # A member without any known hour is a column of NaN: nothing counted, not zeros.
            consumption.reindex(columns=settled or columns),
            self.generation,
            members=settled,
        )


@dataclass(frozen=True, kw_only=True)
class Shares:
    """An allocation over some hours, with β (hours × members) and each hour's agreement."""

    allocation: Allocation
    beta: pd.DataFrame
    in_force: list[Agreement | None]


@dataclass(frozen=True, kw_only=True)
class _Inputs:
    """What a snapshot is computed from, read from the store."""

    now: datetime
    read: _Hours
    now_w: dict[str, float]
    # What each active member imports now (W), where known.
    import_w: dict[str, float]
    online: frozenset[str]
    # The month's prices so far (None: some hour has none).
    prices: Used | None


class ResultsEngine:
    """Computes snapshots for one community."""

    def __init__(
        self, store: Store, registry: Registry, agreements: Agreements, config: ResultsConfig
    ) -> None:
        """Work on the service's store, registry and agreements."""
        self._store = store
        self._registry = registry
        self._agreements = agreements
        self._config = config
        self._zone = ZoneInfo(config.timezone)
        self._prices = PriceBook(store, config)

    async def compute(
        self,
        now: datetime,
        *,
        live: Mapping[str, Live] | None = None,
        online: frozenset[str] = frozenset(),
    ) -> Snapshot:
        """Compute every active member's results and the community's state at ``now``."""
        now = now.astimezone(UTC)
        local = now.astimezone(self._zone)
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        hours = pd.date_range(
            month_start.astimezone(UTC), pd.Timestamp(now).floor("h"), freq="h", name="start"
        )
        read = await self._read(hours, now)
        now_w, import_w = await self._now_w(now, read.active, read.plants, live or {})
        inputs = _Inputs(
            now=now,
            read=read,
            now_w=now_w,
            import_w=import_w,
            online=online,
            prices=await self._prices.used(hours),
        )
        # pandas work of tens to hundreds of milliseconds: not on the event loop.
        return await asyncio.to_thread(self._snapshot, inputs)

    async def forecasts(self, now: datetime) -> Forecasts:
        """Forecast the plant and each active member's allocation from the hour under way."""
        now = now.astimezone(UTC)
        members = await self._registry.members()
        plants = sorted(m.id for m in members if m.plant_kw > 0)
        past = forecasts.history_hours(now)
        complete = await self._store.complete_hours(
            *COMMUNITY_PLANT, past[0].to_pydatetime(), pd.Timestamp(now).floor("h").to_pydatetime()
        )
        beta, _in_force = await self._agreements.beta(forecasts.coming_hours(now))
        site = self._config.plant_site
        return await asyncio.to_thread(
            forecasts.build,
            forecasts.plant_history(complete, plants, past),
            now,
            None if site is None else Site(latitude=site[0], longitude=site[1], altitude=site[2]),
            beta,
            [m.id for m in members if m.active],
        )

    async def shares(
        self, hours: pd.DatetimeIndex, now: datetime, *, member: str | None = None
    ) -> Shares:
        """Return the allocation over ``hours`` (UTC, hourly) as known at ``now``.

        The same figures the members' results count: every member's, or only ``member``'s
        (the allocation then holds that member's columns alone; β holds everyone's). Hours
        after ``now`` are unknown.
        """
        read = await self._read(hours, now.astimezone(UTC), member=member)
        beta, in_force = read.agreements
        allocation = await asyncio.to_thread(read.allocation)
        return Shares(allocation=allocation, beta=beta, in_force=in_force)

    async def _read(
        self, hours: pd.DatetimeIndex, now: datetime, *, member: str | None = None
    ) -> _Hours:
        """Read what the allocation over ``hours`` needs at ``now`` (consumption: ``member``'s)."""
        members = await self._registry.members()
        # Only the plants registered to members count: anyone else's "plant" is not the
        # community's generation.
        plants = sorted(m.id for m in members if m.plant_kw > 0)
        until = min(now, (hours[-1] + pd.Timedelta(hours=1)).to_pydatetime())
        generation = await self._hourly(COMMUNITY_PLANT, hours, until)
        return _Hours(
            hours=hours,
            active=[m.id for m in members if m.active],
            member=member,
            plants=plants,
            consumption=await self._consumption(hours, now, member=member),
            generation=generation.reindex(columns=plants, fill_value=0.0).sum(axis=1),
            agreements=await self._agreements.beta(hours),
        )

    def _snapshot(self, inputs: _Inputs) -> Snapshot:
        now, now_w = inputs.now, inputs.now_w
        hours, active = inputs.read.hours, inputs.read.active
        beta, in_force = inputs.read.agreements
        allocation = inputs.read.allocation()
        local_day = now.astimezone(self._zone).date()
        today = hours.tz_convert(self._zone).date == local_day
        agreement = in_force[-1] if in_force else None
        beta_now = beta.iloc[-1] if len(beta.columns) else pd.Series(dtype=float)
        savings = self._savings(allocation, local_day, inputs.prices)
        kpis = member_kpis(allocation)
        results: dict[str, Results] = {}
        for member in active:
            coefficient = float(beta_now.get(member, 0.0))
            saved = None if savings is None else savings.get(member)
            allocated_w = coefficient * now_w["generation"]
            imported_w = inputs.import_w.get(member)
            results[member] = Results(
                computed_at=now,
                scheme=agreement.scheme if agreement else "none",
                coefficient_now=_value(coefficient),
                allocated_w_now=_value(allocated_w),
                unused_w_now=None
                if imported_w is None
                else _value(max(allocated_w - imported_w, 0.0)),
                today=_energies(allocation, member, today),
                month=MonthEnergies(
                    **asdict(_energies(allocation, member, None)),
                    savings_eur=None if saved is None else round(saved, 2),
                ),
                kpis=Kpis(
                    self_sufficiency=_ratio(kpis.self_sufficiency[member]),
                    self_consumption=_ratio(kpis.self_consumption_ratio[member]),
                ),
                coefficient_valid=None if agreement is None else _validity(agreement),
            )
        state = self._state(
            now,
            allocation=allocation,
            today=today,
            now_w=now_w,
            active=active,
            online=inputs.online,
        )
        return Snapshot(
            computed_at=now,
            results=results,
            state=state,
            signal=self.signal(now, state),
            now_w=now_w,
        )

    async def _consumption(
        self, hours: pd.DatetimeIndex, now: datetime, *, member: str | None = None
    ) -> dict[tuple[str, datetime], float]:
        """Return (member, UTC hour) → consumption (kWh) for the ``hours`` known at ``now``.

        The hours that have ended from the source that measured them whole; the hour under way
        at ``now``, if one of ``hours``, from what the member's meter has sent of it: the
        distributor never has it, and counting it as it comes keeps today's figures growing
        quarter by quarter. Every member's, or only ``member``'s.
        """
        start = hours[0].to_pydatetime()
        end = (hours[-1] + pd.Timedelta(hours=1)).to_pydatetime()
        under_way = pd.Timestamp(now).floor("h").to_pydatetime()
        if not start <= under_way < end:
            return await best_consumption(self._store, start, min(end, now), member=member)
        known = await best_consumption(self._store, start, under_way, member=member)
        sent = await self._store.hourly(*SUPPLY_IMPORT, under_way, now, member=member)
        for whose, hour, kwh in sent:
            known[whose, hour] = kwh
        return known

    async def _hourly(
        self, source: tuple[str, str], hours: pd.DatetimeIndex, now: datetime
    ) -> pd.DataFrame:
        """Return one quantity's kWh per hour (rows) and member (columns) up to ``now``."""
        meter, quantity = source
        rows = await self._store.hourly(meter, quantity, hours[0].to_pydatetime(), now)
        if not rows:
            return pd.DataFrame(index=hours, dtype=float)
        frame = pd.DataFrame(rows, columns=["member", "hour", "kwh"])
        frame["hour"] = pd.DatetimeIndex(frame["hour"])
        # One row per member and hour (the store sums each hour's readings).
        table = frame.pivot(index="hour", columns="member", values="kwh")
        return table.reindex(hours).fillna(0.0).rename_axis(columns=None)

    async def _now_w(
        self,
        now: datetime,
        active: Sequence[str],
        plants: Sequence[str],
        live: Mapping[str, Live],
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Return generation, consumption, import and export now (W), and each member's import.

        From fresh live reports, else the last quarter's readings. Only active members'
        reports count, and only registered plants' generation. A member's consumption is what
        its supply point takes from the grid (the plant's share is netted by the distributor):
        its import; its export is its own panels' surplus. A member with neither a fresh
        report nor a reading of the last quarter has no import now (not a zero).
        """
        fresh = {m: r.powers for m, r in live.items() if m in active and now - r.ts <= LIVE_MAX_AGE}
        quarter_end = pd.Timestamp(now).floor("15min").to_pydatetime()
        last: dict[tuple[str, str], dict[str, float]] = {}
        for source in (SUPPLY_IMPORT, SUPPLY_EXPORT, COMMUNITY_PLANT):
            rows = await self._store.hourly(*source, quarter_end - QUARTER, quarter_end)
            last[source] = {member: kwh * KWH_PER_QUARTER_TO_W for member, _hour, kwh in rows}
        plant_live = [fresh[m]["plant_w"] for m in plants if "plant_w" in fresh.get(m, {})]
        generation = (
            sum(plant_live)
            if plant_live
            else sum(kwh for m, kwh in last[COMMUNITY_PLANT].items() if m in plants)
        )
        import_w: dict[str, float] = {}
        exported = 0.0
        for member in active:
            if member in fresh and "grid_w" in fresh[member]:
                import_w[member] = max(fresh[member]["grid_w"], 0.0)
                exported += max(-fresh[member]["grid_w"], 0.0)
            else:
                if member in last[SUPPLY_IMPORT]:
                    import_w[member] = last[SUPPLY_IMPORT][member]
                exported += last[SUPPLY_EXPORT].get(member, 0.0)
        imported = sum(import_w.values())
        totals = {
            "generation": generation,
            "consumption": imported,
            "import": imported,
            "export": exported,
        }
        return totals, import_w

    def _savings(
        self, allocation: Allocation, today: date, used: Used | None
    ) -> dict[str, float] | None:
        """Return each member's savings this month at its prices (None: no prices).

        Only members with an hour of known consumption have savings: without one there is
        nothing to value, which is no saving of 0.
        """
        if used is None or f"{today:%Y-%m}" not in used.priced_months(self._zone):
            return None
        table = monthly_economics(allocation, used.whole(), self._config.timezone)
        month = table[table.month == f"{today:%Y-%m}"]
        counted = allocation.consumption_kwh.notna().any()
        return {
            member: float(saved)
            for member, saved in zip(month.member_id, month.savings_eur, strict=True)
            if counted.get(member, False)
        }

    def _state(
        self,
        now: datetime,
        *,
        allocation: Allocation,
        today: np.ndarray,
        now_w: Mapping[str, float],
        active: Sequence[str],
        online: frozenset[str],
    ) -> CommunityState:
        generation, consumption = now_w["generation"], now_w["consumption"]
        return CommunityState(
            ts=now,
            generation_w=_value(generation),
            consumption_w=_value(consumption),
            surplus_w=_value(max(generation - consumption, 0.0)),
            members_online=len(online & set(active)),
            members_total=len(active),
            today=CommunityToday(
                generation_kwh=_value(allocation.generation_kwh[today].sum()),
                consumption_kwh=_value(np.nansum(allocation.consumption_kwh[today].to_numpy())),
                self_consumed_kwh=_value(np.nansum(allocation.self_consumed_kwh[today].to_numpy())),
            ),
            name=self._config.community_name,
        )

    def signal(self, now: datetime, state: CommunityState) -> Signal:
        """Return the advice of a community state: surplus, deficit or normal."""
        balance = state.generation_w - state.consumption_w
        threshold = self._config.signal_threshold_w
        if balance >= threshold:
            kind = SignalKind.SURPLUS
        elif -balance >= threshold:
            kind = SignalKind.DEFICIT
        else:
            kind = SignalKind.NORMAL
        return Signal(
            ts=now,
            kind=kind,
            valid_until=now + SIGNAL_VALIDITY,
            surplus_w=_value(balance) if kind is SignalKind.SURPLUS else None,
        )


def _table(kwh: Mapping[tuple[str, datetime], float], hours: pd.DatetimeIndex) -> pd.DataFrame:
    """Return (member, UTC hour) → kWh as hours × members, NaN where an hour is not known."""
    if not kwh:
        return pd.DataFrame(index=hours, dtype=float)
    series = pd.Series(kwh, dtype=float)
    series.index = pd.MultiIndex.from_arrays(
        [series.index.get_level_values(0), pd.DatetimeIndex(series.index.get_level_values(1))]
    )
    return series.unstack(level=0).reindex(hours).rename_axis(columns=None)


def _energies(allocation: Allocation, member: str, rows: Any) -> Energies:
    """Return a member's energies over the hours ``rows`` selects (None: every hour).

    Hours whose consumption is unknown are left out of the sums.
    """
    selected = slice(None) if rows is None else rows

    def total(table: pd.DataFrame) -> float:
        return _value(np.nansum(table[member].to_numpy()[selected]))

    return Energies(
        allocated_kwh=total(allocation.allocated_kwh),
        self_consumed_kwh=total(allocation.self_consumed_kwh),
        surplus_kwh=total(allocation.surplus_kwh),
        import_kwh=total(allocation.import_kwh),
    )


def _validity(agreement: Agreement) -> CoefficientValidity:
    return CoefficientValidity(from_=agreement.valid_from, to=agreement.valid_to)
