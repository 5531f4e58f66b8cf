"""An emoncms feed as the migration sees it, and what its unit and name suggest it measures.

emoncms keeps a feed's name, tag and unit in its database, and its data in an engine's files
(PHPFina: fixed interval; PHPTimeSeries: variable). Its ``feed/list.json`` gives every field as
a string in its usual (Redis) mode, ``time``/``value`` as numbers or null, and ``unit`` only on
servers from 2019 on, empty unless the user set it. Energy feeds are named ``…_kwh`` by the
OpenEnergyMonitor conventions (``use_kwh``, ``solar_kwh``, ``import_kwh``: cumulative
counters), power feeds by what they measure (``use``, ``solar``, ``import``; ``P1`` …), and the
emonPi2's counters ``E1`` ….
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import math
import re
from typing import Any, Final

from ioe_aggregator.protocol.codec import (
    BATTERY_CHARGE,
    BATTERY_DISCHARGE,
    COMMUNITY_PLANT,
    EV_CHARGING,
    HOME_CONSUMPTION,
    ROOFTOP_PV,
    SUPPLY_EXPORT,
    SUPPLY_IMPORT,
    Measure,
)
from ioe_aggregator.protocol.messages import utc_text


class Kind(StrEnum):
    """How a feed's values become energy."""

    POWER_W = "power_w"
    POWER_KW = "power_kw"
    # Cumulative counters: a quarter's energy is the difference of its ends.
    ENERGY_KWH = "energy_kwh"
    ENERGY_WH = "energy_wh"

    @property
    def cumulative(self) -> bool:
        """Whether the feed is a counter (else a power)."""
        return self in (Kind.ENERGY_KWH, Kind.ENERGY_WH)

    @property
    def to_kwh(self) -> float:
        """The factor from the feed's unit to kWh (power: to kW)."""
        return 0.001 if self in (Kind.POWER_W, Kind.ENERGY_WH) else 1.0


# What a feed may be imported as: the protocol's measures, by the names the API uses.
MEASURES: Final[Mapping[str, Measure]] = {
    "import": SUPPLY_IMPORT,
    "export": SUPPLY_EXPORT,
    "consumption": HOME_CONSUMPTION,
    "rooftop_pv": ROOFTOP_PV,
    "plant": COMMUNITY_PLANT,
    "ev": EV_CHARGING,
    "battery_charge": BATTERY_CHARGE,
    "battery_discharge": BATTERY_DISCHARGE,
}

# emoncms' engine numbers (its Lib/enum.php), by the names the API gives.
ENGINES: Final[Mapping[int, str]] = {2: "phptimeseries", 5: "phpfina", 0: "mysql", 7: "virtual"}

_ENERGY_NAME = re.compile(r"kwh|^e\d+$", re.IGNORECASE)
_POWER_NAME = re.compile(r"^(use|solar|import|export|power|p\d+)(_|$)", re.IGNORECASE)
# A name's words (Spanish and English) → measure; the first that matches wins.
_MEASURE_WORDS: Final = (
    (re.compile(r"export|excedent|vertid|surplus", re.IGNORECASE), "export"),
    (re.compile(r"import|grid|\bred\b|compra", re.IGNORECASE), "import"),
    (re.compile(r"solar|pv|fv|generac|produc", re.IGNORECASE), "rooftop_pv"),
    (re.compile(r"\bev\b|\bcar\b|coche|(?<!dis)charg|(?<!des)carga|wallbox", re.IGNORECASE), "ev"),
    (re.compile(r"use|consum|load|casa|home", re.IGNORECASE), "consumption"),
)


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """What a feed's unit and name suggest: how to read it, and (if any fits) what it measures."""

    kind: Kind
    measure: str | None

    def as_dict(self) -> dict[str, Any]:
        """Return the suggestion as the API gives it."""
        return {"kind": self.kind.value, "measure": self.measure}


@dataclass(frozen=True, kw_only=True)
class Feed:
    """One feed: what emoncms says of it, and its span where known (UTC)."""

    id: str
    name: str
    tag: str = ""
    unit: str = ""
    engine: str = "other"
    interval_s: int | None = None
    first: datetime | None = None
    last: datetime | None = None
    points: int | None = None
    last_value: float | None = None

    @property
    def suggestion(self) -> Suggestion | None:
        """Return what the feed seems to be, or None when neither unit nor name tells."""
        unit = self.unit.strip().lower()
        name = self.name.strip()
        kind = None
        if unit == "kwh" or (not unit and _ENERGY_NAME.search(name)):
            kind = Kind.ENERGY_KWH
        elif unit == "wh":
            kind = Kind.ENERGY_WH
        elif unit == "kw":
            kind = Kind.POWER_KW
        elif unit == "w" or (not unit and _POWER_NAME.search(name)):
            kind = Kind.POWER_W
        if kind is None:
            return None
        measure = next((m for words, m in _MEASURE_WORDS if words.search(name)), None)
        return Suggestion(kind=kind, measure=measure)

    def as_dict(self) -> dict[str, Any]:
        """Return the feed as the API gives it."""
        suggestion = self.suggestion
        return {
            "id": self.id,
            "name": self.name,
            "tag": self.tag,
            "unit": self.unit,
            "engine": self.engine,
            "interval_s": self.interval_s,
            "first": _utc(self.first),
            "last": _utc(self.last),
            "points": self.points,
            "last_value": self.last_value,
            "suggestion": None if suggestion is None else suggestion.as_dict(),
        }


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment.replace(microsecond=0))


def number(value: Any) -> float | None:
    """Return a number emoncms sent (a number, or one written as a string), else None.

    A NaN or an infinity is no value: emoncms writes a missing one as null, but its MySQL mode
    may let a stored NaN through.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        found = float(value)
    except TypeError, ValueError:
        return None
    return found if math.isfinite(found) else None


def moment(seconds: Any) -> datetime | None:
    """Return a Unix time emoncms sent (seconds, maybe as a string) as a UTC moment, else None.

    Very old servers sent milliseconds: a time past 5138 is taken as such.
    """
    found = number(seconds)
    if found is None or found <= 0:
        return None
    if found > 1e11:
        found /= 1000
    try:
        return datetime.fromtimestamp(int(found), UTC)
    except OverflowError, ValueError, OSError:
        return None
