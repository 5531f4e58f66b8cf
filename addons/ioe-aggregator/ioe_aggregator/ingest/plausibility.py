"""What a member's meters can have measured: readings and live reports checked against its limits.

A reading is the member's from up to two years before it joined until now; a quarter's energy
or a live power at most its contract, or its registered plant's peak power, give or take a
tolerance.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ioe_aggregator.members.registry import MemberLimits
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, SUPPLY_IMPORT, Live, ReadingsBatch
from ioe_aggregator.protocol.messages import utc_text

# How far back a member's readings may reach before it joined: a home sends what its
# recorder kept, and the distributors publish two years back.
HISTORY_LIMIT = timedelta(days=2 * 366)
# How far ahead of the aggregator's clock a home's may run: a reading's interval must have
# begun by then, and a live report be taken by then.
READING_CLOCK_SKEW = timedelta(minutes=5)
LIVE_CLOCK_SKEW = timedelta(minutes=1)
# Power above the contract (the distributor's switch lets it pass for a while) or above the
# plant's peak power (a meter's error) by more than these factors is not believed, live or as
# a quarter's energy; nor is any other quarter's energy beyond ANY_READING_TOLERANCE times the
# larger of the two (a home's PV, battery or car charger can pass its contract, not tenfold).
CONTRACT_TOLERANCE = 1.5
PLANT_TOLERANCE = 1.2
ANY_READING_TOLERANCE = 10.0
W_PER_KW = 1000.0
HOURS_PER_QUARTER = 0.25


def window_problem(batch: ReadingsBatch, limits: MemberLimits, now: datetime) -> str | None:
    """Return why a batch's readings cannot be the member's measurements, or None.

    A reading must start at most ``HISTORY_LIMIT`` before the member joined, and its interval
    must have begun by now (give or take ``READING_CLOCK_SKEW``).
    """
    earliest, latest = limits.joined - HISTORY_LIMIT, now + READING_CLOCK_SKEW
    for index, reading in enumerate(batch.readings):
        if reading.start < earliest:
            return (
                f"readings[{index}] starts {utc_text(reading.start)}, before what the member "
                f"can have measured (joined {utc_text(limits.joined)})"
            )
        if reading.start > latest:
            return f"readings[{index}] starts {utc_text(reading.start)}, in the future"
    return None


def believable(batch: ReadingsBatch, limits: MemberLimits) -> tuple[ReadingsBatch, list[str]]:
    """Return the batch without the readings no meter of the member can have measured.

    A quarter's import may not pass the contract, nor a registered plant's generation its peak
    power, by more than their tolerances; nor any other reading ten times the larger of the
    two. The reasons name the readings left out.
    """
    most = max(limits.contracted_kw, limits.plant_kw) * HOURS_PER_QUARTER * ANY_READING_TOLERANCE
    kept, left_out = [], []
    for index, reading in enumerate(batch.readings):
        kind = (reading.meter, reading.quantity)
        if kind == SUPPLY_IMPORT:
            limit = limits.contracted_kw * HOURS_PER_QUARTER * CONTRACT_TOLERANCE
        elif kind == COMMUNITY_PLANT and limits.plant_kw > 0:
            limit = limits.plant_kw * HOURS_PER_QUARTER * PLANT_TOLERANCE
        else:
            limit = most
        if reading.value > limit:
            left_out.append(
                f"readings[{index}] {reading.meter} {reading.quantity} {reading.value:g} kWh "
                f"in a quarter hour, more than {limit:g}"
            )
        else:
            kept.append(reading)
    if not left_out:
        return batch, []
    return replace(batch, readings=tuple(kept)), left_out


def live_problem(live: Live, limits: MemberLimits, now: datetime) -> str | None:
    """Return why a live report cannot be believed, or None.

    It must not be taken in the future, nor show more import than the contract lets through,
    nor more generation than the member's registered plant.
    """
    if live.ts > now + LIVE_CLOCK_SKEW:
        return f"taken {utc_text(live.ts)}, in the future"
    importing = live.powers.get("grid_w", 0.0)
    if importing > limits.contracted_kw * W_PER_KW * CONTRACT_TOLERANCE:
        return f"imports {importing:g} W on a contract of {limits.contracted_kw:g} kW"
    generating = live.powers.get("plant_w", 0.0)
    if generating > limits.plant_kw * W_PER_KW * PLANT_TOLERANCE:
        return f"its plant makes {generating:g} W, with {limits.plant_kw:g} kW registered"
    return None
