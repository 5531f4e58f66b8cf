"""Where each hour of a member's results comes from: its meter, its distributor, or nowhere.

Its own meter where it measured the hour whole, else its distributor, else the hour is unknown
(never a zero). On SQLite and on a real PostgreSQL server.

One day, 24 November 2026 (NOW is 12:20 in Madrid), under an agreement giving m-1, m-2 and
m-3 β = 0.5, 0.3 and 0.2. The plant, at m-3's, makes 2 kWh from 9 to 10 UTC and 4 kWh from 10
to 11 UTC, nothing before. Figures are worked out by hand with DOMAIN.md's rules: A = β·G,
S = min(A, C), I = max(C − A, 0), X = max(A − C, 0), hour by hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
import json
from typing import Any

from ioe_aggregator.agreements import Agreements, shares_from_coefficients
from ioe_aggregator.distributor.model import IMPORT, METER, SELF_CONSUMPTION, SOURCE
from ioe_aggregator.protocol.codec import Reading, ReadingsBatch, checked
from ioe_aggregator.results.engine import ResultsEngine, Snapshot
from ioe_aggregator.store import Store
from ioe_dev.synthetic import quarter_batch

from .conftest import config, registry_with_members

NOW = datetime(2026, 11, 24, 11, 20, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hour: int) -> datetime:
    """Return an hour of the 24th (UTC)."""
    return datetime(2026, 11, 24, hour, tzinfo=UTC)


async def store_distributor_hours(
    store: Store, member: str, quantity: str, hours: dict[int, float]
) -> None:
    """Store the distributor's hourly values of ``quantity`` (hour of the 24th UTC → kWh)."""
    readings = tuple(
        Reading(
            meter=METER,
            quantity=quantity,
            start=at(hour),
            end=at(hour) + HOUR,
            value=kwh,
            quality="measured",
        )
        for hour, kwh in hours.items()
    )
    batch_id = f"datadis-{member}-{quantity}"
    batch = ReadingsBatch(member=member, batch=batch_id, sent_at=NOW, readings=readings, live=None)
    await store.store_batch(batch, source=SOURCE)


async def compute(store: Store, own: Sequence[ReadingsBatch]) -> Snapshot:
    """Store the plant's day and ``own`` readings, and compute the results at NOW with prices.

    Prices: 0.20 €/kWh imported, 0.05 €/kWh of surplus.
    """
    settings = config(import_price_eur_kwh="0.2", surplus_price_eur_kwh="0.05")
    registry = await registry_with_members(store, settings)
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    shares = shares_from_coefficients(
        {"m-1": 0.5, "m-2": 0.3, "m-3": 0.2}, await registry.members()
    )
    await agreements.add("Reparto", shares, valid_from=date(2026, 11, 1), actor="test")
    plant = [
        quarter_batch("m-3", "plant", "generation_kwh", at(9), [0.5] * 4),
        quarter_batch("m-3", "plant", "generation_kwh", at(10), [1.0] * 4),
    ]
    await store.store_batches([*plant, *own])
    engine = ResultsEngine(store, registry, agreements, settings.results)
    snapshot = await engine.compute(NOW)
    for message in snapshot.results.values():
        json.dumps(checked(message), allow_nan=False)  # no NaN reaches a member
    json.dumps(checked(snapshot.state), allow_nan=False)
    return snapshot


def energies(allocated: float, self_consumed: float, surplus: float, imported: float) -> Any:
    return {
        "allocated_kwh": allocated,
        "self_consumed_kwh": self_consumed,
        "surplus_kwh": surplus,
        "import_kwh": imported,
    }


async def test_a_member_without_readings_gets_its_figures_from_the_distributor(
    store: Store,
) -> None:
    # m-1 sent nothing; its distributor has 9 h (1.0 from the grid) and 10 h (0.2 from the
    # grid after the allocation, 0.8 of the allocation used at once): C = 1.0 both hours.
    await store_distributor_hours(store, "m-1", IMPORT, {9: 1.0, 10: 0.2})
    await store_distributor_hours(store, "m-1", SELF_CONSUMPTION, {10: 0.8})

    snapshot = await compute(store, [])

    mine = checked(snapshot.results["m-1"])
    # 9 h: A = 1.0, S = 1.0. 10 h: A = 2.0, S = 1.0, X = 1.0.
    assert mine["today"] == energies(3.0, 2.0, 1.0, 0.0)
    # Without the community 2 kWh × 0.20; nothing imported, so no compensation for the surplus.
    assert mine["month"] == {**energies(3.0, 2.0, 1.0, 0.0), "savings_eur": 0.4}
    assert mine["kpis"] == {"self_sufficiency": 1.0, "self_consumption": round(2 / 3, 4)}
    assert snapshot.state.today.consumption_kwh == 2.0


async def test_own_complete_hours_first_then_the_distributors_never_both(store: Store) -> None:
    # m-2's meter: 8 h only half (0.2 kWh), 10 h whole (2.0 kWh). Its distributor: 8 h 0.6,
    # 9 h 0.7, 10 h 1.5 + 0.3 allocated and used (1.8, not the meter's 2.0).
    own = [
        quarter_batch("m-2", "grid", "import_kwh", at(8), [0.1] * 2),
        quarter_batch("m-2", "grid", "import_kwh", at(10), [0.5] * 4),
    ]
    await store_distributor_hours(store, "m-2", IMPORT, {8: 0.6, 9: 0.7, 10: 1.5})
    await store_distributor_hours(store, "m-2", SELF_CONSUMPTION, {10: 0.3})

    snapshot = await compute(store, own)

    mine = checked(snapshot.results["m-2"])
    # C = 0.6 (distributor), 0.7 (distributor), 2.0 (meter); A = 0, 0.6, 1.2: all of it used;
    # imported 0.6 + 0.1 + 0.8.
    assert mine["today"] == energies(1.8, 1.8, 0.0, 1.5)
    assert mine["kpis"]["self_sufficiency"] == round(1.8 / 3.3, 4)
    # Without the community 3.3 kWh × 0.20, with it 1.5 × 0.20.
    assert mine["month"]["savings_eur"] == 0.36
    assert snapshot.state.today.consumption_kwh == 3.3


async def test_an_hour_nobody_measured_is_unknown_not_a_surplus(store: Store) -> None:
    # m-1's meter has 10 h whole (1.0 kWh) and nothing of 9 h, which no distributor has either.
    own = [quarter_batch("m-1", "grid", "import_kwh", at(10), [0.25] * 4)]

    snapshot = await compute(store, own)

    mine = checked(snapshot.results["m-1"])
    # Only 10 h counts: A = 2.0, S = 1.0, X = 1.0. The 1.0 kWh allocated at 9 h is not judged.
    assert mine["today"] == energies(2.0, 1.0, 1.0, 0.0)
    assert mine["kpis"] == {"self_sufficiency": 1.0, "self_consumption": 0.5}
    assert checked(snapshot.state)["today"] == {
        "generation_kwh": 6.0,
        "consumption_kwh": 1.0,
        "self_consumed_kwh": 1.0,
    }


async def test_without_any_consumption_the_savings_are_unknown(store: Store) -> None:
    # m-1's meter has its 10 h; m-2 and m-3 have nothing counted this month.
    own = [quarter_batch("m-1", "grid", "import_kwh", at(10), [0.25] * 4)]

    snapshot = await compute(store, own)

    assert snapshot.results["m-1"].month.savings_eur == 0.2  # 1 kWh not bought at 0.20
    for member in ("m-2", "m-3"):
        result = checked(snapshot.results[member])
        assert result["month"] == {**energies(0.0, 0.0, 0.0, 0.0), "savings_eur": None}
        assert result["kpis"] == {"self_sufficiency": None, "self_consumption": None}
