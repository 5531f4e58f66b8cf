"""``scripts/bench store`` fills its stores by SQL: what it makes is what the service's writes make.

The bench writes two years of 200 members with one statement each and makes the sums with the
store's own migration statements; here a few days of three members filled that way are
compared, table by table, with the same readings stored through ``Store.store_batches``.
"""

from __future__ import annotations

from pathlib import Path

from ioe_aggregator.store import Store, open_store
from ioe_dev.bench_store import FIRST, fill, measures_of, value_of
from ioe_dev.synthetic import quarter_batch

MEMBERS, DAYS = 3, 2
TABLES = {
    "readings": "SELECT source, member, meter, quantity, start_s, end_s, value, quality "
    "FROM readings",
    "hourly_energy": "SELECT source, member, meter, quantity, hour_s, kwh, covered_s "
    "FROM hourly_energy",
    "daily_energy": "SELECT source, member, meter, quantity, day, kwh, covered_s FROM daily_energy",
    "interval_members": "SELECT source, start_s, meter, quantity, members FROM interval_members",
}


async def tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Return every row of the tables compared, sorted, with floats to 9 decimals."""
    found = {}
    async with store.transaction() as tx:
        for name, query in TABLES.items():
            rows = await tx.execute(query)
            found[name] = sorted(
                tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows
            )
    return found


async def test_the_bench_fill_makes_what_the_services_writes_make(
    database_url: str, tmp_path: Path
) -> None:
    bulk = await open_store(database_url)
    written = await open_store(f"sqlite:///{tmp_path / 'written.db'}")
    try:
        filled = await fill(bulk, MEMBERS, DAYS)
        for number in range(1, MEMBERS + 1):
            values = [value_of(n) for n in range(DAYS * 96)]
            await written.store_batches(
                [
                    quarter_batch(f"m-{number:04d}", meter, quantity, FIRST, values)
                    for meter, quantity in measures_of(number)
                ]
            )
        made, expected = await tables(bulk), await tables(written)
    finally:
        await bulk.close()
        await written.close()

    assert filled["readings"] == DAYS * 96 * (4 + 3 + 4)
    assert made["readings"] == expected["readings"]
    assert len(made["readings"]) == filled["readings"]
    assert made == expected
