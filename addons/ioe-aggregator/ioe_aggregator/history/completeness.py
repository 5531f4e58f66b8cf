"""How complete each member's data is: per local day, the share of its quarter hours present.

A quarter hour is present when a grid import reading covers it: the measure every member's
meter sends and the distributor's data holds (an hourly value of the distributor covers its
four quarter hours). Each source (the member's own meter, the distributor) is counted apart.
Local days have 96 quarter hours, 92 on the day the clocks go forward and 100 on the day they
go back. The store keeps the seconds covered per member and local day as readings arrive
(``Store.daily_coverage``, in the community's zone the store was opened with), so a year of a
few hundred members is read at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import day_length
from ioe_aggregator.protocol.codec import SUPPLY_IMPORT
from ioe_aggregator.store import SOURCE_MEMBER, Store

SOURCES = (SOURCE_MEMBER, DISTRIBUTOR)
QUARTER_S = 900


@dataclass(frozen=True, kw_only=True)
class Completeness:
    """Days and, per member and source, the share of each day's quarter hours present (0-1)."""

    days: list[date]
    quarter_hours: list[int]
    fractions: dict[str, dict[str, list[float]]]

    def incomplete(self, member: str, source: str = SOURCE_MEMBER) -> list[date]:
        """Return the days a member's source misses any quarter hour of."""
        shares = self.fractions.get(member, {}).get(source, [0.0] * len(self.days))
        return [day for day, share in zip(self.days, shares, strict=True) if share < 1.0]

    def as_dict(self) -> dict[str, Any]:
        """Return the days and each member's fractions, aligned with the days, as the API does."""
        return {
            "days": [day.isoformat() for day in self.days],
            "quarter_hours": self.quarter_hours,
            "members": [
                {"member": member, "fractions": by_source}
                for member, by_source in self.fractions.items()
            ],
        }


async def completeness(store: Store, members: list[str], first: date, last: date) -> Completeness:
    """Return ``members``' local days (the store's) from ``first`` to ``last``, both sources."""
    zone = store.days.zone
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    quarter_hours = [int(day_length(day, zone) / timedelta(seconds=QUARTER_S)) for day in days]
    fractions = {member: {source: [0.0] * len(days) for source in SOURCES} for member in members}
    for source in SOURCES:
        for member, day, covered_s in await store.daily_coverage(
            SUPPLY_IMPORT, first, last, source=source
        ):
            index = (day - first).days
            if member in fractions:
                present = covered_s // QUARTER_S
                fractions[member][source][index] = round(
                    min(present / quarter_hours[index], 1.0), 4
                )
    return Completeness(days=days, quarter_hours=quarter_hours, fractions=fractions)


def yesterday(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Return the local calendar day before today in ``zone``."""
    return (now or datetime.now(UTC)).astimezone(zone).date() - timedelta(days=1)
