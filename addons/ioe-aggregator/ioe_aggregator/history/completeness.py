"""How complete each member's data is: per local day, the share of its quarter hours present.

A quarter hour is present when a grid import reading covers it: the measure every member's
meter sends and the distributor's data holds (an hourly value of the distributor covers its
four quarter hours). Each source (the member's own meter, the distributor) is counted apart.
Local days have 96 quarter hours, 92 on the day the clocks go forward and 100 on the day they
go back. The store keeps the seconds covered per member and UTC hour as readings arrive
(``Store.daily_coverage``), so a year of a few hundred members is read at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.distributor.timeline import day_length, local_midnight
from ioe_aggregator.store import SOURCE_MEMBER, Store
from ioe_aggregator.store.sql import seconds

SOURCES = (SOURCE_MEMBER, DISTRIBUTOR)
QUARTER_S = 900
_EPOCH_DAY = date(1970, 1, 1).toordinal()


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


def _offset_s(moment: datetime, zone: ZoneInfo) -> int:
    offset = moment.astimezone(zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def utc_offsets(first: date, last: date, zone: ZoneInfo) -> list[tuple[int, int]]:
    """Return (UTC second it starts, UTC offset s) of the local time from ``first`` to ``last``.

    The first holds at ``first``'s local midnight; one more follows each clock change.
    """
    start = local_midnight(first, zone)
    offsets = [(seconds(start), _offset_s(start, zone))]
    day = first
    while day <= last:
        end = local_midnight(day + timedelta(days=1), zone)
        if _offset_s(end, zone) != offsets[-1][1]:
            # The change happened within the day: find its hour.
            hour = local_midnight(day, zone)
            while _offset_s(hour, zone) == offsets[-1][1]:
                hour += timedelta(hours=1)
            offsets.append((seconds(hour), _offset_s(hour, zone)))
        day += timedelta(days=1)
    return offsets


async def completeness(
    store: Store, members: list[str], first: date, last: date, zone: ZoneInfo
) -> Completeness:
    """Return each of ``members``' local days from ``first`` to ``last``, both sources."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    quarter_hours = [int(day_length(day, zone) / timedelta(seconds=QUARTER_S)) for day in days]
    fractions = {member: {source: [0.0] * len(days) for source in SOURCES} for member in members}
    start, end = local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)
    offsets = utc_offsets(first, last, zone)
    for source in SOURCES:
        for member, day, covered_s in await store.daily_coverage(source, start, end, offsets):
            index = day + _EPOCH_DAY - first.toordinal()
            if member in fractions and 0 <= index < len(days):
                present = covered_s // QUARTER_S
                fractions[member][source][index] = round(
                    min(present / quarter_hours[index], 1.0), 4
                )
    return Completeness(days=days, quarter_hours=quarter_hours, fractions=fractions)


def yesterday(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Return the local calendar day before today in ``zone``."""
    return (now or datetime.now(UTC)).astimezone(zone).date() - timedelta(days=1)
