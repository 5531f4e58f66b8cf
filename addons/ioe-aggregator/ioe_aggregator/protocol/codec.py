"""The home ↔ community wire protocol, v1: its JSON Schemas and the rules they cannot express.

The schemas in ``schemas/`` are normative (``docs/protocol.md`` explains them). Every message
the aggregator receives is decoded here and every message it sends is checked here, so both
directions stay within the protocol. The messages the community sends are typed values
(``messages``, which the integration carries a copy of).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import functools
from importlib import resources
import json
import math
from typing import Any, Final, NamedTuple

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from ioe_aggregator.protocol.compiled import Check, Unsupported, compile_schema, ecma_regex
from ioe_aggregator.protocol.messages import Message, MessageKind, Meter, Quantity, as_json

# A day of 15-minute readings for a dozen meters is about 130 kB: this leaves room for that,
# and refuses anything that is not a readings batch before it is parsed.
MAX_PAYLOAD_BYTES = 512 * 1024
INTERVAL = timedelta(minutes=15)
# No number the protocol carries needs more digits than this; a longer one is refused before
# Python spends time (or its 4,300-digit limit) on it.
MAX_INTEGER_DIGITS = 20


class Rejection(StrEnum):
    """Why a message was refused: the ingest counts each kind."""

    OVERSIZE = "oversize"
    NOT_JSON = "not_json"
    # A number JSON allows but the protocol does not: NaN, an infinity, too many digits.
    NUMBER = "number"
    # Arrays or objects nested deeper than the parser goes.
    NESTING = "nesting"
    SCHEMA = "schema"
    # A time shaped like one that is no moment (2026-13-01T00:00:00Z).
    TIME = "time"
    INTERVAL = "interval"
    DUPLICATE = "duplicate"
    WRONG_MEMBER = "wrong_member"


class ProtocolError(ValueError):
    """A message is not a valid protocol message; ``rejection`` says which rule it broke."""

    def __init__(self, rejection: Rejection, message: str) -> None:
        """Keep the kind of rejection with the readable reason."""
        super().__init__(message)
        self.rejection = rejection


@dataclass(frozen=True, slots=True)
class Reading:
    """One interval energy; its identity is (member, meter, quantity, start, end)."""

    meter: str
    quantity: str
    start: datetime
    end: datetime
    value: float
    quality: str


class Measure(NamedTuple):
    """What a reading measures: a meter and a quantity (docs/protocol.md, "Measures")."""

    meter: str
    quantity: str


# The measures the protocol defines, and what each is. A home's consumption is everything its
# appliances used (its car's charging included, its battery's not); its supply point's import
# and export are what the distributor measures; its own panels are not the community's plant.
SUPPLY_IMPORT: Final = Measure(Meter.GRID, Quantity.IMPORT)
SUPPLY_EXPORT: Final = Measure(Meter.GRID, Quantity.EXPORT)
HOME_CONSUMPTION: Final = Measure(Meter.GRID, Quantity.CONSUMPTION)
ROOFTOP_PV: Final = Measure(Meter.PV, Quantity.GENERATION)
BATTERY_CHARGE: Final = Measure(Meter.BATTERY, Quantity.CHARGE)
BATTERY_DISCHARGE: Final = Measure(Meter.BATTERY, Quantity.DISCHARGE)
# Part of HOME_CONSUMPTION, never added to it.
EV_CHARGING: Final = Measure(Meter.EV, Quantity.CONSUMPTION)
# The community's generation: only a plant registered at the member's site counts.
COMMUNITY_PLANT: Final = Measure(Meter.PLANT, Quantity.GENERATION)


@dataclass(frozen=True, kw_only=True, slots=True)
class Live:
    """A home's live report: when, and its powers (W) by name (``grid_w``, ``plant_w``…)."""

    ts: datetime
    powers: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ReadingsBatch:
    """A decoded readings message."""

    member: str
    batch: str
    sent_at: datetime
    readings: tuple[Reading, ...]
    live: Live | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ControlledDevice:
    """A device a home controls locally: its id there, ``battery`` or ``charger``, its mode."""

    id: str
    kind: str
    mode: str
    since: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class HomeStatus:
    """A decoded status message (``control`` None: the home told nothing of local control)."""

    online: bool
    backlog: int | None
    control: tuple[ControlledDevice, ...] | None


def _schema_text(name: str) -> str:
    return resources.files(__package__).joinpath("schemas", name).read_text(encoding="utf-8")


@functools.cache
def common_schema() -> dict[str, Any]:
    """Return the definitions the messages share (``common.v1.json``)."""
    return dict(json.loads(_schema_text("common.v1.json")))


@functools.cache
def schema(kind: MessageKind) -> dict[str, Any]:
    """Return the JSON Schema of a message kind."""
    return dict(json.loads(_schema_text(f"{kind.value}.v1.json")))


def _inlined(node: Any, root: Mapping[str, Any]) -> Any:
    """Return a schema with every ``$ref`` replaced by what it points to.

    Resolving a reference costs jsonschema more than checking the value: for a day of readings,
    validating the inlined schema takes half the time. The protocol's schemas are not recursive.
    """
    if isinstance(node, dict):
        if (target := node.get("$ref")) is not None:
            uri, _, pointer = target.partition("#")
            document = common_schema() if uri else root
            resolved: Any = document
            for part in pointer.strip("/").split("/"):
                resolved = resolved[part]
            return _inlined(resolved, document)
        return {key: _inlined(value, root) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inlined(item, root) for item in node]
    return node


def _pattern(
    validator: Any, pattern: str, instance: Any, _schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """JSON Schema's ``pattern`` as ECMA-262 reads it (``$`` ends the text, not a line)."""
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# JSON Schema 2020-12 with ECMA-262's ``$``: the protocol's, and the API's request checks.
SchemaValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@functools.cache
def _validator(kind: MessageKind) -> Any:
    source = schema(kind)
    return SchemaValidator(_inlined(source, source))


def _where(path: Any) -> str:
    """Return a JSON path as people write it: ``readings[3].value``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "the message"


@functools.cache
def _compiled(kind: MessageKind) -> Check | None:
    source = schema(kind)
    try:
        return compile_schema(_inlined(source, source))
    except Unsupported:
        return None


def check(message: Mapping[str, Any], kind: MessageKind) -> None:
    """Raise ProtocolError unless ``message`` fits the schema of ``kind``.

    A compiled check answers first; jsonschema decides when it says no (and gives the reason).
    """
    if (fast := _compiled(kind)) is not None and fast(message):
        return
    if (error := best_match(_validator(kind).iter_errors(message))) is not None:
        raise ProtocolError(Rejection.SCHEMA, f"{_where(error.absolute_path)}: {error.message}")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number the protocol allows")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:30]} is beyond a float's range")
    return value


def parse_json(payload: bytes) -> Any:
    """Parse JSON as the protocol allows it: no NaN, no infinities, no endless numbers.

    Raises ProtocolError, whatever the bytes are.
    """
    try:
        return json.loads(
            payload, parse_constant=_refuse_constant, parse_int=_integer, parse_float=_float
        )
    except RecursionError as err:
        raise ProtocolError(Rejection.NESTING, "nested deeper than the parser goes") from err
    except json.JSONDecodeError as err:
        raise ProtocolError(Rejection.NOT_JSON, f"not JSON: {err}") from err
    except UnicodeDecodeError as err:
        raise ProtocolError(Rejection.NOT_JSON, f"not UTF-8 text: {err.reason}") from err
    except ValueError as err:
        raise ProtocolError(Rejection.NUMBER, str(err)) from err


def decode(payload: bytes, kind: MessageKind) -> dict[str, Any]:
    """Parse and check a message as received; raise ProtocolError with the reason.

    Nothing else escapes, whatever the payload: one bad message never stops a listener.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            Rejection.OVERSIZE, f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}"
        )
    message = parse_json(payload)
    if not isinstance(message, dict):
        raise ProtocolError(Rejection.SCHEMA, "the message is not a JSON object")
    try:
        check(message, kind)
    except RecursionError as err:  # a schema-valid path never nests this deep
        raise ProtocolError(Rejection.NESTING, "nested deeper than the schema goes") from err
    return message


def checked(message: Message) -> dict[str, Any]:
    """Return a message the aggregator sends as the protocol's JSON, checked against its schema.

    Raises ProtocolError when it does not fit (a bug: the aggregator builds what it sends).
    """
    written = as_json(message)
    check(written, message.KIND)
    return written


def encode(message: Mapping[str, Any], kind: MessageKind) -> bytes:
    """Check a message the aggregator sends and return its compact JSON (never NaN)."""
    check(message, kind)
    try:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as err:
        raise ProtocolError(Rejection.NUMBER, f"{kind.value}: {err}") from err
    return text.encode()


def _utc(text: str, where: str) -> datetime:
    """Return a time the schema let through, or refuse one that is no moment."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError as err:
        raise ProtocolError(Rejection.TIME, f"{where}: {text!r} is not a time") from err


def decode_readings(payload: bytes, member: str) -> ReadingsBatch:
    """Decode a readings batch that ``member`` sent (the topic or token says who).

    Beyond the schema: the batch names its sender, every time is a real moment, each interval
    is one quarter hour, and no reading appears twice in one batch.
    """
    message = decode(payload, MessageKind.READINGS)
    if message["member"] != member:
        raise ProtocolError(
            Rejection.WRONG_MEMBER, f"batch of member {message['member']!r} sent by {member!r}"
        )
    readings = []
    seen = set()
    for index, raw in enumerate(message["readings"]):
        reading = Reading(
            meter=raw["meter"],
            quantity=raw["quantity"],
            start=_utc(raw["start"], f"readings[{index}].start"),
            end=_utc(raw["end"], f"readings[{index}].end"),
            value=float(raw["value"]),
            quality=raw["quality"],
        )
        if reading.end - reading.start != INTERVAL:
            raise ProtocolError(
                Rejection.INTERVAL,
                f"readings[{index}]: {raw['start']} to {raw['end']} is not one quarter hour",
            )
        identity = (reading.meter, reading.quantity, reading.start)
        if identity in seen:
            raise ProtocolError(
                Rejection.DUPLICATE,
                f"readings[{index}]: {reading.meter} {reading.quantity} from {raw['start']} "
                "appears twice in the batch",
            )
        seen.add(identity)
        readings.append(reading)
    live = None
    if (raw_live := message.get("live")) is not None:
        live = Live(
            ts=_utc(raw_live["ts"], "live.ts"),
            powers={name: float(value) for name, value in raw_live.items() if name != "ts"},
        )
    return ReadingsBatch(
        member=member,
        batch=message["batch"],
        sent_at=_utc(message["sent_at"], "sent_at"),
        readings=tuple(readings),
        live=live,
    )


def decode_status(payload: bytes) -> HomeStatus:
    """Decode a home's status; beyond the schema, every ``since`` is a real moment."""
    message = decode(payload, MessageKind.STATUS)
    control = None
    if (raw_control := message.get("control")) is not None:
        control = tuple(
            ControlledDevice(
                id=raw["id"],
                kind=raw["kind"],
                mode=raw["mode"],
                since=None
                if "since" not in raw
                else _utc(raw["since"], f"control.devices[{index}].since"),
            )
            for index, raw in enumerate(raw_control["devices"])
        )
    return HomeStatus(
        online=message["state"] == "online", backlog=message.get("backlog"), control=control
    )
