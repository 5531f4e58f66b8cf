"""The distributors' CSV exports: every format, its clock-change days, and its bad lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import io
import itertools
from pathlib import Path

import pytest

from ioe_aggregator.distributor.csv_files import CsvFileError, CsvFormat, open_csv, parse_number
from ioe_aggregator.distributor.rows import DistributorRow

from .conftest import MADRID, read_all

FIXTURES = Path(__file__).parent / "fixtures"
A, B = "ES0021000000000001RK", "ES0021000000000002RE"
HOUR = timedelta(hours=1)


def read(name: str) -> tuple[CsvFormat, list[DistributorRow], list[str]]:
    parsed = read_all((FIXTURES / name).read_bytes())
    return parsed.format, parsed.rows, parsed.errors


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def assert_hourly_run(rows: list[DistributorRow], first: datetime, last_end: datetime) -> None:
    """Check the rows are one hour each, back to back, from ``first`` to ``last_end``."""
    assert rows[0].start == first
    assert rows[-1].end == last_end
    for before, after in itertools.pairwise(rows):
        assert after.start == before.end
    assert all(row.end - row.start == HOUR for row in rows)


def test_cnmc_march_day_has_23_hours() -> None:
    csv_format, rows, errors = read("cnmc_march.csv")  # Windows-1252, CRLF

    assert csv_format is CsvFormat.CNMC
    assert errors == []
    assert len(rows) == 23 + 24
    # 30 March starts at 23:00 UTC the day before; its hour 23 ends at midnight of the 31st
    # (22:00 UTC, summer time), and the 31st's hour 24 at midnight of 1 April.
    assert_hourly_run(rows, utc(2025, 3, 29, 23), utc(2025, 3, 31, 22))
    assert rows[22].end == utc(2025, 3, 30, 22)
    assert {row.cups for row in rows} == {A}
    assert rows[0].kwh == {"import_kwh": pytest.approx(0.11)}
    estimated = [row for row in rows if row.quality == "estimated"]
    assert [row.start for row in estimated] == [utc(2025, 3, 30, 3)]  # hour 5: 05:00-06:00 CEST
    assert sum(row.kwh["import_kwh"] for row in rows) == pytest.approx(
        sum(round(0.1 + 0.01 * h, 3) for h in range(1, 24))
        + sum(round(0.1 + 0.01 * h, 3) for h in range(1, 25))
    )


def test_datadis_october_day_says_two_oclock_twice() -> None:
    csv_format, rows, errors = read("datadis_october.csv")

    assert csv_format is CsvFormat.DATADIS
    assert errors == []
    for cups in (A, B):
        own = [row for row in rows if row.cups == cups]
        assert len(own) == 25
        assert_hourly_run(own, utc(2025, 10, 25, 22), utc(2025, 10, 26, 23))
        # "02:00" ends 01:00-02:00 twice: in summer time (at 00:00 UTC), then in winter time.
        assert own[1].end == utc(2025, 10, 26, 0)
        assert own[2].end == utc(2025, 10, 26, 1)
        assert own[2].quality == "estimated"
        noon = next(row for row in own if row.start == utc(2025, 10, 26, 10))  # 11-12 CET
        assert noon.kwh == {
            "import_kwh": pytest.approx(0.22),
            "export_kwh": pytest.approx(0.1),
            "generation_kwh": pytest.approx(0.5),
            "self_consumption_kwh": pytest.approx(0.4),
        }


def test_edistribucion_october_day_runs_to_hour_25() -> None:
    csv_format, rows, errors = read("edistribucion_october.csv")

    assert csv_format is CsvFormat.EDISTRIBUCION
    assert errors == []
    assert len(rows) == 25 + 24
    assert_hourly_run(rows, utc(2025, 10, 25, 22), utc(2025, 10, 27, 23))
    assert rows[24].end == utc(2025, 10, 26, 23)  # hour 25 ends at midnight CET
    assert rows[24].kwh["import_kwh"] == pytest.approx(0.35)
    surplus = sum(row.kwh["export_kwh"] for row in rows)
    assert surplus == pytest.approx(0.6)
    assert sum(row.kwh["self_consumption_kwh"] for row in rows) == pytest.approx(0.3)


def test_ide_values_in_wh_and_the_season_flag() -> None:
    csv_format, rows, errors = read("ide_october.csv")

    assert csv_format is CsvFormat.IDE
    assert errors == []
    assert len(rows) == 25
    assert_hourly_run(rows, utc(2025, 10, 25, 22), utc(2025, 10, 26, 23))
    assert [row.kwh["import_kwh"] for row in rows[:3]] == pytest.approx([0.1, 0.101, 0.102])
    assert sum(row.kwh["export_kwh"] for row in rows) == pytest.approx(5 * 0.25)
    assert all(row.quality == "measured" for row in rows)


def test_ide_season_flags_decide_which_two_oclock_is_which() -> None:
    text = (FIXTURES / "ide_october.csv").read_text()
    swapped = text.replace("02:00;1;P3;101", "02:00;X;P3;101").replace(
        "02:00;0;P3;102", "02:00;1;P3;102"
    )
    swapped = swapped.replace("02:00;X;P3;101", "02:00;0;P3;101")

    rows = read_all(swapped.encode()).rows

    # The winter 02:00 (101 Wh) now comes first in the file and still lands on its own hour.
    by_end = {row.end: row.kwh["import_kwh"] for row in rows}
    assert by_end[utc(2025, 10, 26, 1)] == pytest.approx(0.101)
    assert by_end[utc(2025, 10, 26, 0)] == pytest.approx(0.102)


def test_ufd_march_day_skips_three_oclock() -> None:
    csv_format, rows, errors = read("ufd_march.csv")

    assert csv_format is CsvFormat.UFD
    assert errors == []
    march, april = rows[:23], rows[23:]
    assert_hourly_run(march, utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))
    assert_hourly_run(april, utc(2025, 3, 31, 22), utc(2025, 4, 1, 22))
    # "04:00" is the hour after 02:00 CET: 01:00-02:00 UTC.
    assert march[2].start == utc(2025, 3, 30, 1)
    assert sum(row.kwh["export_kwh"] for row in april) == pytest.approx(1.2)


def test_every_bad_line_is_named_and_the_good_ones_are_read() -> None:
    csv_format, rows, errors = read("broken.csv")

    assert csv_format is CsvFormat.EDISTRIBUCION
    assert [(row.start, row.kwh["import_kwh"], row.quality) for row in rows] == [
        (utc(2025, 6, 1, 22), pytest.approx(0.25), "measured"),
        (utc(2025, 6, 2, 7), pytest.approx(0.25), "estimated"),
    ]
    assert errors == [
        "line 3: expected 7 fields separated by ';', got 6",
        "line 4: 'abc' is not a number",
        "line 5: '-0,100' is not an energy (a number of at least 0)",
        "line 6: '31/06/2025' is not a day of the calendar",
        "line 7: '26' is past the end of 2025-06-02",
        "line 8: 'X' is not a way of obtaining a value (expected R/E or Real/Estimada)",
        "line 9: 'NOT-A-CUPS' is not a CUPS",
        "line 11: no energy value on the line",
        f"line 13: {A} on 2025-06-03: 01:00 appears twice on 2025-06-03 (lines 13, 14, 15)",
        "line 14: not read: its day 2025-06-03 could not be placed",
        "line 15: not read: its day 2025-06-03 could not be placed",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("fecha,hora,kwh\n01/01/2025,1,0.5\n", "is not one of the distributors' formats"),
    ],
)
def test_a_file_of_no_known_format_is_refused(text: str, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        open_csv(io.BytesIO(text.encode()), MADRID)


def test_numbers() -> None:
    assert parse_number("1.234,5") == pytest.approx(1234.5)
    assert parse_number("0,250") == pytest.approx(0.25)
    assert parse_number("0.250") == pytest.approx(0.25)
    assert parse_number(" ") is None
    for bad in ("nan", "inf", "-1", "1,2,3"):
        with pytest.raises(ValueError, match="is not"):
            parse_number(bad)


def test_quarter_hour_rows() -> None:
    header = "CUPS;Fecha;Hora;consumo_kWh;metodoObtencion;energiaVertida_kWh;"
    header += "energiaGenerada_kWh;energiaAutoconsumida_kWh\n"
    lines = [
        f"{A};2025/06/02;{minutes // 60:02d}:{minutes % 60:02d};0,05;Real;;;"
        for minutes in range(15, 24 * 60 + 1, 15)
    ]

    rows = read_all((header + "\n".join(lines)).encode()).rows

    assert len(rows) == 96
    assert rows[0].start == utc(2025, 6, 1, 22)
    assert rows[0].end == utc(2025, 6, 1, 22, 15)
    assert rows[-1].end == utc(2025, 6, 2, 22)
    assert rows[0].kwh == {"import_kwh": pytest.approx(0.05)}  # empty columns: no value
