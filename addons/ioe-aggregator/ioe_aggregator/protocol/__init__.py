"""The home ↔ community wire protocol, v1: its JSON Schemas and the rules they cannot express.

The schemas in ``schemas/`` are normative (``docs/protocol.md`` explains them). Every message
the aggregator receives is decoded here and every message it sends is checked here, so both
directions stay within the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import functools
from importlib import resources
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ioe_aggregator.protocol.compiled import Check, Unsupported, compile_schema

# A day of 15-minute readings for a dozen meters is about 130 kB: this leaves room for that,
# and refuses anything that is not a readings batch before it is parsed.
MAX_PAYLOAD_BYTES = 512 * 1024
INTERVAL = timedelta(minutes=15)


class MessageKind(StrEnum):
    """The protocol's messages; each has a schema ``<kind>.v1.json``."""

    READINGS = "readings"
    ACK = "ack"
    STATUS = "status"
    RESULTS = "results"
    COMMUNITY_STATE = "community_state"
    SIGNAL = "signal"


class Rejection(StrEnum):
    """Why a message was refused: the ingest counts each kind."""

    OVERSIZE = "oversize"
    NOT_JSON = "not_json"
    SCHEMA = "schema"
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


@dataclass(frozen=True, slots=True)
class ReadingsBatch:
    """A decoded readings message."""

    member: str
    batch: str
    sent_at: datetime
    readings: tuple[Reading, ...]
    live: Mapping[str, Any] | None


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


@functools.cache
def _validator(kind: MessageKind) -> Draft202012Validator:
    source = schema(kind)
    return Draft202012Validator(_inlined(source, source))


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


def decode(payload: bytes, kind: MessageKind) -> dict[str, Any]:
    """Parse and check a message as received; raise ProtocolError with the reason."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(
            Rejection.OVERSIZE, f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}"
        )
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(Rejection.NOT_JSON, f"not JSON: {err}") from err
    if not isinstance(message, dict):
        raise ProtocolError(Rejection.SCHEMA, "the message is not a JSON object")
    check(message, kind)
    return message


def encode(message: Mapping[str, Any], kind: MessageKind) -> bytes:
    """Check a message the aggregator sends and return its compact JSON."""
    check(message, kind)
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def utc_text(moment: datetime) -> str:
    """Write a time as the protocol (and the API) does: UTC, ISO 8601, ending in Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def decode_readings(payload: bytes, member: str) -> ReadingsBatch:
    """Decode a readings batch that ``member`` sent (the topic or token says who).

    Beyond the schema: the batch names its sender, each interval is one quarter hour, and no
    reading appears twice in one batch.
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
            start=_utc(raw["start"]),
            end=_utc(raw["end"]),
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
    return ReadingsBatch(
        member=member,
        batch=message["batch"],
        sent_at=_utc(message["sent_at"]),
        readings=tuple(readings),
        live=message.get("live"),
    )
