"""The columns of the distributors' CSV exports, recognised by what they mean.

Each distributor writes its own header, and each changes it now and then (``Consumo``,
``Consumo_kWh``, ``Consumo (kWh)``; ``Metodo_obtencion``, ``Método obtención``, ``METODO OBT.``;
``AS_kWh``, ``AS_KWh``). A header is read column by column: each name, without accents, case,
spaces or punctuation, and with its unit (``kWh``, ``Wh``) set apart, is looked up in
`VOCABULARY`, which says what the column holds. A new variant is a new entry there.

A layout needs the supply point (CUPS), the day and the hour (two columns, or one holding both)
and at least one energy; a season flag (i-DE's ``INV / VER``) and the way a value was obtained
(real or estimated) are read when present. An energy without a unit is in kWh. Columns the
aggregator has no use for but knows (the tariff period, reactive energy, billing) are left aside;
an unknown column refuses the header, naming it, rather than losing a quantity in silence.

Headers of the exports seen in the field (docs/distributor-data.md has them all):

================  ==========================================================================
family            header
================  ==========================================================================
``cnmc``          ``CUPS;Fecha;Hora;Consumo_kWh;Metodo_obtencion`` (UFD: ``Consumo``)
``datadis``       ``CUPS;Fecha;Hora;consumo_kWh;metodoObtencion;energiaVertida_kWh;…``
``edistribucion`` ``CUPS;Fecha;Hora;AE_kWh;AS_KWh;AE_AUTOCONS_kWh;REAL/ESTIMADO``
``ide``           ``CUPS;FECHA-HORA;INV / VER;CONSUMO Wh;GENERACION Wh;``
``ufd``           ``CUPS;FECHA;HORA;EHCR (kWh);EHEX (kWh)``
================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import csv
from dataclasses import dataclass
from enum import StrEnum
import re
import unicodedata

from ioe_aggregator.distributor.model import EXPORT, GENERATION, IMPORT, SELF_CONSUMPTION


class CsvFormat(StrEnum):
    """The family of a distributor's export, as its columns tell it."""

    CNMC = "cnmc"
    DATADIS = "datadis"
    EDISTRIBUCION = "edistribucion"
    IDE = "ide"
    UFD = "ufd"


class Role(StrEnum):
    """What a column holds."""

    CUPS = "cups"
    DATE = "date"
    HOUR = "hour"
    DATE_TIME = "date and hour"
    SEASON = "season"
    QUALITY = "quality"
    ENERGY = "energy"
    # Known, and of no use to the aggregator.
    ASIDE = "aside"


@dataclass(frozen=True, slots=True)
class Meaning:
    """What a column name means: its role, and for an energy its quantity and family."""

    role: Role
    # An energy's quantity ("" for other columns).
    quantity: str = ""
    family: CsvFormat | None = None


def _energy(quantity: str, family: CsvFormat) -> Meaning:
    return Meaning(Role.ENERGY, quantity, family)


# Column names (lower case, no accents, letters and digits only, unit left out) → meaning.
VOCABULARY: Mapping[str, Meaning] = {
    "cups": Meaning(Role.CUPS),
    "fecha": Meaning(Role.DATE),
    "hora": Meaning(Role.HOUR),
    "fechahora": Meaning(Role.DATE_TIME, family=CsvFormat.IDE),
    "invver": Meaning(Role.SEASON),
    "metodoobtencion": Meaning(Role.QUALITY),
    "metodoobt": Meaning(Role.QUALITY),
    "realestimado": Meaning(Role.QUALITY),
    "consumo": _energy(IMPORT, CsvFormat.CNMC),
    "energiavertida": _energy(EXPORT, CsvFormat.DATADIS),
    "energiagenerada": _energy(GENERATION, CsvFormat.DATADIS),
    "energiaautoconsumida": _energy(SELF_CONSUMPTION, CsvFormat.DATADIS),
    "ae": _energy(IMPORT, CsvFormat.EDISTRIBUCION),
    "as": _energy(EXPORT, CsvFormat.EDISTRIBUCION),
    "aeautocons": _energy(SELF_CONSUMPTION, CsvFormat.EDISTRIBUCION),
    "ehcr": _energy(IMPORT, CsvFormat.UFD),
    "ehex": _energy(EXPORT, CsvFormat.UFD),
    # i-DE's "GENERACION" is what the supply point poured into the grid: its surplus.
    "generacion": _energy(EXPORT, CsvFormat.IDE),
    # The tariff period (the time tells it), reactive energy and billing: i-DE's exports.
    "periodotarifario": Meaning(Role.ASIDE),
    "reactq1": Meaning(Role.ASIDE),
    "reactq2": Meaning(Role.ASIDE),
    "reactq3": Meaning(Role.ASIDE),
    "reactq4": Meaning(Role.ASIDE),
    "firmeza": Meaning(Role.ASIDE),
    "numfactura": Meaning(Role.ASIDE),
}
# Wh per unit of an energy column; a column without a unit is in kWh.
UNITS: Mapping[str, float] = {"kwh": 1.0, "wh": 1000.0}
_SINGLE = (Role.CUPS, Role.DATE, Role.HOUR, Role.DATE_TIME, Role.SEASON, Role.QUALITY)


class HeaderError(ValueError):
    """A line is no header of a distributor's export; the message says why."""


@dataclass(frozen=True, slots=True)
class Energy:
    """An energy column: where it is, its quantity, and its Wh per unit."""

    index: int
    quantity: str
    scale: float


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a file's columns are (indices into a line's fields)."""

    family: CsvFormat
    width: int
    cups: int
    # The column of the date, and of the hour: None when the date's column holds both.
    date: int
    hour: int | None
    energies: tuple[Energy, ...]
    season: int | None = None
    quality: int | None = None


def split(line: str) -> list[str]:
    """Return a line's ``;``-separated fields, stripped; fields may be in double quotes."""
    if '"' in line:
        return [field.strip() for field in next(csv.reader([line], delimiter=";"))]
    return [field.strip() for field in line.split(";")]


def column_key(name: str) -> tuple[str, str | None]:
    """Return a column name as `VOCABULARY` spells it, and its unit (or None)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    unit = words.pop() if len(words) > 1 and words[-1] in UNITS else None
    return "".join(words), unit


def read_header(line: str) -> Layout:
    """Return the layout a header line names; raise HeaderError naming what does not fit."""
    names = split(line)
    while names and not names[-1]:
        names.pop()  # a trailing ";"
    places: dict[Role, int] = {}
    energies: list[Energy] = []
    unknown: list[str] = []
    families: list[CsvFormat] = []
    for index, name in enumerate(names):
        key, unit = column_key(name)
        meaning = VOCABULARY.get(key)
        if meaning is None or (unit is not None and meaning.role is not Role.ENERGY):
            unknown.append(name)
            continue
        if meaning.family is not None:
            families.append(meaning.family)
        if meaning.role is Role.ENERGY:
            if any(energy.quantity == meaning.quantity for energy in energies):
                raise HeaderError(f"two columns hold {meaning.quantity} ({name!r} is the second)")
            energies.append(Energy(index, meaning.quantity, UNITS[unit or "kwh"]))
        elif meaning.role in _SINGLE:
            if meaning.role in places:
                raise HeaderError(f"two columns hold the {meaning.role} ({name!r} is the second)")
            places[meaning.role] = index
    missing = _missing(places, energies)
    if unknown or missing:
        raise HeaderError(_unplaced(names, unknown, missing))
    return Layout(
        # The most telling family: a column only one distributor writes, else the CNMC's.
        family=next((f for f in families if f is not CsvFormat.CNMC), CsvFormat.CNMC),
        width=len(names),
        cups=places[Role.CUPS],
        date=places[Role.DATE_TIME] if Role.DATE_TIME in places else places[Role.DATE],
        hour=places.get(Role.HOUR),
        energies=tuple(energies),
        season=places.get(Role.SEASON),
        quality=places.get(Role.QUALITY),
    )


def _missing(places: Mapping[Role, int], energies: Sequence[Energy]) -> list[str]:
    missing = [] if Role.CUPS in places else ["the supply point (CUPS)"]
    if Role.DATE_TIME in places:
        if Role.DATE in places or Role.HOUR in places:
            missing.append("one time: the date and hour together, or apart, not both")
    elif Role.DATE not in places or Role.HOUR not in places:
        missing.append("the date and the hour (Fecha;Hora or FECHA-HORA)")
    if not energies:
        missing.append("an energy (Consumo, AE_kWh, CONSUMO Wh, …)")
    return missing


def _unplaced(names: Sequence[str], unknown: Sequence[str], missing: Sequence[str]) -> str:
    parts = []
    if unknown:
        parts.append(f"the columns {', '.join(repr(name) for name in unknown)} are unknown")
    if missing:
        parts.append(f"no column holds {'; '.join(missing)}")
    return (
        f"the header {';'.join(names)!r} is not a distributor's export: {' and '.join(parts)} "
        "(see the documentation for the layouts read)"
    )
