"""The distributors' CSV exports: every format, its clock-change days, and its bad lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import io
import itertools
from pathlib import Path

import pytest

from ioe_aggregator.distributor.csv_files import open_csv, parse_number
from ioe_aggregator.distributor.layouts import CsvFormat
from ioe_aggregator.distributor.rows import DistributorRow
from ioe_aggregator.refusals import Refused

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


def test_datadis_october_day_as_datadis_labels_it() -> None:
    # The same day as Datadis writes it: "01:00, 02:00, 03:00, 03:00, 04:00 …" (the hour that
    # ends as the clock goes back is "03:00" on the old clock).
    text = (FIXTURES / "datadis_october.csv").read_text()
    text = text.replace(";2025/10/26;02:00;0,120;", ";2025/10/26;03:00;0,120;")

    parsed = read_all(text.encode())

    assert parsed.errors == []
    for cups in (A, B):
        assert_hourly_run(
            [row for row in parsed.rows if row.cups == cups],
            utc(2025, 10, 25, 22),
            utc(2025, 10, 26, 23),
        )
    own = [row for row in parsed.rows if row.cups == A]
    assert [row.kwh["import_kwh"] for row in own[1:4]] == pytest.approx([0.11, 0.12, 0.13])
    assert own[2].end == utc(2025, 10, 26, 1)


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
        ("fecha,hora,kwh\n01/01/2025,1,0.5\n", r"no header among the first 2 lines .*';'"),
        (
            "CUPS;Fecha;Hora;Consumo;Potencia_kW\n",
            r"line 1: .*the columns 'Potencia_kW' are unknown",
        ),
        ("CUPS;Fecha;Consumo\n", "no column holds the date and the hour"),
        ("CUPS;Fecha;Hora;Metodo_obtencion\n", r"no column holds an energy"),
        ("CUPS;Fecha;Hora;AE_kWh;Consumo_kWh\n", "two columns hold import_kwh"),
        ("CUPS;FECHA-HORA;Fecha;Hora;AE_kWh\n", "the date and hour together, or apart"),
        ("Fecha (kWh);CUPS;Hora;AE\n", r"the columns 'Fecha \(kWh\)' are unknown"),
        ("Informe\n" * 25 + "CUPS;Fecha;Hora;AE_kWh\n", "no header among the first 20 lines"),
    ],
)
def test_a_file_of_no_known_format_is_refused(text: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
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


# What the field sends (fixtures/README.md names each one's source).


def test_ufd_web_export_with_a_bom_and_hour_numbers() -> None:
    october = read("ufd_web_october.csv")  # UTF-8 with BOM, LF; "Consumo" has no unit
    march = read("ufd_web_march.csv")

    assert october[0] is CsvFormat.CNMC
    assert october[2] == march[2] == []
    assert len(october[1]) == 25 + 24
    assert_hourly_run(october[1], utc(2025, 10, 25, 22), utc(2025, 10, 27, 23))
    assert october[1][0].kwh == {"import_kwh": pytest.approx(0.21)}  # kWh
    assert [row.start for row in october[1] if row.quality == "estimated"] == [utc(2025, 10, 26, 0)]
    assert len(march[1]) == 23
    assert_hourly_run(march[1], utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))


def test_ide_not_yet_billed_export_labels_hours_by_their_start() -> None:
    csv_format, rows, errors = read("ide_not_billed_october.csv")

    assert csv_format is CsvFormat.IDE
    assert errors == []
    assert len(rows) == 25 + 24
    # "2025/10/26 00:00" is the hour from midnight: 22:00-23:00 UTC the day before.
    assert_hourly_run(rows, utc(2025, 10, 25, 22), utc(2025, 10, 27, 23))
    # The two "02:00" are told apart by INV / VER: summer (1) first, then winter (0).
    assert [row.kwh["import_kwh"] for row in rows[2:5]] == pytest.approx([0.102, 0.103, 0.104])
    assert rows[2].start == utc(2025, 10, 26, 0)
    assert rows[3].start == utc(2025, 10, 26, 1)
    # "23:00" is the day's last hour, and "GENERACION Wh" its surplus, in Wh.
    assert rows[-1].start == utc(2025, 10, 27, 22)
    assert sum(row.kwh["export_kwh"] for row in rows) == pytest.approx(
        sum(50 + h for h in range(10, 17)) / 1000
    )


def test_ide_not_yet_billed_march_day() -> None:
    _, rows, errors = read("ide_not_billed_march.csv")

    assert errors == []
    assert len(rows) == 23
    assert_hourly_run(rows, utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))
    assert rows[2].start == utc(2025, 3, 30, 1)  # "03:00" summer time, after the jump


def test_ide_hour_starting_days_with_the_flags_in_another_order() -> None:
    text = (FIXTURES / "ide_not_billed_october.csv").read_text()
    lines = text.splitlines()
    lines[3], lines[4] = lines[4], lines[3]  # the winter "02:00" first

    rows = read_all("\n".join(lines).encode()).rows

    by_start = {row.start: row.kwh["import_kwh"] for row in rows}
    assert by_start[utc(2025, 10, 26, 0)] == pytest.approx(0.102)
    assert by_start[utc(2025, 10, 26, 1)] == pytest.approx(0.103)


@pytest.mark.parametrize(
    ("name", "csv_format", "first"),
    [
        # "Consumo (kWh)" and "Método obtención", in Windows-1252 with CRLF.
        ("variant_units_and_accents.csv", CsvFormat.CNMC, {"import_kwh": 0.21}),
        # "AS_KWh", and no self-consumption or quality column.
        ("variant_without_quality.csv", CsvFormat.EDISTRIBUCION, {"import_kwh": 0.21}),
        ("variant_quoted.csv", CsvFormat.EDISTRIBUCION, {"import_kwh": 0.21}),
        ("variant_empty_quality.csv", CsvFormat.EDISTRIBUCION, {"import_kwh": 0.21}),
        ("variant_preamble.csv", CsvFormat.CNMC, {"import_kwh": 0.21}),
    ],
)
def test_header_variants_of_the_field(
    name: str, csv_format: CsvFormat, first: dict[str, float]
) -> None:
    read_format, rows, errors = read(name)

    assert read_format is csv_format
    assert errors == []
    assert len(rows) == 24
    assert_hourly_run(rows, utc(2025, 6, 1, 22), utc(2025, 6, 2, 22))
    assert {k: v for k, v in rows[0].kwh.items() if v} == pytest.approx(first)
    assert all(row.quality == "measured" for row in rows)


def test_an_export_column_reads_where_the_other_is_zero() -> None:
    rows = read("variant_without_quality.csv")[1]

    assert sum(row.kwh["export_kwh"] for row in rows) == pytest.approx(10 * 0.3)
    assert rows[0].kwh["export_kwh"] == 0
