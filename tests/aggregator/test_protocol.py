"""The wire protocol: its schemas, the examples of docs/protocol.md, and every kind of refusal."""

from __future__ import annotations

from datetime import UTC, datetime
import json
import re
from typing import Any

from jsonschema import Draft202012Validator
import pytest
from referencing import Registry, Resource

from ioe_aggregator.protocol.codec import (
    MAX_PAYLOAD_BYTES,
    ControlledDevice,
    Live,
    ProtocolError,
    Rejection,
    _compiled,
    check,
    common_schema,
    decode,
    decode_readings,
    decode_status,
    encode,
    schema,
)
from ioe_aggregator.protocol.compiled import Unsupported, compile_schema
from ioe_aggregator.protocol.messages import (
    MESSAGES,
    Ack,
    MessageKind,
    Signal,
    SignalKind,
    as_json,
    from_json,
)
from tests.conftest import REPO


def batch(**changes: Any) -> dict[str, Any]:
    """Return a valid readings batch of member m-0007, with ``changes``."""
    message = {
        "schema": "ioe.readings.v1",
        "member": "m-0007",
        "batch": "b-1",
        "sent_at": "2026-11-24T10:15:03Z",
        "readings": [
            {
                "meter": "grid",
                "quantity": "import_kwh",
                "start": "2026-11-24T10:00:00Z",
                "end": "2026-11-24T10:15:00Z",
                "value": 0.231,
                "quality": "measured",
            }
        ],
    }
    message.update(changes)
    return message


def reading(**changes: Any) -> dict[str, Any]:
    return {**batch()["readings"][0], **changes}


def documented_examples() -> list[dict[str, Any]]:
    """Return the JSON examples of docs/protocol.md."""
    text = (REPO / "docs" / "protocol.md").read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def payload(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_schema_is_valid_json_schema(kind: MessageKind) -> None:
    Draft202012Validator.check_schema(schema(kind))
    assert schema(kind)["properties"]["schema"]["const"] == f"ioe.{kind.value}.v1"


def test_the_documented_examples_are_valid() -> None:
    """Every JSON example in docs/protocol.md fits the schema it names."""
    examples = documented_examples()
    kinds = {f"ioe.{kind.value}.v1": kind for kind in MessageKind}

    for example in examples:
        check(example, kinds[example["schema"]])
    assert {example["schema"] for example in examples} == set(kinds)


def test_docs_schemas_are_the_ones_the_aggregator_uses() -> None:
    for kind in MessageKind:
        documented = json.loads((REPO / "docs" / "schemas" / f"{kind.value}.v1.json").read_text())
        assert documented == schema(kind)


def test_a_valid_batch_decodes() -> None:
    live = {"ts": "2026-11-24T10:15:02Z", "grid_w": 540.0, "battery_w": -300.0}

    decoded = decode_readings(payload(batch(live=live)), "m-0007")

    assert decoded.batch == "b-1"
    assert decoded.sent_at == datetime(2026, 11, 24, 10, 15, 3, tzinfo=UTC)
    (first,) = decoded.readings
    assert (first.meter, first.quantity, first.value, first.quality) == (
        "grid",
        "import_kwh",
        0.231,
        "measured",
    )
    assert first.start == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert decoded.live == Live(
        ts=datetime(2026, 11, 24, 10, 15, 2, tzinfo=UTC),
        powers={"grid_w": 540.0, "battery_w": -300.0},
    )


@pytest.mark.parametrize(
    ("body", "rejection", "reason"),
    [
        (b"\xff\xfe", Rejection.NOT_JSON, "not JSON"),
        (b'{"schema": "ioe.readings.v1",', Rejection.NOT_JSON, "not JSON"),
        (b"[1, 2]", Rejection.SCHEMA, "not a JSON object"),
        (payload({"schema": "ioe.readings.v1"}), Rejection.SCHEMA, "'member' is a required"),
        (payload(batch(schema="ioe.readings.v2")), Rejection.SCHEMA, "schema: "),
        (
            payload(batch(readings=[reading(value="0.2")])),
            Rejection.SCHEMA,
            "readings[0].value: '0.2' is not of type 'number'",
        ),
        (
            payload(batch(readings=[reading(value=-0.1)])),
            Rejection.SCHEMA,
            "readings[0].value: -0.1 is less than the minimum of 0",
        ),
        (
            payload(batch(readings=[reading(quantity="import_wh")])),
            Rejection.SCHEMA,
            "readings[0].quantity: 'import_wh' is not one of",
        ),
        (
            payload(batch(readings=[reading(start="2026-11-24T10:05:00Z")])),
            Rejection.SCHEMA,
            "readings[0].start: '2026-11-24T10:05:00Z' does not match",
        ),
        (
            payload(batch(readings=[reading(start="2026-11-24T11:00:00+01:00")])),
            Rejection.SCHEMA,
            "readings[0].start",
        ),
        (
            payload(batch(readings=[reading(unit="kWh")])),
            Rejection.SCHEMA,
            "readings[0]: Additional properties are not allowed ('unit' was unexpected)",
        ),
        (
            payload(batch(readings=[reading(end="2026-11-24T10:30:00Z")])),
            Rejection.INTERVAL,
            "readings[0]: 2026-11-24T10:00:00Z to 2026-11-24T10:30:00Z is not one quarter hour",
        ),
        (
            payload(batch(readings=[reading(), reading(value=0.3)])),
            Rejection.DUPLICATE,
            "readings[1]: grid import_kwh from 2026-11-24T10:00:00Z appears twice",
        ),
        (
            payload(batch(member="m-0008")),
            Rejection.WRONG_MEMBER,
            "batch of member 'm-0008' sent by 'm-0007'",
        ),
        (
            b" " * (MAX_PAYLOAD_BYTES + 1),
            Rejection.OVERSIZE,
            f"more than {MAX_PAYLOAD_BYTES}",
        ),
        # Shaped like times, but no moment: refused before anything is stored.
        (
            payload(batch(readings=[reading(start="2026-13-01T00:00:00Z")])),
            Rejection.TIME,
            "readings[0].start: '2026-13-01T00:00:00Z' is not a time",
        ),
        (
            payload(batch(live={"ts": "2026-02-30T10:00:00Z", "grid_w": 1.0})),
            Rejection.TIME,
            "live.ts: '2026-02-30T10:00:00Z' is not a time",
        ),
        (
            payload(batch(sent_at="2026-11-24T25:00:00Z")),
            Rejection.TIME,
            "sent_at: '2026-11-24T25:00:00Z' is not a time",
        ),
        # Numbers JSON (or Python's parser) allows and the protocol does not.
        (
            payload(batch()).replace(b"0.231", b"NaN"),
            Rejection.NUMBER,
            "NaN is not a number the protocol allows",
        ),
        (
            payload(batch(live={"ts": "2026-11-24T10:15:02Z", "grid_w": 1.0})).replace(
                b'"grid_w": 1.0', b'"grid_w": -Infinity'
            ),
            Rejection.NUMBER,
            "-Infinity is not a number",
        ),
        (
            payload(batch(live={"ts": "2026-11-24T10:15:02Z", "grid_w": 1.0})).replace(
                b'"grid_w": 1.0', b'"grid_w": 1e400'
            ),
            Rejection.NUMBER,
            "beyond a float's range",
        ),
        (
            payload(batch(live={"ts": "2026-11-24T10:15:02Z", "grid_w": 1.0})).replace(
                b'"grid_w": 1.0', b'"grid_w": 1' + b"0" * 400
            ),
            Rejection.NUMBER,
            "an integer of 401 digits",
        ),
        (
            payload(batch(live={"ts": "2026-11-24T10:15:02Z", "grid_w": 5e9})),
            Rejection.SCHEMA,
            "live.grid_w: 5000000000.0 is greater than the maximum",
        ),
        (b"[" * 100_000 + b"]" * 100_000, Rejection.NESTING, "nested deeper"),
        # Anchored patterns end at the end of the text, not before a final line break.
        (
            payload(batch(readings=[reading(meter="grid\n")])),
            Rejection.SCHEMA,
            "readings[0].meter: 'grid\\n' does not match",
        ),
        (payload(batch(batch="b-1\n")), Rejection.SCHEMA, "batch: 'b-1\\n' does not match"),
    ],
)
def test_refusals_name_their_reason(body: bytes, rejection: Rejection, reason: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_readings(body, "m-0007")
    assert caught.value.rejection is rejection
    assert reason in str(caught.value)


def test_a_day_of_readings_for_a_dozen_meters_fits() -> None:
    readings = [
        reading(
            meter=f"meter{meter}",
            start=f"2026-11-24T{q // 4:02d}:{q % 4 * 15:02d}:00Z",
            end=f"2026-11-24T{(q + 1) // 4:02d}:{(q + 1) % 4 * 15:02d}:00Z"
            if q < 95
            else "2026-11-25T00:00:00Z",
        )
        for meter in range(12)
        for q in range(96)
    ]
    body = payload(batch(readings=readings))
    assert len(body) < MAX_PAYLOAD_BYTES
    assert len(decode_readings(body, "m-0007").readings) == 12 * 96


def test_what_the_aggregator_sends_is_checked_too() -> None:
    ack = {"schema": "ioe.ack.v1", "batches": ["b-1"], "stored": 1}
    assert json.loads(encode(ack, MessageKind.ACK)) == ack
    with pytest.raises(ProtocolError, match="batches: \\[\\] should be non-empty"):
        encode({"schema": "ioe.ack.v1", "batches": []}, MessageKind.ACK)
    results = next(example for example in documented_examples() if "coefficient_now" in example)
    with pytest.raises(ProtocolError, match=re.escape("coefficient_now: 1.5 is greater than")):
        encode({**results, "coefficient_now": 1.5}, MessageKind.RESULTS)


@pytest.mark.parametrize("kind", sorted(MESSAGES), ids=str)
def test_a_typed_message_writes_the_documented_json(kind: MessageKind) -> None:
    """Each documented message the community sends reads into its type and back, unchanged."""
    (example,) = (e for e in documented_examples() if e["schema"] == f"ioe.{kind.value}.v1")

    typed = from_json(MESSAGES[kind], example)

    assert as_json(typed) == example
    check(as_json(typed), kind)


def test_a_typed_message_leaves_out_what_it_does_not_have() -> None:
    signal = Signal(
        ts=datetime(2026, 11, 24, 10, 15, tzinfo=UTC),
        kind=SignalKind.NORMAL,
        valid_until=datetime(2026, 11, 24, 10, 45, tzinfo=UTC),
    )

    assert as_json(signal) == {
        "schema": "ioe.signal.v1",
        "ts": "2026-11-24T10:15:00Z",
        "kind": "normal",
        "valid_until": "2026-11-24T10:45:00Z",
    }
    assert as_json(Ack(batches=("b-1", "b-2"))) == {
        "schema": "ioe.ack.v1",
        "batches": ["b-1", "b-2"],
    }


def test_decode_checks_any_kind() -> None:
    status = {"schema": "ioe.status.v1", "state": "offline"}
    assert decode(payload(status), MessageKind.STATUS) == status
    with pytest.raises(ProtocolError, match="state: 'away' is not one of"):
        decode(payload({**status, "state": "away"}), MessageKind.STATUS)


def status_with(*devices: dict[str, Any]) -> dict[str, Any]:
    """Return an online status whose home controls ``devices`` locally."""
    return {"schema": "ioe.status.v1", "state": "online", "control": {"devices": list(devices)}}


def test_a_status_tells_the_devices_under_local_control() -> None:
    battery = {"id": "battery", "kind": "battery", "mode": "use_my_share"}
    charger = {
        "id": "wallbox-1",
        "kind": "charger",
        "mode": "surplus",
        "since": "2026-11-24T09:00:00Z",
    }

    told = decode_status(payload(status_with(battery, charger)))

    assert (told.online, told.backlog) == (True, None)
    assert told.control == (
        ControlledDevice(id="battery", kind="battery", mode="use_my_share", since=None),
        ControlledDevice(
            id="wallbox-1",
            kind="charger",
            mode="surplus",
            since=datetime(2026, 11, 24, 9, tzinfo=UTC),
        ),
    )
    # No local control is said with no devices; a status without ``control`` says nothing.
    assert decode_status(payload(status_with())).control == ()
    offline = decode_status(payload({"schema": "ioe.status.v1", "state": "offline"}))
    assert (offline.online, offline.control) == (False, None)


@pytest.mark.parametrize(
    ("device", "rejection"),
    [
        # Each kind has its own modes: a battery does not charge a car "now".
        ({"id": "battery", "kind": "battery", "mode": "now"}, Rejection.SCHEMA),
        ({"id": "wallbox", "kind": "charger", "mode": "valley"}, Rejection.SCHEMA),
        ({"id": "wallbox", "kind": "charger", "mode": "turbo"}, Rejection.SCHEMA),
        ({"id": "heat-pump", "kind": "heat_pump", "mode": "native"}, Rejection.SCHEMA),
        ({"id": "battery", "kind": "battery"}, Rejection.SCHEMA),
        ({"id": "Battery 1", "kind": "battery", "mode": "native"}, Rejection.SCHEMA),
        ({"id": "battery", "kind": "battery", "mode": "native", "soc": 50}, Rejection.SCHEMA),
        (
            {"id": "battery", "kind": "battery", "mode": "native", "since": "2026-02-30T10:00:00Z"},
            Rejection.TIME,
        ),
    ],
)
def test_a_status_with_a_wrong_device_is_refused(
    device: dict[str, Any], rejection: Rejection
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_status(payload(status_with(device)))
    assert caught.value.rejection is rejection


# Values that break (or happen to fit) one rule or another.
ODD_VALUES = (None, True, False, 0, -1, 1.0, 1.5, 1e9, "", "x", "online", "a" * 80, [], [1], {})


def _variants(message: Any) -> Any:
    """Yield the message with each value replaced, each key dropped, and one key added."""
    yield message
    if isinstance(message, dict):
        yield {**message, "extra": 1}
        for key, value in message.items():
            yield {k: v for k, v in message.items() if k != key}
            for odd in ODD_VALUES:
                yield {**message, key: odd}
            for inner in _variants(value):
                yield {**message, key: inner}
    elif isinstance(message, list) and message:
        yield [*message, *message]
        for inner in _variants(message[0]):
            yield [inner, *message[1:]]


def _registry() -> Registry[Any]:
    """Return where the schemas' references to common.v1.json resolve, as the files say."""
    common = common_schema()
    return Registry().with_resource(common["$id"], Resource.from_contents(common))


@pytest.mark.parametrize("kind", list(MessageKind), ids=str)
def test_the_compiled_check_agrees_with_jsonschema(kind: MessageKind) -> None:
    """The ingest's fast check never accepts what the schema refuses, nor the reverse."""
    source = schema(kind)
    reference = Draft202012Validator(source, registry=_registry())
    compiled = _compiled(kind)
    examples = [e for e in documented_examples() if e["schema"] == f"ioe.{kind.value}.v1"]
    if kind is MessageKind.RESULTS:
        assert compiled is None  # allOf and unevaluatedProperties: jsonschema does it all
        return
    assert compiled is not None
    compared = 0
    for example in examples:
        for variant in _variants(example):
            assert compiled(variant) == reference.is_valid(variant), variant
            compared += 1
    assert compared > 50  # every value of every documented example, and more


def test_the_compiler_refuses_what_it_does_not_implement() -> None:
    for unknown in ({"oneOf": [{"type": "string"}]}, {"enum": [1, 2]}, {"prefixItems": []}):
        with pytest.raises(Unsupported):
            compile_schema(unknown)
    with pytest.raises(Unsupported):
        compile_schema({"type": "object", "additionalProperties": {"type": "string"}})
