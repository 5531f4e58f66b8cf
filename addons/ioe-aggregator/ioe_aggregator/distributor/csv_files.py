"""The distributors' CSV exports: recognise the format, read every line, place it in UTC.

Five layouts are known (all ``;``-separated with comma decimals; the header names the format):

================  =========================================================================
format            header
================  =========================================================================
``cnmc``          ``CUPS;Fecha;Hora;Consumo_kWh;Metodo_obtencion`` (classic Datadis, CNMC)
``datadis``       ``CUPS;Fecha;Hora;consumo_kWh;metodoObtencion;energiaVertida_kWh;…``
``edistribucion`` ``CUPS;Fecha;Hora;AE_kWh;AS_kWh;AE_AUTOCONS_kWh;REAL/ESTIMADO``
``ide``           ``CUPS;FECHA-HORA;INV / VER;PERIODO TARIFARIO;CONSUMO Wh;GENERACION Wh``
``ufd``           ``CUPS;FECHA;HORA;EHCR (kWh);EHEX (kWh)``
================  =========================================================================

Times are hour-ending local labels (``timeline``); a day's labels are placed together, so the
October day's hour 25 or repeated 02:00 each keep their own hour. Files come in UTF-8 or in the
Windows code page the distributors' sites write, with CRLF or LF. Every bad line is reported with
its number and reason, and the good lines are still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
import math
import re
from zoneinfo import ZoneInfo

from ioe_aggregator.distributor import (
    ESTIMATED,
    EXPORT,
    GENERATION,
    IMPORT,
    MEASURED,
    SELF_CONSUMPTION,
)
from ioe_aggregator.distributor.rows import DistributorRow, LabelledRow, LineError, label_of, place


class CsvFormat(StrEnum):
    """The distributors' export layouts this module reads."""

    CNMC = "cnmc"
    DATADIS = "datadis"
    EDISTRIBUCION = "edistribucion"
    IDE = "ide"
    UFD = "ufd"


class CsvFileError(ValueError):
    """The file as a whole cannot be read: empty, not text, or a header of no known format."""


@dataclass(frozen=True, slots=True)
class CsvFile:
    """What a file held: its format, the intervals read and the lines that were not."""

    format: CsvFormat
    rows: list[DistributorRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Layout:
    """How one format's columns become a row: time, values and quality."""

    columns: tuple[str, ...]
    # Column → quantity, for the energy columns.
    values: Mapping[str, str]
    # Wh per unit of the energy columns (1 for kWh columns).
    scale: float = 1.0
    quality: str | None = None
    # The date and the time label in one column ("dd/mm/yyyy HH:MM"), with a summer flag column.
    date_time: str | None = None
    summer: str | None = None


_LAYOUTS: Mapping[CsvFormat, _Layout] = {
    CsvFormat.CNMC: _Layout(
        columns=("cups", "fecha", "hora", "consumo_kwh", "metodo_obtencion"),
        values={"consumo_kwh": IMPORT},
        quality="metodo_obtencion",
    ),
    CsvFormat.DATADIS: _Layout(
        columns=(
            "cups",
            "fecha",
            "hora",
            "consumo_kwh",
            "metodoobtencion",
            "energiavertida_kwh",
            "energiagenerada_kwh",
            "energiaautoconsumida_kwh",
        ),
        values={
            "consumo_kwh": IMPORT,
            "energiavertida_kwh": EXPORT,
            "energiagenerada_kwh": GENERATION,
            "energiaautoconsumida_kwh": SELF_CONSUMPTION,
        },
        quality="metodoobtencion",
    ),
    CsvFormat.EDISTRIBUCION: _Layout(
        columns=("cups", "fecha", "hora", "ae_kwh", "as_kwh", "ae_autocons_kwh", "real/estimado"),
        values={"ae_kwh": IMPORT, "as_kwh": EXPORT, "ae_autocons_kwh": SELF_CONSUMPTION},
        quality="real/estimado",
    ),
    CsvFormat.IDE: _Layout(
        columns=("cups", "fecha-hora", "inv/ver", "periodotarifario", "consumowh", "generacionwh"),
        # i-DE's "GENERACION" is what the supply point poured into the grid: its surplus.
        values={"consumowh": IMPORT, "generacionwh": EXPORT},
        scale=1000.0,
        date_time="fecha-hora",
        summer="inv/ver",
    ),
    CsvFormat.UFD: _Layout(
        columns=("cups", "fecha", "hora", "ehcr(kwh)", "ehex(kwh)"),
        values={"ehcr(kwh)": IMPORT, "ehex(kwh)": EXPORT},
    ),
}

_QUALITY = {
    "r": MEASURED,
    "real": MEASURED,
    "e": ESTIMATED,
    "estimada": ESTIMATED,
    "estimado": ESTIMATED,
}
_DAY_FIRST = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})")
_YEAR_FIRST = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})")


def _column(name: str) -> str:
    """Return a header name as the layouts spell it: lower case, no spaces."""
    return re.sub(r"\s+", "", name).lower()


def decode(data: bytes) -> str:
    """Return a file's text: UTF-8 (with or without a byte-order mark), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def detect(header: str) -> CsvFormat:
    """Return the format a header line names; raise CsvFileError for an unknown one."""
    columns = tuple(_column(name) for name in header.split(";"))
    while columns and not columns[-1]:
        columns = columns[:-1]  # a trailing ";"
    for csv_format, layout in _LAYOUTS.items():
        if columns == layout.columns:
            return csv_format
    raise CsvFileError(
        f"the header {header.strip()!r} is not one of the distributors' formats "
        f"({', '.join(f.value for f in CsvFormat)}; see the documentation)"
    )


def parse_date(text: str) -> date:
    """Return a date written dd/mm/yyyy or yyyy/mm/dd (``-`` also accepted)."""
    text = text.strip()
    if match := _DAY_FIRST.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := _YEAR_FIRST.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise ValueError(f"{text!r} is not a date (expected dd/mm/yyyy or yyyy/mm/dd)")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the calendar") from None


def parse_number(text: str) -> float | None:
    """Return a decimal written with a comma (or a point); None for an empty field.

    A point before a comma is a thousands separator ("1.234,5"). Negative and non-finite
    values are refused: distributors publish energies, which are never negative.
    """
    text = text.strip()
    if not text:
        return None
    plain = text.replace(".", "").replace(",", ".") if "," in text else text
    try:
        value = float(plain)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not an energy (a number of at least 0)")
    return value


def parse_quality(text: str) -> str:
    """Return ``measured`` or ``estimated`` for the distributors' R/E, Real/Estimada spellings."""
    try:
        return _QUALITY[text.strip().lower()]
    except KeyError:
        raise ValueError(
            f"{text!r} is not a way of obtaining a value (expected R/E or Real/Estimada)"
        ) from None


def read_csv(text: str, zone: ZoneInfo) -> CsvFile:
    """Read a distributor's export; return its intervals in UTC and the lines not read.

    Raises CsvFileError when the file has no header of a known format.
    """
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise CsvFileError("the file is empty")
    csv_format = detect(lines[header_index])
    layout = _LAYOUTS[csv_format]
    labelled: list[LabelledRow] = []
    errors: list[LineError] = []
    for number, line in enumerate(lines[header_index + 1 :], start=header_index + 2):
        if not line.strip():
            continue
        try:
            labelled.append(_read_line(line, number, layout, zone))
        except ValueError as err:
            errors.append(LineError(number, str(err)))
    rows, unplaced = place(labelled, zone)
    errors.extend(unplaced)
    errors.sort(key=lambda error: error.line)
    return CsvFile(format=csv_format, rows=rows, errors=errors)


def _read_line(line: str, number: int, layout: _Layout, zone: ZoneInfo) -> LabelledRow:
    fields = [value.strip() for value in line.split(";")]
    while len(fields) > len(layout.columns) and not fields[-1]:
        fields.pop()  # a trailing ";"
    if len(fields) != len(layout.columns):
        raise ValueError(
            f"expected {len(layout.columns)} fields separated by ';', got {len(fields)}"
        )
    row = dict(zip(layout.columns, fields, strict=True))
    cups = row["cups"].replace(" ", "").upper()
    if not re.fullmatch(r"ES[0-9A-Z]{18}([0-9A-Z]{2})?", cups):
        raise ValueError(f"{row['cups']!r} is not a CUPS")
    if layout.date_time:
        day_text, _, label_text = row[layout.date_time].partition(" ")
    else:
        day_text, label_text = row["fecha"], row["hora"]
    day = parse_date(day_text)
    label = label_of(label_text, day, zone)
    summer = _summer_flag(row[layout.summer]) if layout.summer else None
    kwh: dict[str, float] = {}
    for column, quantity in layout.values.items():
        value = parse_number(row[column])
        if value is not None:
            kwh[quantity] = value / layout.scale
    if not kwh:
        raise ValueError("no energy value on the line")
    quality = parse_quality(row[layout.quality]) if layout.quality else MEASURED
    return LabelledRow(number, cups, day, label, summer, kwh, quality)


def _summer_flag(text: str) -> bool:
    flags: Mapping[str, bool] = {"1": True, "ver": True, "0": False, "inv": False}
    try:
        return flags[text.strip().lower()]
    except KeyError:
        raise ValueError(f"{text!r} is not a season flag (expected 1 summer or 0 winter)") from None
