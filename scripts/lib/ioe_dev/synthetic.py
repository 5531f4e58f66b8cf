"""A synthetic but realistic energy community: households of different habits, a PV plant.

Consumption: REE's 2025 P2.0TD hourly profile (normalised), which gives each day its share of
the year, reshaped within the day by each member's habits (`HABITS`: at home all day, away on
working days, a shop's hours, charging an EV at night), × the member's annual kWh, with
multiplicative noise. Every member keeps REE's day totals; only the hours of the day differ,
so that schemes that share by the hour have something to learn. Generation: pvlib's clear-sky
irradiance for central Spain × the plant's peak power, dimmed by a daily cloudiness and an
hourly flicker. Seeded, so runs repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from pvlib.location import Location
from stdnum.es import cups as stdnum_cups

from ioe_aggregator.protocol.codec import Reading, ReadingsBatch
from ioe_aggregator.sharing.calendar import DEFAULT_TZ, hours_of_year, is_p3_day
from ioe_aggregator.sharing.model import Member
from ioe_aggregator.sharing.profiles import PROFILE_YEAR, ree_profile

# A PV plant in central Spain yields about 1,600 kWh per kWp and year.
SPECIFIC_YIELD_KWH_PER_KWP = 1600.0
HOURS_PER_YEAR = 8760
# Where the plant is: near Madrid.
SYNTHETIC_SITE = Location(latitude=40.4, longitude=-3.7, altitude=650, tz="UTC")


def _day(*weights: tuple[int, int, float]) -> np.ndarray:
    """Return 24 hourly weights: 1, except ``(first, last, weight)`` for hours first…last−1."""
    hours = np.ones(24)
    for first, last, weight in weights:
        hours[first:last] = weight
    return hours


# A household's habits: weights of each local hour on working days and on other days (weekends
# and national holidays), by which REE's profile is reshaped within each day.
HABITS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    # Retired, or working from home: the day is busy, the evening less so.
    "home_all_day": (_day((9, 14, 1.5), (14, 18, 1.4)), _day((9, 14, 1.4), (14, 18, 1.3))),
    # Out from 8 to 18 on working days: mornings and evenings carry the day.
    "away_working_days": (
        _day((0, 6, 0.8), (6, 8, 1.8), (8, 18, 0.35), (18, 23, 2.0)),
        _day((10, 14, 1.3), (20, 23, 1.3)),
    ),
    # A small shop or workshop: open 9-14 and 17-20 on working days, closed on Sundays.
    "shop_hours": (
        _day((0, 8, 0.3), (9, 14, 2.6), (14, 17, 0.8), (17, 20, 2.4), (20, 24, 0.3)),
        _day((0, 24, 0.6)),
    ),
    # An electric car charged from midnight to six.
    "ev_at_night": (
        _day((0, 6, 2.6), (8, 18, 0.6), (18, 23, 1.3)),
        _day((0, 6, 2.2)),
    ),
}


@dataclass(frozen=True, kw_only=True)
class SyntheticCommunity:
    """Members with a year of hourly consumption (kWh) and the plant's generation (kWh)."""

    members: list[Member]
    consumption_kwh: pd.DataFrame
    generation_kwh: pd.Series
    peak_kw: float


def cups(number: int) -> str:
    """Return a valid CUPS (check letters computed) made from a number, for test communities."""
    base = f"ES0021{number:012d}"
    return base + stdnum_cups.calc_check_digits(base)


def quarter_batch(
    member: str, meter: str, quantity: str, start: datetime, values: Sequence[float]
) -> ReadingsBatch:
    """Return a decoded readings batch: one measured value per quarter hour from ``start``."""
    quarter = timedelta(minutes=15)
    return ReadingsBatch(
        member=member,
        batch=f"{member}-{meter}-{start:%m%d%H%M}",
        sent_at=start + len(values) * quarter,
        readings=tuple(
            Reading(
                meter=meter,
                quantity=quantity,
                start=start + i * quarter,
                end=start + (i + 1) * quarter,
                value=value,
                quality="measured",
            )
            for i, value in enumerate(values)
        ),
        live=None,
    )


def habit_of(number: int) -> str:
    """Return the habits of the community's ``number``-th member (from 0): each in turn."""
    return list(HABITS)[number % len(HABITS)]


def habit_profile(profile: pd.Series, habit: str) -> pd.Series:
    """Return REE's profile reshaped within each local day by ``habit``, day totals kept."""
    local = profile.index.tz_convert(DEFAULT_TZ)
    working, other = HABITS[habit]
    free = is_p3_day(local)
    weights = np.where(free, other[local.hour], working[local.hour])
    shaped = pd.Series(profile.to_numpy() * weights, index=profile.index)
    days = local.normalize()
    return shaped * (profile.groupby(days).transform("sum") / shaped.groupby(days).transform("sum"))


def make_community(
    members: int, *, seed: int = 7, solar_share: float = 0.35, years: int = 1
) -> SyntheticCommunity:
    """Return ``members`` households and a plant sized to cover ``solar_share`` of their use.

    The members' habits take turns (`habit_of`), so any community of four or more has them all.
    ``years`` (1 to 3) from 2025: REE's 2025 profile again on each later year's hours, with
    the habits, the noise and the weather drawn anew.
    """
    if not 1 <= years <= 3:
        raise ValueError("a synthetic community has 1 to 3 years (2025 to 2027, none leap)")
    rng = np.random.default_rng(seed)
    once = ree_profile()
    profile = pd.concat(
        pd.Series(once.to_numpy(), index=hours_of_year(PROFILE_YEAR + year, DEFAULT_TZ))
        for year in range(years)
    )
    index = profile.index
    annual_kwh = rng.lognormal(mean=np.log(3200), sigma=0.45, size=members)
    noise = rng.gamma(shape=4.0, scale=0.25, size=(len(index), members))
    shapes = {habit: habit_profile(profile, habit).to_numpy() for habit in HABITS}
    shaped = np.column_stack([shapes[habit_of(number)] for number in range(members)])
    consumption = pd.DataFrame(
        shaped * annual_kwh[None, :] * noise,
        index=index,
        columns=[f"m-{i + 1:04d}" for i in range(members)],
    )
    peak_kw = round(float(annual_kwh.sum()) * solar_share / SPECIFIC_YIELD_KWH_PER_KWP, 1)
    generation = pd.Series(_pv_kwh(index, peak_kw, rng), index=index)
    roster = [
        Member(
            member_id=member_id,
            cups=cups(i + 1),
            contracted_power_kw=float(rng.choice([3.3, 4.6, 5.75, 6.9])),
            investment_eur=float(round(rng.uniform(0, 3000), -1)),
            vulnerable=bool(rng.random() < 0.1),
        )
        for i, member_id in enumerate(consumption.columns)
    ]
    return SyntheticCommunity(
        members=roster, consumption_kwh=consumption, generation_kwh=generation, peak_kw=peak_kw
    )


def _pv_kwh(index: pd.DatetimeIndex, peak_kw: float, rng: np.random.Generator) -> np.ndarray:
    ghi = SYNTHETIC_SITE.get_clearsky(index + pd.Timedelta(minutes=30))["ghi"].to_numpy()
    days = index.tz_convert(DEFAULT_TZ).normalize()
    day_codes, day_of_hour = np.unique(days, return_inverse=True)
    clearness = rng.beta(5.0, 1.6, size=len(day_codes))[day_of_hour]
    flicker = np.clip(rng.normal(1.0, 0.08, size=len(index)), 0.6, 1.1)
    raw = ghi * clearness * flicker
    # Scale so the plant yields its specific yield each year.
    years = len(index) / HOURS_PER_YEAR
    return raw * (peak_kw * SPECIFIC_YIELD_KWH_PER_KWP * years / raw.sum())


def write_csv(community: SyntheticCommunity, directory: Path) -> dict[str, Path]:
    """Write members.csv, consumption.csv and generation.csv as ``sharing compare`` reads them."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / f"{name}.csv" for name in ("members", "consumption", "generation")}
    pd.DataFrame(
        [
            {
                "member_id": m.member_id,
                "cups": m.cups,
                "contracted_power_kw": m.contracted_power_kw,
                "investment_eur": m.investment_eur,
                "vulnerable": str(m.vulnerable).lower(),
            }
            for m in community.members
        ]
    ).to_csv(paths["members"], index=False)
    local = community.consumption_kwh.index.tz_convert(DEFAULT_TZ)
    starts = [t.isoformat() for t in local]
    long = community.consumption_kwh.set_axis(starts).round(4).stack().rename("kwh")
    long.index.names = ["start", "member_id"]
    long.reset_index()[["member_id", "start", "kwh"]].to_csv(paths["consumption"], index=False)
    pd.DataFrame({"start": starts, "kwh": community.generation_kwh.round(4).to_numpy()}).to_csv(
        paths["generation"], index=False
    )
    return paths
