"""Whatever arrives, decoding it ends in a message or a refusal: never another exception.

Property-based: arbitrary bytes, arbitrary JSON, and valid batches with any part replaced by
arbitrary JSON, through ``decode`` and ``decode_readings`` — the only code that reads what a
member sends.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from ioe_aggregator.protocol.codec import ProtocolError, ReadingsBatch, decode, decode_readings
from ioe_aggregator.protocol.messages import MessageKind
from tests.community import batch

MEMBER = "m-0001"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON as an attacker writes it: every kind of value, numbers at the edges, odd strings.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["2026-13-01T00:00:00Z", "2026-11-24T10:00:00Z", "grid\n", "m-0001"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)
# Raw number tokens Python's parser accepts and the protocol must refuse.
raw_numbers = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 5000, "1" * 25]
)


def _decodes_or_refuses(payload: bytes, kind: MessageKind = MessageKind.READINGS) -> None:
    try:
        if kind is MessageKind.READINGS:
            assert isinstance(decode_readings(payload, MEMBER), ReadingsBatch)
        else:
            assert isinstance(decode(payload, kind), dict)
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(payload: bytes) -> None:
    _decodes_or_refuses(payload)
    _decodes_or_refuses(payload, MessageKind.STATUS)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    payload = json.dumps(value).encode()
    _decodes_or_refuses(payload)
    _decodes_or_refuses(payload, MessageKind.STATUS)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value inside a JSON document (the root included)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


VALID = {
    **batch(MEMBER, "b-1", count=2),
    "live": {"ts": "2026-11-25T00:00:00Z", "grid_w": 540.0, "plant_w": 0.0},
}
PATHS = _paths(VALID)


@FUZZ
@given(st.sampled_from(PATHS), json_values)
def test_a_valid_batch_with_any_part_replaced(path: tuple[Any, ...], new: Any) -> None:
    _decodes_or_refuses(json.dumps(_replaced(VALID, path, new)).encode())


@FUZZ
@given(st.sampled_from(PATHS), raw_numbers)
def test_a_valid_batch_with_any_part_a_number_python_allows_and_json_should_not(
    path: tuple[Any, ...], number: str
) -> None:
    marker = "__number__"
    text = json.dumps(_replaced(VALID, path, marker)).replace(f'"{marker}"', number)
    try:
        decode_readings(text.encode(), MEMBER)
    except ProtocolError:
        return
    raise AssertionError(f"{number} at {path} was accepted")


@FUZZ
@given(st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", '{"a":', '{"live":[']))
def test_any_nesting_depth(depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '{"live":[': "]}"}[opener]
    _decodes_or_refuses((opener * depth + "1" + closer * depth).encode())
