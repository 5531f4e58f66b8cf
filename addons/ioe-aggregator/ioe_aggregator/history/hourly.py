"""The community's hours from the store: each member's consumption, and the plant's generation.

Each member's supply is measured twice: by its own meter (source ``member``) and by its
distributor (Datadis or a CSV export, source ``distributor``), the one the bill uses.
`consumption` gives the hourly consumption the sharing comparison needs, taking each period
from the source the manager chose for it; `best_consumption`, the one the members' results count,
takes each hour from the member's own meter where it measured the hour whole, else from the
distributor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from ioe_aggregator.distributor.model import IMPORT, METER, SELF_CONSUMPTION, SOURCE as DISTRIBUTOR
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT
from ioe_aggregator.store import SOURCE_MEMBER, Store


@dataclass(frozen=True, slots=True)
class Period:
    """A span of local days [first, last] whose consumption comes from the distributor."""

    first: date
    last: date


async def consumption(
    store: Store,
    members: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    distributor_periods: Sequence[Period],
    zone: ZoneInfo,
) -> pd.DataFrame:
    """Return each member's consumption (kWh) per UTC hour in [start, end), hours × members.

    Hours in ``distributor_periods`` (local days) come from the distributor's data: energy
    from the grid plus, for members of a collective self-consumption, the allocated energy
    used at once; the other hours from the member's own meter. Hours a source did not measure
    whole are left empty (NaN): the comparison keeps only complete hours.
    """
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    own = await store.complete_hours(METER, IMPORT, start, end, source=SOURCE_MEMBER)
    billed = await store.complete_hours(METER, IMPORT, start, end, source=DISTRIBUTOR)
    shared = await store.complete_hours(METER, SELF_CONSUMPTION, start, end, source=DISTRIBUTOR)
    distributor = _distributor_consumption(billed, shared)
    chosen = _in_periods(hours, distributor_periods, zone)
    table = pd.DataFrame(index=hours, columns=list(members), dtype=float)
    for member in members:
        values = []
        for hour, from_distributor in zip(hours, chosen, strict=True):
            key = (member, hour.to_pydatetime())
            values.append(distributor.get(key) if from_distributor else own.get(key))
        table[member] = pd.Series(values, index=hours, dtype=float)
    return table.rename_axis("start")


async def best_consumption(
    store: Store, start: datetime, end: datetime, *, member: str | None = None
) -> dict[tuple[str, datetime], float]:
    """Return (member, UTC hour) → consumption (kWh) for the hours in [start, end) measured whole.

    Every member's, or only ``member``'s. Each hour from one source, never both added: the
    member's own meter where its readings cover the hour exactly once, else the distributor's
    figure (energy from the grid plus, for members of a collective self-consumption, the
    allocated energy used at once). An hour neither source measured whole is absent: unknown,
    not zero.
    """
    own = await store.complete_hours(METER, IMPORT, start, end, source=SOURCE_MEMBER, member=member)
    billed = await store.complete_hours(
        METER, IMPORT, start, end, source=DISTRIBUTOR, member=member
    )
    shared = await store.complete_hours(
        METER, SELF_CONSUMPTION, start, end, source=DISTRIBUTOR, member=member
    )
    return _distributor_consumption(billed, shared) | own


async def measured_by(
    store: Store, start: datetime, end: datetime, *, member: str | None = None
) -> dict[tuple[str, datetime], str]:
    """Return (member, UTC hour) → the source `best_consumption` takes the hour from.

    ``SOURCE_MEMBER`` where the member's own meter measured the hour whole, else
    ``distributor`` where its distributor did; hours neither did are absent.
    """
    found: dict[tuple[str, datetime], str] = {}
    for source in (DISTRIBUTOR, SOURCE_MEMBER):
        whole = await store.complete_hours(METER, IMPORT, start, end, source=source, member=member)
        found.update(dict.fromkeys(whole, source))
    return found


def _distributor_consumption(
    billed: Mapping[tuple[str, datetime], float], shared: Mapping[tuple[str, datetime], float]
) -> dict[tuple[str, datetime], float]:
    """Return (member, UTC hour) → consumption (kWh) as the distributor settled it.

    Its energy from the grid comes after the allocation: the allocated energy used at once is
    the rest of what the member consumed.
    """
    return {key: kwh + shared.get(key, 0.0) for key, kwh in billed.items()}


async def generation(
    store: Store, plants: Collection[str], start: datetime, end: datetime
) -> pd.Series:
    """Return the community plant's generation (kWh) per UTC hour, NaN where not measured whole.

    Only the members in ``plants`` (those with a registered plant) are read.
    """
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    plant = await store.complete_hours(*COMMUNITY_PLANT, start, end)
    totals: dict[datetime, float] = defaultdict(float)
    for (member, hour), kwh in plant.items():
        if member in plants:
            totals[hour] += kwh
    series = pd.Series(totals, dtype=float)
    if series.empty:
        return pd.Series(float("nan"), index=hours, name="kwh").rename_axis("start")
    series.index = pd.DatetimeIndex(series.index)
    return series.reindex(hours).rename("kwh").rename_axis("start")


def _in_periods(hours: pd.DatetimeIndex, periods: Sequence[Period], zone: ZoneInfo) -> list[bool]:
    days = [moment.astimezone(zone).date() for moment in hours.to_pydatetime()]
    return [any(p.first <= day <= p.last for p in periods) for day in days]
