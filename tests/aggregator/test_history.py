"""Both sources of the history: reconciled per member and month, exported for the comparison."""

from __future__ import annotations

from datetime import UTC, date, datetime
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from ioe_aggregator.distributor.importer import import_csv
from ioe_aggregator.history.hourly import Period, consumption, generation
from ioe_aggregator.history.reconciliation import reconcile
from ioe_aggregator.sharing.files import read_consumption, read_members
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch

from .conftest import Community, make_cups, register_members

MADRID = ZoneInfo("Europe/Madrid")
EDISTRIBUCION = Path(__file__).parent / "distributor" / "fixtures" / "edistribucion_october.csv"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def two_sources(store: Store) -> None:
    """m-1: its meter for 10-12 UTC on 26 Oct 2025 (the last hour half), its distributor's file.

    m-2 meters the plant. By the file (hour-ending, 25-hour day), 10-11 UTC is hour 13 (0.23
    kWh) and 11-12 UTC hour 14 (0.24 kWh).
    """
    members = await register_members(store, {"m-1": make_cups(1), "m-2": make_cups(2)})
    await store.store_batches(
        [
            quarter_batch("m-1", "grid", "import_kwh", utc(2025, 10, 26, 10), [0.25] * 8),
            quarter_batch("m-1", "grid", "import_kwh", utc(2025, 10, 26, 12), [0.25] * 2),
            quarter_batch("m-2", "plant", "generation_kwh", utc(2025, 10, 26, 10), [0.5] * 4),
        ]
    )
    with EDISTRIBUCION.open("rb") as file:
        await import_csv(store, file, members, MADRID, origin="test")


async def test_reconciliation_compares_the_hours_both_measured(store: Store) -> None:
    await two_sources(store)

    months = await reconcile(store, date(2025, 10, 1), date(2025, 10, 1), MADRID)

    assert [m.as_dict() for m in months] == [
        {
            "member": "m-1",
            "month": "2025-10",
            "hours_member": 2,  # 12-13 UTC has two quarters only
            "hours_distributor": 49,
            "hours_both": 2,
            "member_kwh": 2.0,
            "distributor_kwh": 0.47,
            "difference_kwh": 1.53,
            "difference": pytest.approx(3.2553, abs=1e-4),
            "flagged": True,
        }
    ]


async def test_consumption_takes_each_period_from_the_chosen_source(store: Store) -> None:
    await two_sources(store)
    start, end = utc(2025, 10, 25, 22), utc(2025, 10, 27, 23)

    table = await consumption(
        store,
        ["m-1", "m-2"],
        start,
        end,
        distributor_periods=[Period(date(2025, 10, 27), date(2025, 10, 27))],
        zone=MADRID,
    )
    plant = await generation(store, {"m-2"}, start, end)
    assert (await generation(store, set(), start, end)).isna().all()  # a plant nobody registered

    m1 = table["m-1"]
    assert m1[utc(2025, 10, 26, 10)] == pytest.approx(1.0)  # the 26th: its meter
    assert pd.isna(m1[utc(2025, 10, 26, 12)])  # incomplete hour: left empty
    assert pd.isna(m1[utc(2025, 10, 26, 13)])
    # The 27th: the distributor's import plus the allocated energy used at once (13-14 CET is
    # hour 14: 0.24 + 0.1).
    assert m1[utc(2025, 10, 27, 12)] == pytest.approx(0.34)
    assert m1[utc(2025, 10, 27, 22)] == pytest.approx(0.34)  # hour 24
    assert int(m1.notna().sum()) == 2 + 24
    assert table["m-2"].isna().all()
    assert plant[utc(2025, 10, 26, 10)] == pytest.approx(2.0)
    assert int(plant.notna().sum()) == 1


def test_history_commands(community: Community, tmp_path: Path) -> None:
    community.add_member("m-1", 1)
    community.cli("import-csv", str(EDISTRIBUCION))

    reconciled = community.cli("history", "reconcile", "--from", "2025-10", "--to", "2025-10")
    exported = community.cli(
        "history",
        "export",
        "--from",
        "2025-10-26",
        "--to",
        "2025-10-27",
        "--distributor-for",
        "2025-10-26/2025-10-27",
        "--out",
        str(tmp_path / "inputs"),
        "--json",
    )

    assert "m-1" in reconciled.stdout
    assert "49" in reconciled.stdout
    assert json.loads(exported.stdout)["consumption_hours"] == 49
    members = read_members(tmp_path / "inputs" / "members.csv")
    table = read_consumption(tmp_path / "inputs" / "consumption.csv", members)
    assert [m.member_id for m in members] == ["m-1"]
    assert table["m-1"].sum() == pytest.approx(
        sum(0.1 + 0.01 * h for h in range(1, 26))
        + sum(0.1 + 0.01 * h + (0.1 if 12 <= h <= 14 else 0.0) for h in range(1, 25))
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["reconcile", "--from", "2025-13", "--to", "2025-10"], "expected a month as YYYY-MM"),
        (
            ["export", "--from", "2025-10-02", "--to", "2025-10-01", "--out", "x"],
            "--to comes before --from",
        ),
        (
            [
                "export",
                "--from",
                "2025-10-01",
                "--to",
                "2025-10-02",
                "--out",
                "x",
                "--distributor-for",
                "2025-10-05/2025-10-01",
            ],
            "the last day comes before the first",
        ),
    ],
)
def test_history_refusals(community: Community, arguments: list[str], message: str) -> None:
    result = community.cli("history", *arguments, check=False)

    assert result.returncode != 0
    assert message in result.stderr
