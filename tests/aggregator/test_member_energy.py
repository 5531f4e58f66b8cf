"""A member's consumption against their share over a day, month or year, on both backends.

The figures are the results engine's, read for one member (``ResultsEngine.shares``) and put
per local hour, day or month (``results.member_energy``); they are worked out by hand here:
A = β·G, S = min(A, C), X = max(A − C, 0), hour by hour. Then the API: who may read them,
an unknown member, and the completeness and reconciliation of one member.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.agreements import Agreements, shares_from_coefficients
from ioe_aggregator.results.engine import ResultsEngine
from ioe_aggregator.results.member_energy import Period, PeriodKind, member_energy
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch
from tests.community import T0, batch

from .conftest import Community, StartAggregator, call, config, registry_with_members, start_service

MADRID = ZoneInfo("Europe/Madrid")
# Long after every hour stored: all of them have ended.
LATER = datetime(2027, 2, 1, tzinfo=UTC)
BETA = {"m-1": 0.5, "m-2": 0.3, "m-3": 0.2}


async def _engine(store: Store, *, valid_from: date = date(2026, 11, 23)) -> ResultsEngine:
    """Return the engine of m-1, m-2 and m-3 (the plant at m-3's), β = BETA from ``valid_from``."""
    settings = config()
    registry = await registry_with_members(store, settings)
    agreements = Agreements(store, tz="Europe/Madrid", min_months=0)
    shares = shares_from_coefficients(BETA, await registry.members())
    await agreements.add("Reparto", shares, valid_from=valid_from, actor="test")
    return ResultsEngine(store, registry, agreements, settings.results)


async def _hour(store: Store, start: datetime, plant: float, **imports: list[float]) -> None:
    """Store an hour: the plant's quarters (``plant`` kWh in all) and members' quarters."""
    batches = [quarter_batch("m-3", "plant", "generation_kwh", start, [plant / 4] * 4)]
    batches += [
        quarter_batch(member.replace("_", "-"), "grid", "import_kwh", start, values)
        for member, values in imports.items()
    ]
    await store.store_batches(batches)


async def _figures(
    engine: ResultsEngine, member: str, kind: PeriodKind, day: date
) -> dict[str, Any]:
    period = Period.containing(kind, day)
    shares = await engine.shares(period.hours(MADRID), LATER, member=member)
    return member_energy(shares, member, period, MADRID)


def _energies(point: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        point[key]
        for key in ("consumption_kwh", "allocated_kwh", "self_consumed_kwh", "surplus_kwh")
    )


async def _store_23_november(store: Store) -> None:
    """Store the 23rd (UTC+1): three hours of m-1, one whole and one partial of m-2."""
    # 11 h local: G = 4, C1 = 1.0, C2 = 2.0.
    await _hour(store, datetime(2026, 11, 23, 10, tzinfo=UTC), 4.0, m_1=[0.25] * 4, m_2=[0.5] * 4)
    # 12 h: G = 2, C1 = 0.4; m-2 sent three quarters only: its hour is unknown.
    await _hour(store, datetime(2026, 11, 23, 11, tzinfo=UTC), 2.0, m_1=[0.1] * 4, m_2=[0.5] * 3)
    # 13 h: no sun, C1 = 0.3.
    await _hour(store, datetime(2026, 11, 23, 12, tzinfo=UTC), 0.0, m_1=[0.075] * 4)


def _span(figures: dict[str, Any]) -> str:
    """Return a period's first and last day, and the first days before and after it."""
    return " ".join(figures[key] for key in ("from", "to", "previous", "next"))


async def test_a_day_hour_by_hour(store: Store) -> None:
    engine = await _engine(store)
    await _store_23_november(store)

    first = await _figures(engine, "m-1", "day", date(2026, 11, 23))
    second = await _figures(engine, "m-2", "day", date(2026, 11, 23))

    assert _span(first) == "2026-11-23 2026-11-23 2026-11-22 2026-11-24"
    points = first["points"]
    assert len(points) == 24
    assert points[0]["start"] == "2026-11-22T23:00:00Z"
    assert points[11]["local"] == "2026-11-23T11:00:00+01:00"
    # A = 0.5·G; S = min(A, C); X = A − S.
    assert [_energies(p) for p in points[11:14]] == [
        (1.0, 2.0, 1.0, 1.0),
        (0.4, 1.0, 0.4, 0.6),
        (0.3, 0.0, 0.0, 0.0),
    ]
    assert all(p["coefficient"] == 0.5 for p in points)
    # The hours nothing measured are unknown, not zero.
    assert _energies(points[10]) == (None, None, None, None)
    assert points[10]["hours_known"] == 0
    assert first["totals"] == {
        "hours": 24,
        "hours_known": 3,
        "consumption_kwh": 1.7,
        "allocated_kwh": 3.0,
        "self_consumed_kwh": 1.4,
        "surplus_kwh": 1.6,
        "self_consumption": round(1.4 / 3.0, 4),
        "self_sufficiency": round(1.4 / 1.7, 4),
    }
    # m-2: A = 0.3·4 = 1.2 at 11 h, all used; its partial hour at 12 h stays unknown.
    assert _energies(second["points"][11]) == (2.0, 1.2, 1.2, 0.0)
    assert _energies(second["points"][12]) == (None, None, None, None)
    assert _energies(second["totals"]) == (2.0, 1.2, 1.2, 0.0)
    assert first["agreements"][0] | {"id": None} == {
        "id": None,
        "name": "Reparto",
        "scheme": "static",
        "kind": "static",
        "valid_from": "2026-11-23",
        "valid_to": None,
        "coefficient_min": 0.5,
        "coefficient_max": 0.5,
    }


async def test_months_and_years_sum_the_known_hours(store: Store) -> None:
    engine = await _engine(store)
    await _store_23_november(store)
    # The 22nd, before the agreement: its generation is allocated to nobody.
    await _hour(store, datetime(2026, 11, 22, 10, tzinfo=UTC), 4.0, m_1=[0.25] * 4)

    month = await _figures(engine, "m-1", "month", date(2026, 11, 23))
    year = await _figures(engine, "m-1", "year", date(2026, 11, 23))

    assert _span(month) == "2026-11-01 2026-11-30 2026-10-01 2026-12-01"
    days = {point["local"]: point for point in month["points"]}
    assert len(days) == 30
    assert _energies(days["2026-11-22"]) == (1.0, 0.0, 0.0, 0.0)
    assert days["2026-11-22"]["coefficient"] is None  # no agreement in force
    assert _energies(days["2026-11-23"]) == (1.7, 3.0, 1.4, 1.6)
    assert (days["2026-11-23"]["hours"], days["2026-11-23"]["hours_known"]) == (24, 3)
    assert days["2026-11-23"]["coefficient"] == 0.5
    assert _energies(days["2026-11-24"]) == (None, None, None, None)
    assert _energies(month["totals"]) == (2.7, 3.0, 1.4, 1.6)

    months = {point["local"]: point for point in year["points"]}
    assert list(months) == [f"2026-{number:02}" for number in range(1, 13)]
    assert _energies(months["2026-11"]) == (2.7, 3.0, 1.4, 1.6)
    assert months["2026-11"]["coefficient"] is None  # the agreement began within the month
    assert _energies(months["2026-10"]) == (None, None, None, None)
    assert [months[m]["hours"] for m in ("2026-03", "2026-10", "2026-11")] == [743, 745, 720]
    assert year["totals"]["hours"] == 8760
    assert year["previous"] == "2025-01-01"


async def test_the_days_the_clocks_change_have_23_and_25_hours(store: Store) -> None:
    engine = await _engine(store, valid_from=date(2026, 1, 1))
    # 02:00 local comes twice on 25 October: at 00:00 UTC (+02:00), then at 01:00 UTC (+01:00).
    await _hour(store, datetime(2026, 10, 25, 0, tzinfo=UTC), 2.0, m_1=[0.5] * 4)
    await _hour(store, datetime(2026, 10, 25, 1, tzinfo=UTC), 1.0, m_1=[0.05] * 4)

    spring = await _figures(engine, "m-1", "day", date(2026, 3, 29))
    autumn = await _figures(engine, "m-1", "day", date(2026, 10, 25))

    assert len(spring["points"]) == 23
    assert [p["local"][11:] for p in spring["points"][1:3]] == ["01:00:00+01:00", "03:00:00+02:00"]
    assert len(autumn["points"]) == 25
    twice = autumn["points"][2:4]
    assert [p["local"][11:] for p in twice] == ["02:00:00+02:00", "02:00:00+01:00"]
    assert [_energies(p) for p in twice] == [(2.0, 1.0, 1.0, 0.0), (0.2, 0.5, 0.2, 0.3)]
    assert (autumn["totals"]["hours"], autumn["totals"]["consumption_kwh"]) == (25, 2.2)


async def test_a_period_without_an_agreement_or_data(store: Store) -> None:
    engine = await _engine(store)

    figures = await _figures(engine, "m-1", "month", date(2026, 6, 1))

    assert figures["agreements"] == []
    assert {p["coefficient"] for p in figures["points"]} == {None}
    assert figures["totals"]["hours_known"] == 0
    assert figures["totals"]["self_consumption"] is None
    assert _energies(figures["totals"]) == (None, None, None, None)


@pytest.fixture
def tokens(community: Community) -> dict[str, str]:
    """Members m-0001 and m-0002's tokens, a viewer's and a public one."""
    return {
        "m-0001": community.add_member("m-0001").api_token,
        "m-0002": community.add_member("m-0002").api_token,
        "viewer": community.token("viewer"),
        "public": community.token("public"),
    }


def test_the_api_gives_a_member_their_figures_and_nobody_else(
    community: Community, start_aggregator: StartAggregator, tokens: dict[str, str]
) -> None:
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    sent = call(base, "POST", "/api/v1/readings", tokens["m-0001"], batch("m-0001", "a", count=8))
    assert sent.status == 200
    day = T0.astimezone(MADRID).date().isoformat()
    path = f"/api/v1/members/m-0001/energy?period=day&date={day}"

    figures = call(base, "GET", path, tokens["viewer"]).json()

    assert (figures["member"], figures["period"], figures["from"]) == ("m-0001", "day", day)
    known = [p for p in figures["points"] if p["hours_known"]]
    # Two whole hours of 4 × 0.25 kWh from T0 (UTC midnight); no agreement: nothing allocated.
    assert [_energies(p) for p in known] == [(1.0, 0.0, 0.0, 0.0)] * 2
    assert figures["agreements"] == []
    assert figures["totals"]["consumption_kwh"] == 2.0
    assert call(base, "GET", path, tokens["m-0001"]).status == 200  # their own
    assert call(base, "GET", path, tokens["m-0002"]).status == 403  # another's
    assert call(base, "GET", path, tokens["public"]).status == 403
    unknown = call(base, "GET", "/api/v1/members/m-0404/energy?period=year", tokens["viewer"])
    assert unknown.status == 404
    month = call(base, "GET", "/api/v1/members/m-0001/energy?period=month", tokens["viewer"])
    assert month.status == 200
    week = call(base, "GET", "/api/v1/members/m-0001/energy?period=week", tokens["viewer"])
    assert week.status == 400

    month_text = day[:7]
    reconciled = call(
        base,
        "GET",
        f"/api/v1/reconciliation?from={month_text}&to={month_text}&member=m-0001",
        tokens["viewer"],
    ).json()
    assert [(m["member"], m["hours_member"], m["flagged"]) for m in reconciled] == [
        ("m-0001", 2, False)
    ]
    complete = call(
        base, "GET", f"/api/v1/completeness?from={day}&to={day}&member=m-0002", tokens["viewer"]
    ).json()
    assert [m["member"] for m in complete["members"]] == ["m-0002"]
    for query in (
        f"/api/v1/completeness?from={day}&to={day}&member=m-0404",
        f"/api/v1/reconciliation?from={month_text}&to={month_text}&member=m-0404",
    ):
        assert call(base, "GET", query, tokens["viewer"]).status == 404
