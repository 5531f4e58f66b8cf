"""The home's side of the community protocol (``docs/protocol.md``), version 1.

What the home sends is built here and checked against the protocol's JSON Schemas before it
goes into the outbox; what the community sends (results, forecast, community state, signal, ack) is
checked here and decoded into its typed message (``messages``) before Home Assistant shows it,
with fields a newer aggregator adds ignored (the protocol's versioning makes adding an optional
field to those messages a compatible change). ``schemas/`` and ``messages.py`` are copies of
the aggregator's (see ``ioe_dev.vendored``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
import functools
from importlib import resources
import json
from typing import Any, Final
import uuid

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from .messages import MESSAGES, Message, MessageKind, Meter, Quality, Quantity, from_json, utc_text

MAX_PAYLOAD_BYTES: Final = 512 * 1024
# Readings per batch: a day of a dozen meters, well inside MAX_PAYLOAD_BYTES.
MAX_READINGS_PER_BATCH: Final = 1200
# The largest live power, in W either way, the schema (and so the aggregator) accepts.
MAX_LIVE_W: Final = 100_000_000


# The messages the community sends the home.
RECEIVED: Final = frozenset(
    {MessageKind.RESULTS, MessageKind.FORECAST, MessageKind.COMMUNITY_STATE, MessageKind.SIGNAL}
)
_CLOSED: Final = ("additionalProperties", "unevaluatedProperties")


class ProtocolError(ValueError):
    """A message does not fit the protocol; the text says where and why."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One quarter hour's energy of one of the home's meters."""

    meter: Meter
    quantity: Quantity
    start: datetime
    end: datetime
    value: float
    quality: Quality


def utc_seconds_text(moment: datetime) -> str:
    """Write a time as the home's messages do: the protocol's UTC text, in whole seconds."""
    return utc_text(moment.replace(microsecond=0))


def _schema(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", name).read_text(encoding="utf-8")
    return dict(json.loads(text))


def _opened(schema: Any) -> Any:
    """Return the schema with every object open to properties it does not name."""
    if isinstance(schema, dict):
        return {
            key: _opened(value)
            for key, value in schema.items()
            if not (key in _CLOSED and value is False)
        }
    if isinstance(schema, list):
        return [_opened(value) for value in schema]
    return schema


@functools.cache
def _validator(kind: MessageKind) -> Draft202012Validator:
    common = _schema("common.v1.json")
    schema = _schema(f"{kind.value}.v1.json")
    if kind in RECEIVED:
        common, schema = _opened(common), _opened(schema)
    registry: Registry = Registry().with_resource(common["$id"], Resource.from_contents(common))
    return Draft202012Validator(schema, registry=registry)


def preload() -> None:
    """Read every schema now (blocking file reads: Home Assistant calls it in its executor)."""
    for kind in MessageKind:
        _validator(kind)


def _where(path: Sequence[Any]) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "the message"


def check(message: Mapping[str, Any], kind: MessageKind) -> None:
    """Raise ProtocolError unless ``message`` fits the schema of ``kind``."""
    if (error := best_match(_validator(kind).iter_errors(message))) is not None:
        raise ProtocolError(f"{kind} {_where(list(error.absolute_path))}: {error.message}")


def _encode(message: Mapping[str, Any], kind: MessageKind) -> bytes:
    """Return a checked message as JSON; NaN and infinities are not JSON (nor accepted)."""
    check(message, kind)
    try:
        return json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as err:
        raise ProtocolError(f"{kind}: {err}") from err


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number the protocol allows")


def decode(payload: bytes, kind: MessageKind) -> dict[str, Any]:
    """Parse and check a message from the community; raise ProtocolError with the reason."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"{kind}: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        message = json.loads(payload, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"{kind}: not JSON: {err}") from err
    except (ValueError, RecursionError) as err:  # NaN, an endless number, endless nesting
        raise ProtocolError(f"{kind}: not the protocol's JSON: {err}") from err
    if not isinstance(message, dict):
        raise ProtocolError(f"{kind}: not a JSON object")
    check(message, kind)
    return message


def decode_message(payload: bytes, kind: MessageKind) -> Message:
    """Parse, check and type a message from the community; raise ProtocolError with the reason.

    Only the messages the community sends have a type (``RECEIVED`` and the ack).
    """
    message = decode(payload, kind)
    try:
        return from_json(MESSAGES[kind], message)
    # A time shaped like one that is no moment (2026-13-01); a field the type needs missing.
    except (ValueError, TypeError) as err:
        raise ProtocolError(f"{kind}: {err}") from err


def encode_readings(
    *,
    member: str,
    batch: str,
    sent_at: datetime,
    readings: Sequence[Reading],
    live: Mapping[str, Any] | None = None,
) -> bytes:
    """Return a readings batch as it goes into the outbox, checked against its schema.

    Raises ProtocolError when it does not fit (a NaN or infinite value among them).
    """
    message: dict[str, Any] = {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": batch,
        "sent_at": utc_seconds_text(sent_at),
        "readings": [
            {
                "meter": reading.meter,
                "quantity": reading.quantity,
                "start": utc_seconds_text(reading.start),
                "end": utc_seconds_text(reading.end),
                "value": round(reading.value, 6),
                "quality": reading.quality,
            }
            for reading in readings
        ],
    }
    if live is not None:
        message["live"] = dict(live)
    return _encode(message, MessageKind.READINGS)


def reading_batches(
    member: str, readings: Sequence[Reading], now: datetime
) -> list[tuple[str, bytes]]:
    """Return readings as batches for the outbox, oldest first: (batch id, payload).

    At most ``MAX_READINGS_PER_BATCH`` readings each, so that a backlog drains in bounded steps.
    """
    made = []
    for at in range(0, len(readings), MAX_READINGS_PER_BATCH):
        batch = f"{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        chunk = readings[at : at + MAX_READINGS_PER_BATCH]
        made.append(
            (batch, encode_readings(member=member, batch=batch, sent_at=now, readings=chunk))
        )
    return made


def live_batch(member: str, live: Mapping[str, Any], now: datetime) -> tuple[str, bytes]:
    """Return a batch carrying only the live power now: (batch id, payload)."""
    batch = f"live-{uuid.uuid4().hex[:16]}"
    return batch, encode_readings(member=member, batch=batch, sent_at=now, readings=[], live=live)


@dataclass(frozen=True, kw_only=True)
class ControlledDevice:
    """A device the home controls, and its mode: what the community's control centre shows."""

    id: str  # the home's own name for it (``battery``, ``charger``)
    kind: str  # battery or charger
    mode: str
    since: datetime


def encode_status(
    state: str,
    *,
    version: str,
    backlog: int | None = None,
    control: Sequence[ControlledDevice] | None = None,
) -> bytes:
    """Return the home's retained status (``backlog`` and ``control`` only while online)."""
    message: dict[str, Any] = {"schema": "ioe.status.v1", "state": state, "version": version}
    if backlog is not None:
        message["backlog"] = backlog
    if control is not None:
        message["control"] = {
            "devices": [
                {"id": d.id, "kind": d.kind, "mode": d.mode, "since": utc_text(d.since)}
                for d in control
            ]
        }
    return _encode(message, MessageKind.STATUS)
