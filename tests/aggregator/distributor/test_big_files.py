"""Big exports: read from disk a supply point's month at a time, whatever their order."""

from __future__ import annotations

from datetime import UTC, date, datetime
import io
from pathlib import Path
import random

import pytest

from ioe_aggregator.distributor.commands import describe, report
from ioe_aggregator.distributor.csv_files import MAX_ERRORS, MAX_LINE_BYTES, open_csv
from ioe_aggregator.distributor.importer import ImportSummary, import_csv
from ioe_aggregator.distributor.model import SOURCE
from ioe_aggregator.refusals import Refused
from ioe_aggregator.store import Store
from ioe_dev.bench_upload import distributor_csv

from ..conftest import make_cups, register_members
from .conftest import MADRID, read_all

FIXTURES = Path(__file__).parent / "fixtures"
MEMBERS = 5
HOURS_2025 = 8760


async def test_an_unsorted_file_stores_what_the_sorted_one_does(
    store: Store, tmp_path: Path
) -> None:
    points = [make_cups(n) for n in range(1, MEMBERS + 1)]
    members = await register_members(store, {f"m-{n}": p for n, p in enumerate(points, 1)})
    header, *lines = distributor_csv(points, date(2025, 1, 1), 365, step_minutes=60)
    shuffled = list(lines)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a test's order, no secret
    sorted_file, shuffled_file = tmp_path / "sorted.csv", tmp_path / "shuffled.csv"
    sorted_file.write_text(header + "".join(lines))
    shuffled_file.write_text(header + "".join(shuffled))
    assert shuffled_file.stat().st_size > 2_000_000
    assert shuffled[:3] != lines[:3]

    with sorted_file.open("rb") as file:
        sorted_read, first = await import_csv(store, file, members, MADRID, origin="csv:sorted")
    with shuffled_file.open("rb") as file:
        shuffled_read, again = await import_csv(store, file, members, MADRID, origin="csv:x")

    readings = MEMBERS * HOURS_2025 * 4
    assert sorted_read.rows == shuffled_read.rows == MEMBERS * HOURS_2025
    assert sorted_read.errors.total == shuffled_read.errors.total == 0
    assert sum(month.new for month in first.months) == readings
    # The same readings, every one already stored with its value: nothing new, nothing changed.
    assert [(m.new, m.changed) for m in again.months] == [(0, 0)] * MEMBERS * 12
    assert sum(month.unchanged for month in again.months) == readings
    assert [(m.member, m.month, m.intervals, m.estimated) for m in again.months] == [
        (m.member, m.month, m.intervals, m.estimated) for m in first.months
    ]
    for before, after in zip(first.months, again.months, strict=True):
        assert after.kwh == pytest.approx(before.kwh)
    # The October day's 25 hours, each on its own interval.
    october_26 = (datetime(2025, 10, 25, 22, tzinfo=UTC), datetime(2025, 10, 26, 23, tzinfo=UTC))
    stored = await store.readings("m-3", *october_26, source=SOURCE)
    assert len({s.reading.start for s in stored}) == 25
    assert len(stored) == 25 * 4


async def test_a_corrected_file_replaces_what_it_corrects(store: Store) -> None:
    members = await register_members(store, {"m-1": make_cups(1)})
    text = (FIXTURES / "edistribucion_october.csv").read_text()
    corrected = text.replace("26/10/2025;25;0,350", "26/10/2025;25;0,400")

    summaries = []
    for version in (text, corrected, corrected):
        file = io.BytesIO(version.encode())
        summaries.append((await import_csv(store, file, members, MADRID, origin="csv:oct"))[1])

    assert [[(m.new, m.changed, m.unchanged) for m in s.months] for s in summaries] == [
        [(147, 0, 0)],
        [(0, 1, 146)],
        [(0, 0, 147)],
    ]
    october = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC))
    hour_25 = datetime(2025, 10, 26, 22, tzinfo=UTC)
    (stored,) = [
        s
        for s in await store.readings("m-1", *october, source=SOURCE)
        if s.reading.start == hour_25 and s.reading.quantity == "import_kwh"
    ]
    assert (stored.reading.value, stored.changes) == (0.4, 1)


def test_lines_end_with_crlf_lf_or_cr_and_text_is_utf8_or_windows_1252() -> None:
    text = (FIXTURES / "edistribucion_october.csv").read_text(encoding="utf-8")
    expected = read_all(text.encode())
    bad_line = f"{make_cups(1)}-Año;27/10/2025;1;0,1;0;0;R"

    variants = [
        text.replace("\n", "\r\n").encode(),
        text.replace("\n", "\r").encode(),
        ("\ufeff" + text).encode(),
        (text + bad_line).encode("utf-8"),
        (text + bad_line).encode("cp1252"),
    ]

    for data in variants[:3]:
        again = read_all(data)
        assert (again.rows, again.errors) == (expected.rows, [])
    for data in variants[3:]:
        assert read_all(data).errors == [f"line 51: '{make_cups(1)}-Año' is not a CUPS"]


def test_a_crlf_across_two_pieces_of_the_file_ends_one_line() -> None:
    header, *lines = distributor_csv([make_cups(1)], date(2024, 1, 1), 700, step_minutes=60)
    before = header.replace("\n", "\r\n")
    count = 0
    while len(before) + len(lines[count]) + 1 < (1 << 20) - 100:
        before += lines[count].replace("\n", "\r\n")
        count += 1
    # Blank (spaces), its CR the last byte of the first MiB and its LF the first of the next.
    filler = " " * ((1 << 20) - 1 - len(before)) + "\r\n"
    after = "".join(line.replace("\n", "\r\n") for line in lines[count:])

    read = read_all((before + filler + after).encode())

    assert (len(read.rows), read.errors) == (len(lines), [])
    assert read.rows[count].line == count + 3  # header, the lines before, the blank line


def test_the_report_lists_the_first_errors_and_counts_every_one() -> None:
    header, *lines = distributor_csv([make_cups(1)], date(2025, 6, 1), 2, step_minutes=60)
    bad = [f"{make_cups(1)};0{day % 9 + 1}/06/2025;5;abc;Real;;;\n" for day in range(2500)]
    data = (header + lines[0] + "".join(bad) + "".join(lines[1:])).encode()

    parsed = open_csv(io.BytesIO(data), MADRID)
    rows = sum(len(month) for month in parsed.months())
    answer = report("bad.csv", parsed, ImportSummary())
    text = describe("bad.csv", parsed, ImportSummary())

    assert rows == parsed.rows == len(lines)
    assert answer["errors_total"] == 2500
    assert [error["line"] for error in answer["errors"]] == list(range(3, 3 + MAX_ERRORS))
    assert answer["errors"][0]["message"] == "'abc' is not a number"
    assert (answer["errors"][0]["code"], answer["errors"][0]["params"]) == (
        "not_a_number",
        {"text": "abc"},
    )
    assert "48 intervals read, 2500 lines not read" in text
    assert text.endswith(f"… and 2450 more (the first {MAX_ERRORS} with --json)")


def test_a_day_of_more_values_than_intervals_is_refused_without_keeping_them() -> None:
    header, *lines = distributor_csv([make_cups(1)], date(2025, 6, 1), 2, step_minutes=60)
    repeated = [lines[30]] * 300  # 2 June, 07:00, 300 times

    read = read_all((header + "".join(lines[:24]) + "".join(repeated)).encode())

    assert len(read.rows) == 24  # 1 June
    assert read.errors_total == 300
    assert read.errors[0] == (
        f"line 26: {make_cups(1)} on 2025-06-02: 300 values for at most 25 intervals "
        "(lines 26, 27, 28, 29, 30, …)"
    )
    assert read.errors[1] == "line 27: not read: its day 2025-06-02 could not be placed"


def test_a_line_too_long_is_named_and_never_kept() -> None:
    header, *lines = distributor_csv([make_cups(1)], date(2025, 6, 1), 1, step_minutes=60)
    long_line = "x" * (3 * MAX_LINE_BYTES) + "\n"
    longer = "y" * (3 << 20) + "\r\n"  # over several pieces of the file

    read = read_all((header + long_line + longer + "".join(lines)).encode())

    assert len(read.rows) == 24
    assert read.errors == [
        f"line 2: longer than {MAX_LINE_BYTES} bytes",
        f"line 3: longer than {MAX_LINE_BYTES} bytes",
    ]
    with pytest.raises(Refused, match="line 1 is longer than"):
        open_csv(io.BytesIO((long_line + header).encode()), MADRID)
