"""Both sources of a member's supply side by side: its own meter and its distributor's.

Each member's supply is measured twice: by its own meter (sent by its home, source ``member``)
and by its distributor (Datadis or a CSV export, source ``distributor``), the one the bill uses.
`reconcile` sets them side by side per member and month, over the hours both measured whole.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import IMPORT, METER, SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import local_midnight
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.store import SOURCE_MEMBER, Store

# Two meters of accuracy class B (±1 % each, EN 50470-3) may differ by up to 2 %.
TOLERANCE = 0.02


@dataclass(frozen=True, kw_only=True)
class MonthReconciliation:
    """One member's month as its meter and its distributor saw it (kWh from the grid)."""

    member: str
    month: str
    hours_member: int
    hours_distributor: int
    hours_both: int
    member_kwh: float
    distributor_kwh: float

    @property
    def difference_kwh(self) -> float:
        """The member's meter less the distributor's, over the hours both measured."""
        return self.member_kwh - self.distributor_kwh

    @property
    def difference(self) -> float | None:
        """That difference as a fraction of the distributor's figure (None when it is 0)."""
        return self.difference_kwh / self.distributor_kwh if self.distributor_kwh else None

    @property
    def flagged(self) -> bool:
        """Whether the two differ by more than their meters' accuracy explains."""
        return self.difference is not None and abs(self.difference) > TOLERANCE

    def as_dict(self) -> dict[str, Any]:
        """Return the month as the API and ``--json`` give it."""
        return {
            "member": self.member,
            "month": self.month,
            "hours_member": self.hours_member,
            "hours_distributor": self.hours_distributor,
            "hours_both": self.hours_both,
            "member_kwh": round(self.member_kwh, 3),
            "distributor_kwh": round(self.distributor_kwh, 3),
            "difference_kwh": round(self.difference_kwh, 3),
            "difference": None if self.difference is None else round(self.difference, 4),
            "flagged": self.flagged,
        }


async def reconcile(
    store: Store, first: date, last: date, zone: ZoneInfo, *, member: str | None = None
) -> list[MonthReconciliation]:
    """Return, per member and local month from ``first`` to ``last``, both sources' imports.

    Every member's, or only ``member``'s. The kWh are summed over the hours both sources
    measured whole, so that a gap in one of them is not taken for a difference; the hour
    counts show how much each source has.
    """
    start = local_midnight(first.replace(day=1), zone)
    end = local_midnight(add_months(last.replace(day=1), 1), zone)
    own = await store.complete_hours(METER, IMPORT, start, end, source=SOURCE_MEMBER, member=member)
    billed = await store.complete_hours(
        METER, IMPORT, start, end, source=DISTRIBUTOR, member=member
    )
    # A year of a few hundred members is millions of hours: not on the service's event loop.
    return await asyncio.to_thread(_side_by_side, own, billed, zone)


def _side_by_side(
    own: Mapping[tuple[str, datetime], float],
    billed: Mapping[tuple[str, datetime], float],
    zone: ZoneInfo,
) -> list[MonthReconciliation]:
    counts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0.0])
    for key in own.keys() | billed.keys():
        member, hour = key
        month = hour.astimezone(zone).strftime("%Y-%m")
        totals = counts[member, month]
        totals[0] += key in own
        totals[1] += key in billed
        if key in own and key in billed:
            totals[2] += 1
            totals[3] += own[key]
            totals[4] += billed[key]
    return [
        MonthReconciliation(
            member=member,
            month=month,
            hours_member=int(values[0]),
            hours_distributor=int(values[1]),
            hours_both=int(values[2]),
            member_kwh=values[3],
            distributor_kwh=values[4],
        )
        for (member, month), values in sorted(counts.items())
    ]
