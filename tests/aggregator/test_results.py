"""Agreements and the results computed from them, on SQLite and on a real PostgreSQL server.

The figures are worked out by hand from DOMAIN.md's rules: A = β·G, S = min(A, C),
I = max(C − A, 0), X = max(A − C, 0), hour by hour, nothing passed to a neighbour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path

import pandas as pd
import pytest

from ioe_aggregator import audit
from ioe_aggregator.agreements import (
    Agreements,
    shares_from_coefficients,
    shares_from_file,
    shares_from_scheme,
)
from ioe_aggregator.protocol.codec import Live, checked
from ioe_aggregator.refusals import Refused
from ioe_aggregator.results.engine import ResultsEngine
from ioe_aggregator.sharing import coefficient_file
from ioe_aggregator.sharing.calendar import hours_of_year
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch

from .conftest import MEMBERS, Community, config, make_cups, registry_with_members

NOW = datetime(2026, 11, 24, 11, 20, tzinfo=UTC)  # 12:20 in Madrid
CAU = make_cups(990001) + "A001"


async def store_days(store: Store) -> None:
    """Three days (22-24 Nov) with the same hour 10-11 UTC, and one more quarter on the 24th."""
    for day in (22, 23, 24):
        hour = datetime(2026, 11, day, 10, tzinfo=UTC)
        batches = [
            # The plant sits at m-3's: 1 kWh a quarter, 4 kWh in the hour.
            quarter_batch("m-3", "plant", "generation_kwh", hour, [1.0] * 4),
            quarter_batch("m-1", "grid", "import_kwh", hour, [0.25] * 4),  # C = 1.0
            quarter_batch("m-2", "grid", "import_kwh", hour, [0.5] * 4),  # C = 2.0
            quarter_batch("m-3", "grid", "import_kwh", hour, [0.1] * 4),  # C = 0.4
            # Other meters are no supply-point consumption.
            quarter_batch("m-1", "pv", "generation_kwh", hour, [9.0] * 4),
            # A "plant" nobody registered at m-1's is not the community's generation.
            quarter_batch("m-1", "plant", "generation_kwh", hour, [50.0] * 4),
        ]
        await store.store_batches(batches)
    # The last complete quarter before NOW (11:00-11:15): m-2 drew 0.5 kWh (2,000 W).
    await store.store_batch(
        quarter_batch("m-2", "grid", "import_kwh", datetime(2026, 11, 24, 11, tzinfo=UTC), [0.5])
    )


async def test_results_follow_the_agreement_hour_by_hour(store: Store) -> None:
    settings = config(import_price_eur_kwh="0.2", surplus_price_eur_kwh="0.05")
    registry = await registry_with_members(store, settings)
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    members = await registry.members()
    shares = shares_from_coefficients({"m-1": 0.5, "m-2": 0.3, "m-3": 0.2}, members)
    # In force from the 23rd: the 22nd's generation is allocated to nobody.
    agreement = await agreements.add(
        "Reparto 2026", shares, valid_from=date(2026, 11, 23), actor="test"
    )
    await store_days(store)
    live = {
        # m-1's plant is not registered: its 5 MW do not count.
        "m-1": Live(ts=NOW - timedelta(minutes=1), powers={"grid_w": 500.0, "plant_w": 5e6}),
        "m-2": Live(ts=NOW - timedelta(minutes=15), powers={"grid_w": 9999.0}),  # stale
        "m-3": Live(ts=NOW - timedelta(minutes=1), powers={"plant_w": 3000.0}),
    }
    engine = ResultsEngine(store, registry, agreements, settings.results)

    snapshot = await engine.compute(NOW, live=live, online=frozenset({"m-1", "someone-else"}))

    first, second, third = (checked(snapshot.results[m]) for m in MEMBERS)
    # Each day with the agreement: A = 2.0/1.2/0.8, S = 1.0/1.2/0.4, X = 1.0/0/0.4, I = 0/0.8/0.
    assert first["today"] == {
        "allocated_kwh": 2.0,
        "self_consumed_kwh": 1.0,
        "surplus_kwh": 1.0,
        "import_kwh": 0.0,
    }
    assert second["today"] == {
        "allocated_kwh": 1.2,
        "self_consumed_kwh": 1.2,
        "surplus_kwh": 0.0,
        "import_kwh": 1.3,  # 0.8 at 10 h, and the 0.5 kWh of 11:00-11:15 with no sun
    }
    assert third["today"]["surplus_kwh"] == 0.4
    # The month: two days under the agreement, and the 22nd with everything imported.
    assert first["month"] == {
        "allocated_kwh": 4.0,
        "self_consumed_kwh": 2.0,
        "surplus_kwh": 2.0,
        "import_kwh": 1.0,
        # Without: 3 kWh × 0.2 = 0.6; import 0.2; surplus 2 × 0.05 = 0.10 ≤ 0.2.
        "savings_eur": 0.5,
    }
    assert first["kpis"] == {"self_sufficiency": round(2 / 3, 4), "self_consumption": 0.5}
    assert first["coefficient_now"] == 0.5
    assert first["coefficient_valid"] == {"from": "2026-11-23", "to": None}
    assert first["scheme"] == agreement.scheme == "static"
    assert first["allocated_w_now"] == 1500.0  # β × the plant's 3,000 W reported live
    assert first["computed_at"] == "2026-11-24T11:20:00Z"
    state = checked(snapshot.state)
    assert state["generation_w"] == 3000.0
    assert state["consumption_w"] == 2500.0  # m-1 live 500 W; m-2 stale, its quarter 2,000 W
    assert state["surplus_w"] == 500.0
    assert (state["members_online"], state["members_total"]) == (1, 3)
    assert state["today"] == {
        "generation_kwh": 4.0,
        "consumption_kwh": 3.9,
        "self_consumed_kwh": 2.6,
    }
    signal = checked(snapshot.signal)
    assert signal["kind"] == "surplus"  # 500 W ≥ the default 500 W threshold
    assert signal["surplus_w"] == 500.0
    assert signal["valid_until"] == "2026-11-24T11:50:00Z"


async def test_without_an_agreement_nothing_is_allocated(store: Store) -> None:
    settings = config()
    registry = await registry_with_members(store, settings)
    await store_days(store)
    engine = ResultsEngine(
        store, registry, Agreements(store, tz="Europe/Madrid", min_months=4), settings.results
    )

    snapshot = await engine.compute(NOW)

    result = checked(snapshot.results["m-2"])
    assert result["scheme"] == "none"
    assert result["coefficient_now"] == 0.0
    assert "coefficient_valid" not in result
    assert result["month"]["allocated_kwh"] == 0.0
    assert result["month"]["import_kwh"] == 6.5
    assert result["month"]["savings_eur"] is None  # no prices configured
    assert result["kpis"]["self_consumption"] is None  # nothing allocated: no ratio
    # Without live reports, "now" is the last complete quarter: only m-2's 2,000 W.
    assert snapshot.state.generation_w == 0.0
    assert snapshot.state.consumption_w == 2000.0
    assert checked(snapshot.signal)["kind"] == "deficit"


async def test_a_revoked_member_gets_no_results(store: Store) -> None:
    settings = config()
    registry = await registry_with_members(store, settings)
    await registry.revoke("m-3", actor="test")
    engine = ResultsEngine(
        store, registry, Agreements(store, tz="Europe/Madrid", min_months=4), settings.results
    )

    snapshot = await engine.compute(NOW)

    assert set(snapshot.results) == {"m-1", "m-2"}
    assert snapshot.state.members_total == 2


async def test_a_scheme_gives_exact_millionths(store: Store) -> None:
    registry = await registry_with_members(store, config())
    members = await registry.members()

    by_power = shares_from_scheme("power", members)  # 3.3 : 6.6 : 9.9
    equal = shares_from_scheme("equal", members)

    assert by_power.units == {("m-1", 0): 166667, ("m-2", 0): 333333, ("m-3", 0): 500000}
    assert sum(equal.units.values()) == 1_000_000
    with pytest.raises(Refused, match="choose one of equal, power, investment"):
        shares_from_scheme("consumption", members)


async def test_a_new_agreement_ends_the_open_one_after_the_minimum_interval(
    store: Store,
) -> None:
    registry = await registry_with_members(store, config())
    members = await registry.members()
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    equal = shares_from_scheme("equal", members)
    first = await agreements.add("Igual", equal, valid_from=date(2026, 1, 1), actor="cli:ana")

    with pytest.raises(Refused, match=r"every 4 months at most, so from 2026-05-01") as err:
        await agreements.add("Pronto", equal, valid_from=date(2026, 3, 1), actor="cli:ana")
    assert err.value.kind == "conflict"
    second = await agreements.add(
        "Potencia", shares_from_scheme("power", members), valid_from=date(2026, 5, 1), actor="x"
    )

    ended = await agreements.get(first.id)
    assert ended.valid_to == date(2026, 4, 30)
    assert second.valid_to is None
    hours = pd.date_range("2026-04-30T19:00Z", periods=4, freq="h")  # 21 h-00 h in Madrid
    beta, in_force = await agreements.beta(hours)
    assert [a.id if a else None for a in in_force] == [first.id] * 3 + [second.id]
    assert beta.loc[hours[3], "m-3"] == 0.5
    assert beta.loc[hours[0], "m-3"] == pytest.approx(0.333333)
    actions = [e.action for e in (await audit.page(store)).entries][::-1]  # oldest first
    assert actions[-3:] == [
        audit.Action.AGREEMENT_ADDED,
        audit.Action.AGREEMENT_ENDED,
        audit.Action.AGREEMENT_ADDED,
    ]


async def test_agreements_never_overlap(store: Store) -> None:
    registry = await registry_with_members(store, config())
    equal = shares_from_scheme("equal", await registry.members())
    agreements = Agreements(store, tz="Europe/Madrid", min_months=0)
    closed = await agreements.add(
        "Cerrado", equal, valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30), actor="x"
    )
    future = await agreements.add("Futuro", equal, valid_from=date(2099, 1, 1), actor="x")

    for start, end in ((date(2026, 6, 1), None), (date(2025, 12, 1), date(2026, 1, 1))):
        with pytest.raises(Refused, match="periods must not overlap"):
            await agreements.add("Solapa", equal, valid_from=start, valid_to=end, actor="x")
    with pytest.raises(Refused, match="starts on 2099-01-01"):
        await agreements.end(closed.id, None, actor="x")  # open-ended would reach the future one
    with pytest.raises(Refused, match="end it instead"):
        await agreements.remove(closed.id, actor="x")
    with pytest.raises(Refused, match="the last day comes before the first"):
        await agreements.add(
            "Al revés", equal, valid_from=date(2027, 2, 1), valid_to=date(2027, 1, 1), actor="x"
        )

    assert (await agreements.end(closed.id, date(2026, 7, 31), actor="x")).valid_to == date(
        2026, 7, 31
    )
    await agreements.remove(future.id, actor="x")
    assert [a.id for a in await agreements.all()] == [closed.id]


async def test_an_hourly_coefficient_file_is_followed_hour_by_hour(
    store: Store, tmp_path: Path
) -> None:
    registry = await registry_with_members(store, config())
    members = await registry.members()
    index = hours_of_year(2026)
    # m-1 gets everything at midday (local), m-2 otherwise; m-3 never.
    midday = (index.tz_convert("Europe/Madrid").hour == 12).astype(float)
    beta = pd.DataFrame(
        {make_cups(1): midday, make_cups(2): 1 - midday, make_cups(3): 0.0}, index=index
    )
    path = coefficient_file.write_hourly(tmp_path, CAU, 2026, beta)
    shares = shares_from_file(path.read_bytes(), path.name, members)
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)

    agreement = await agreements.add(
        "Horario", shares, valid_from=date(2026, 3, 1), actor="cli:ana"
    )

    assert (agreement.hourly, agreement.scheme, agreement.valid_to) == (
        True,
        "hourly-file",
        date(2026, 12, 31),
    )
    # Across the change to summer time (29 March): 12 h local is 11 h UTC, then 10 h UTC.
    hours = pd.DatetimeIndex(["2026-03-28T11:00Z", "2026-03-29T10:00Z", "2026-03-29T11:00Z"])
    found, in_force = await agreements.beta(hours)
    assert found["m-1"].tolist() == [1.0, 1.0, 0.0]
    assert found["m-2"].tolist() == [0.0, 0.0, 1.0]
    assert all(a is not None and a.id == agreement.id for a in in_force)
    shown = await agreements.coefficients(agreement.id)
    assert len(shown["coefficients"]["m-1"]) == 8760
    with pytest.raises(Refused, match="can only hold within 2026"):
        await agreements.add("Otro año", shares, valid_from=date(2027, 1, 1), actor="x")


async def test_a_broken_coefficient_file_is_refused_with_its_lines(store: Store) -> None:
    registry = await registry_with_members(store, config())
    members = await registry.members()
    content = (
        f"{make_cups(1)};0,500000\r\n{make_cups(2)};0.300000\r\n{make_cups(77)};0,500000\r\n"
    ).encode()

    with pytest.raises(Refused) as err:
        shares_from_file(content, f"{CAU}_2026.txt", members)
    with pytest.raises(Refused, match=r"should be named CAU_YYYY\.txt"):
        shares_from_file(content, "coeficientes.txt", members)
    with pytest.raises(Refused, match="not active members: m-9"):
        shares_from_coefficients({"m-1": 0.5, "m-9": 0.5}, members)
    with pytest.raises(Refused, match="sum to"):
        shares_from_coefficients({"m-1": 0.5, "m-2": 0.4}, members)

    message = str(err.value)
    assert err.value.kind == "invalid"
    assert "line 2: share '0.300000' is not a number" in message
    assert f"line 3: CUPS {make_cups(77)} is not a member of the community" in message


async def test_each_quarter_counts_once_whatever_the_grouping(store: Store) -> None:
    """The hourly sums the results read equal the quarters stored (both backends)."""
    settings = config()
    await registry_with_members(store, settings)
    await store_days(store)

    rows = await store.hourly(
        "grid", "import_kwh", datetime(2026, 11, 24, tzinfo=UTC), NOW + timedelta(hours=1)
    )

    assert sorted((m, h.hour, round(v, 6)) for m, h, v in rows) == [
        ("m-1", 10, 1.0),
        ("m-2", 10, 2.0),
        ("m-2", 11, 0.5),
        ("m-3", 10, 0.4),
    ]


def test_the_command_line_records_changes_and_refuses_bad_files(
    community: Community, tmp_path: Path
) -> None:
    for number, member in enumerate(("m-0001", "m-0002"), start=1):
        community.add_member(member, 500 + number)
    static = tmp_path / f"{CAU}_2026.txt"
    static.write_text(f"{make_cups(501)};0,750000\r\n{make_cups(502)};0,250000\r\n")
    broken = tmp_path / f"{CAU}_2027.txt"
    broken.write_text(f"{make_cups(501)};0,750000\r\n")

    added = json.loads(
        community.cli(
            "agreements", "add", "Fichero", "--file", str(static), "--from", "2026-01-01", "--json"
        ).stdout
    )
    refused = community.cli(
        "agreements", "add", "Roto", "--file", str(broken), "--from", "2027-01-01", check=False
    )
    ended = community.cli("agreements", "end", added["id"], "--last-day", "2026-12-31").stdout
    shown = json.loads(community.cli("agreements", "show", added["id"], "--json").stdout)
    listed = community.cli("agreements", "list").stdout

    assert added["scheme"] == "static-file"
    assert refused.returncode == 1
    assert "the coefficients sum to 0,750000, not 1,000000" in refused.stderr
    assert "2026-01-01 → 2026-12-31" in ended
    assert shown["coefficients"] == {"m-0001": 0.75, "m-0002": 0.25}
    assert added["id"] in listed
    entries = json.loads(community.cli("audit", "--json").stdout)["entries"]  # newest first
    assert [e["action"] for e in entries[:2]] == ["agreement_ended", "agreement_added"]
