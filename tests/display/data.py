"""A community's yesterday and today for the display's tests, and its figures computed apart.

Every member sends its supply point's quarter hours of the whole local day before today (and,
for today's figures, of today up to now); m-0001 also measures the community's plant. The
figures are then computed here from those readings alone, the way the display must: each hour's
plant energy shared equally among the members of the agreement, each member's self-consumed
energy the lesser of its share and its consumption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.public.emissions import factor_for
from tests.community import Community, call

ZONE = ZoneInfo("Europe/Madrid")
QUARTER = timedelta(minutes=15)
IMPORT_PRICE = 0.2
# How often the display's figures are computed again in the tests (s).
REFRESH_S = 2


def yesterday() -> date:
    """Return the community's local day before today."""
    return datetime.now(ZONE).date() - timedelta(days=1)


def quarters(day: date) -> list[datetime]:
    """Return the starts (UTC) of a local day's quarter hours."""
    start = datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZONE).astimezone(UTC)
    return [start + n * QUARTER for n in range((end - start) // QUARTER)]


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def readings(
    member: str, batch_id: str, meter: str, quantity: str, values: dict[datetime, float]
) -> dict[str, Any]:
    """Return a readings batch of quarter-hour ``values`` of one meter."""
    return {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": batch_id,
        "sent_at": _utc(datetime.now(UTC)),
        "readings": [
            {
                "meter": meter,
                "quantity": quantity,
                "start": _utc(start),
                "end": _utc(start + QUARTER),
                "value": value,
                "quality": "measured",
            }
            for start, value in values.items()
        ],
    }


def plant(day: date, kwh: float) -> dict[datetime, float]:
    """Return the plant's quarter hours: ``kwh`` each from 09:00 to 17:00 local time."""
    return {q: kwh if 9 <= q.astimezone(ZONE).hour < 17 else 0.0 for q in quarters(day)}


@dataclass
class Day:
    """What was sent for a day: each member's quarter-hour consumption, and the plant's."""

    day: date
    consumption: dict[str, dict[datetime, float]]
    plant: dict[datetime, float]
    # The members' API tokens (a member sends its own readings).
    tokens: dict[str, str] = field(default_factory=dict)

    def before(self, end: datetime) -> Day:
        """Return the day's readings of the quarter hours before ``end`` alone."""
        return Day(
            self.day,
            {m: {q: v for q, v in kwh.items() if q < end} for m, kwh in self.consumption.items()},
            {q: v for q, v in self.plant.items() if q < end},
            self.tokens,
        )

    def figures(self, counted: list[str], sharing: int) -> dict[str, float]:
        """Return the day's public figures over ``counted``, the plant split ``sharing`` ways."""
        generation: dict[datetime, float] = {}
        for start, kwh in self.plant.items():
            hour = start.replace(minute=0)
            generation[hour] = generation.get(hour, 0.0) + kwh
        allocated = used = 0.0
        for member in counted:
            hourly: dict[datetime, float] = {}
            for start, kwh in self.consumption[member].items():
                hour = start.replace(minute=0)
                hourly[hour] = hourly.get(hour, 0.0) + kwh
            for hour, kwh in hourly.items():
                share = generation[hour] / sharing
                allocated += share
                used += min(share, kwh)
        factor = factor_for(self.day.year).kg_per_kwh
        return {
            "production": round(sum(self.plant.values()), 1),
            "energy_shared": round(allocated, 1),
            "self_consumed": round(used, 1),
            "self_consumed_share": round(100 * used / allocated, 1),
            "co2_avoided": round(used * factor, 1),
            "money_kept": round(used * IMPORT_PRICE, 2),
        }


def send_day(
    base: str,
    community: Community,
    admin: str,
    consumption: dict[str, float],
    *,
    plant_kwh: float = 1.0,
    partial: dict[str, float] | None = None,
) -> Day:
    """Register the members, send yesterday's readings and an equal agreement; return the day.

    ``consumption``: each member's kWh per quarter hour (m-0001 first: it has the plant);
    ``partial``: members who joined at noon and sent only the afternoon.
    """
    day = yesterday()
    sent = Day(day, {}, plant(day, plant_kwh))
    everyone = {**consumption, **(partial or {})}
    tokens = sent.tokens
    for n, member in enumerate(everyone):
        tokens[member] = community.add_member(member, 900 + n).api_token
    first = next(iter(consumption))
    answer = call(base, "PUT", f"/api/v1/members/{first}/plant", admin, {"plant_kw": 20})
    assert answer.status == 200, answer.body
    for member, kwh in everyone.items():
        starts = quarters(day)
        if member in (partial or {}):
            starts = [q for q in starts if q.astimezone(ZONE).hour >= 12]
        sent.consumption[member] = dict.fromkeys(starts, kwh)
        batch = readings(member, "day", "grid", "import_kwh", sent.consumption[member])
        answer = call(base, "POST", "/api/v1/readings", tokens[member], batch)
        assert answer.status == 200, (member, answer.body)
    batch = readings(first, "sun", "plant", "generation_kwh", sent.plant)
    answer = call(base, "POST", "/api/v1/readings", tokens[first], batch)
    assert answer.status == 200, answer.body
    agreement = {"name": "A partes iguales", "scheme": "equal", "valid_from": str(day)}
    answer = call(base, "POST", "/api/v1/agreements", admin, agreement)
    assert answer.status == 201, answer.body
    return sent


def send_today(
    base: str,
    community: Community,
    sent: Day,
    consumption: dict[str, float],
    *,
    joined: dict[str, float] | None = None,
) -> Day:
    """Send today's quarter hours begun by now, from members already registered; return them.

    The plant gives 0.7 kWh every quarter hour (night too: the hour under way would show in any
    sum that counted it; 0.7: no figure falls on a rounding boundary, where the service's
    β, stored to millionths, and this equal split could round apart); ``joined``: members who
    join now and send from 01:00 local.
    """
    today = sent.day + timedelta(days=1)
    now = datetime.now(UTC)
    begun = [q for q in quarters(today) if q <= now]
    found = Day(today, {}, dict.fromkeys(begun, 0.7), sent.tokens)
    for n, member in enumerate(joined or {}):
        found.tokens[member] = community.add_member(member, 950 + n).api_token
    for member, kwh in {**consumption, **(joined or {})}.items():
        starts = begun
        if member in (joined or {}):
            starts = [q for q in begun if q.astimezone(ZONE).hour >= 1]
        found.consumption[member] = dict.fromkeys(starts, kwh)
        batch = readings(member, "today", "grid", "import_kwh", found.consumption[member])
        answer = call(base, "POST", "/api/v1/readings", found.tokens[member], batch)
        assert answer.status == 200, (member, answer.body)
    first = next(iter(consumption))
    batch = readings(first, "sun-today", "plant", "generation_kwh", found.plant)
    answer = call(base, "POST", "/api/v1/readings", found.tokens[first], batch)
    assert answer.status == 200, answer.body
    return found


def switch_on(base: str, admin: str) -> None:
    """Switch the display on, as the manager does in the control centre."""
    answer = call(base, "PUT", "/api/v1/display", admin, {"enabled": True})
    assert answer.status == 200, answer.body
    assert answer.json()["enabled"] is True
