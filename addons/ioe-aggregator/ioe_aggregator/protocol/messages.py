"""The protocol's vocabulary and the messages the community sends, as typed values.

Written once, here; the integration carries a copy (``ioe_dev.vendored``): it may import
nothing but the standard library. The JSON Schemas stay the contract: ``as_json`` writes a
message as they describe it, and ``from_json`` reads one that has been checked against them,
ignoring the fields it does not know (docs/protocol.md, "Versioning").

Fields keep the protocol's names (``from_`` is its ``from``). A field without a default that
is None is written as ``null``; an optional one (default None) is left out while None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
import functools
import types
from typing import TYPE_CHECKING, Any, ClassVar, Final, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class MessageKind(StrEnum):
    """The protocol's messages; each has a schema ``<kind>.v1.json``."""

    READINGS = "readings"
    ACK = "ack"
    STATUS = "status"
    RESULTS = "results"
    COMMUNITY_STATE = "community_state"
    SIGNAL = "signal"
    FORECAST = "forecast"


class Meter(StrEnum):
    """The meters of a home the protocol names (a reading may also name a configured id)."""

    GRID = "grid"
    PV = "pv"
    BATTERY = "battery"
    EV = "ev"
    PLANT = "plant"


class Quantity(StrEnum):
    """What a reading measures on its meter, in kWh over its quarter hour."""

    IMPORT = "import_kwh"
    EXPORT = "export_kwh"
    CONSUMPTION = "consumption_kwh"
    GENERATION = "generation_kwh"
    CHARGE = "charge_kwh"
    DISCHARGE = "discharge_kwh"


class Quality(StrEnum):
    """How a reading was obtained, from the most to the least certain."""

    MEASURED = "measured"
    INTERPOLATED = "interpolated"
    ESTIMATED = "estimated"


class SignalKind(StrEnum):
    """The community's advice: it has surplus, a deficit, or neither."""

    SURPLUS = "surplus"
    DEFICIT = "deficit"
    NORMAL = "normal"


@dataclass(frozen=True, kw_only=True, slots=True)
class Energies:
    """A member's energies over a period (kWh)."""

    allocated_kwh: float
    self_consumed_kwh: float
    surplus_kwh: float
    import_kwh: float


@dataclass(frozen=True, kw_only=True, slots=True)
class MonthEnergies(Energies):
    """A member's energies this month, and what the community saved it (None: no prices)."""

    savings_eur: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Kpis:
    """Shares (0 to 1) of a member's month; None where there is nothing to divide by."""

    self_sufficiency: float | None
    self_consumption: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CoefficientValidity:
    """The days the coefficient in force applies to (``to`` None: until further notice)."""

    from_: date
    to: date | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Results:
    """What the community computed for one member (``results.v1.json``)."""

    KIND: ClassVar[MessageKind] = MessageKind.RESULTS

    computed_at: datetime
    scheme: str
    coefficient_now: float
    allocated_w_now: float
    today: Energies
    month: MonthEnergies
    kpis: Kpis
    coefficient_valid: CoefficientValidity | None = None
    # Allocation now less what the member imports now (W, ≥ 0): its share going unused.
    unused_w_now: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CommunityToday:
    """The whole community's energies today (kWh)."""

    generation_kwh: float
    consumption_kwh: float
    self_consumed_kwh: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CommunityState:
    """Live totals of the whole community (``community_state.v1.json``)."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMUNITY_STATE

    ts: datetime
    generation_w: float
    consumption_w: float
    surplus_w: float | None = None
    members_online: int
    members_total: int
    today: CommunityToday
    name: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Signal:
    """Advice for the homes' own automations (``signal.v1.json``)."""

    KIND: ClassVar[MessageKind] = MessageKind.SIGNAL

    ts: datetime
    kind: SignalKind
    valid_until: datetime
    surplus_w: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ForecastHour:
    """The energy expected in one hour (kWh), with the band it falls in 8 times out of 10."""

    start: datetime
    kwh: float
    kwh_p10: float
    kwh_p90: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Forecast:
    """A forecast by the hour: a member's allocation or the plant's (``forecast.v1.json``)."""

    KIND: ClassVar[MessageKind] = MessageKind.FORECAST

    computed_at: datetime
    method: str
    history_days: int
    hours: tuple[ForecastHour, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Ack:
    """The batches the aggregator has stored (``ack.v1.json``)."""

    KIND: ClassVar[MessageKind] = MessageKind.ACK

    batches: tuple[str, ...]
    stored: int | None = None


type Message = Results | CommunityState | Signal | Forecast | Ack
# What the community publishes retained, for the homes to show.
type Retained = Results | CommunityState | Signal | Forecast
# The typed messages, by kind: the ones the community sends.
MESSAGES: Final[Mapping[MessageKind, type[Message]]] = {
    message.KIND: message for message in (Results, CommunityState, Signal, Forecast, Ack)
}


def utc_text(moment: datetime) -> str:
    """Write a time as the protocol (and the aggregator's API) does: UTC, ISO 8601, ending in Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _wire_name(name: str) -> str:
    return name.removesuffix("_")


def _json_value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _json_object(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value


def _json_object(value: Any) -> dict[str, Any]:
    written: dict[str, Any] = {}
    for field in fields(value):
        item = getattr(value, field.name)
        if item is None and field.default is not MISSING:
            continue  # optional, and absent
        written[_wire_name(field.name)] = _json_value(item)
    return written


def as_json(message: Message) -> dict[str, Any]:
    """Return a message as the protocol's JSON object (its ``schema`` first)."""
    return {"schema": f"ioe.{message.KIND.value}.v1", **_json_object(message)}


# What a protocol's text becomes, by the type a field names.
_FROM_TEXT: Final[Mapping[Any, Callable[[str], Any]]] = {
    datetime: lambda text: datetime.fromisoformat(text).astimezone(UTC),
    date: date.fromisoformat,
}


def _typed(hint: Any, value: Any) -> Any:
    """Return a checked JSON value as the type ``hint`` names."""
    if value is None:
        return None
    if get_origin(hint) in (Union, types.UnionType):
        (hint,) = (option for option in get_args(hint) if option is not type(None))
    if get_origin(hint) is tuple:
        (item, _ellipsis) = get_args(hint)
        return tuple(_typed(item, part) for part in value)
    if isinstance(hint, type) and is_dataclass(hint):
        return hint(**_field_values(hint, value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    # A number (an integer where a float may be) or a text, as JSON has it.
    convert = _FROM_TEXT.get(hint)
    return value if convert is None else convert(value)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _nullable(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def _field_values(cls: type[DataclassInstance], data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields of dataclass ``cls`` that ``data`` holds, typed, by their names.

    A field the schema lets a writer leave out or set to null reads as None when it is absent.
    """
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for field in fields(cls):
        if (name := _wire_name(field.name)) in data:
            values[field.name] = _typed(hints[field.name], data[name])
        elif field.default is MISSING and _nullable(hints[field.name]):
            values[field.name] = None
    return values


def from_json[T: Message](cls: type[T], data: Mapping[str, Any]) -> T:
    """Return a message checked against its schema as ``cls``; unknown fields are ignored.

    Raises ValueError for a time or a date that is no real one (2026-13-01), TypeError for a
    required field missing (which the schema check refuses first).
    """
    return cls(**_field_values(cls, data))
