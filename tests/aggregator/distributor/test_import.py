"""Importing the distributors' exports into the store: members by CUPS, idempotent, summed."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ioe_aggregator.distributor.importer import store_rows
from ioe_aggregator.distributor.model import SOURCE
from ioe_aggregator.members.registry import Member
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch

from ..conftest import Community, make_cups, register_members, stored_rows
from .conftest import read_all

FIXTURES = Path(__file__).parent / "fixtures"
MADRID = ZoneInfo("Europe/Madrid")
OCTOBER = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC))


async def two_members(store: Store) -> list[Member]:
    """m-1 and m-2, on the fixtures' supply points (the first with its boundary suffix)."""
    return await register_members(store, {"m-1": make_cups(1) + "0F", "m-2": make_cups(2)})


def rows_of(name: str) -> list:
    return read_all((FIXTURES / name).read_bytes()).rows


async def test_rows_become_each_members_grid_readings_once(store: Store) -> None:
    members = await two_members(store)
    rows = rows_of("datadis_october.csv")

    first = await store_rows(store, rows, members, MADRID, origin="csv:test")
    again = await store_rows(store, rows, members, MADRID, origin="csv:test")

    assert [(m.member, m.month, m.intervals, m.estimated, m.new) for m in first.months] == [
        ("m-1", "2025-10", 25, 1, 100),
        ("m-2", "2025-10", 25, 1, 100),
    ]
    assert first.months[0].kwh["generation_kwh"] == pytest.approx(3.5)
    assert [(m.new, m.changed, m.unchanged) for m in again.months] == [(0, 0, 100), (0, 0, 100)]
    stored = await store.readings("m-1", *OCTOBER, source=SOURCE)
    assert len(stored) == 100
    assert {(s.reading.meter, s.source) for s in stored} == {("grid", "distributor")}
    assert {s.reading.quantity for s in stored} == {
        "import_kwh",
        "export_kwh",
        "generation_kwh",
        "self_consumption_kwh",
    }


async def test_a_corrected_value_replaces_the_old_one(store: Store) -> None:
    members = await two_members(store)
    text = (FIXTURES / "edistribucion_october.csv").read_text()
    await store_rows(store, read_all(text.encode()).rows, members, MADRID, origin="a")
    corrected = text.replace("26/10/2025;25;0,350", "26/10/2025;25;0,400")

    rows = read_all(corrected.encode()).rows
    summary = await store_rows(store, rows, members, MADRID, origin="b")

    assert [(m.new, m.changed) for m in summary.months] == [(0, 1)]
    hour_25 = [
        s
        for s in await store.readings("m-1", *OCTOBER, source=SOURCE)
        if s.reading.end == datetime(2025, 10, 26, 23, tzinfo=UTC)
        and s.reading.quantity == "import_kwh"
    ]
    assert [(s.reading.value, s.changes) for s in hour_25] == [(0.4, 1)]


async def test_distributor_data_is_kept_apart_from_the_members_own(store: Store) -> None:
    members = await two_members(store)
    start = datetime(2025, 10, 26, 10, tzinfo=UTC)
    await store.store_batch(quarter_batch("m-1", "grid", "import_kwh", start, [0.05] * 4))

    await store_rows(store, rows_of("datadis_october.csv"), members, MADRID, origin="csv:test")

    own = await store.readings("m-1", *OCTOBER)
    assert [s.reading.value for s in own] == [0.05] * 4
    assert {s.source for s in own} == {"member"}
    assert len(await store.readings("m-1", *OCTOBER, source=SOURCE)) == 100


async def test_unknown_supply_points_and_other_members_are_counted_not_stored(
    store: Store,
) -> None:
    members = await two_members(store)
    rows = rows_of("datadis_october.csv")

    only_m1_known = [m for m in members if m.id == "m-1"]
    summary = await store_rows(store, rows, only_m1_known, MADRID, origin="x")
    limited = await store_rows(store, rows, members, MADRID, origin="y", only_member="m-2")

    assert summary.unknown_cups == {make_cups(2): 25}
    assert [m.member for m in summary.months] == ["m-1"]
    assert limited.other_members == 25
    assert [m.member for m in limited.months] == ["m-2"]


def test_import_csv_command(community: Community) -> None:
    community.add_member("m-1", 1)
    broken = FIXTURES / "broken.csv"

    result = community.cli("import-csv", str(FIXTURES / "edistribucion_october.csv"))
    again = community.cli("import-csv", str(FIXTURES / "edistribucion_october.csv"), "--json")
    with_errors = community.cli("import-csv", str(broken), check=False)

    assert "edistribucion format, 49 intervals read, 0 lines not read" in result.stdout
    assert "m-1" in result.stdout
    assert "2025-10" in result.stdout
    summary = json.loads(again.stdout)
    assert summary["format"] == "edistribucion"
    assert [(m["month"], m["intervals"], m["new"], m["unchanged"]) for m in summary["months"]] == [
        ("2025-10", 49, 0, 147)
    ]
    assert with_errors.returncode == 1
    assert "line 4: 'abc' is not a number" in with_errors.stdout
    assert "2025-06" in with_errors.stdout  # the good lines were stored
    assert len(stored_rows(community)) == 147 + 2 * 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["absent.csv"], "cannot read"),
        ([str(FIXTURES / "README.md")], "no header among the first"),
        ([str(FIXTURES / "ufd_march.csv"), "--member", "m-9"], "m-9"),
    ],
)
def test_import_csv_refusals(community: Community, arguments: list[str], message: str) -> None:
    result = community.cli("import-csv", *arguments, check=False)

    assert result.returncode == 1
    assert message in result.stderr
