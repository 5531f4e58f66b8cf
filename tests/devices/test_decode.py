"""Raw words to values and back: each register's resolution kept, 64-bit counters exact."""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.decode import decode, encode
from custom_components.ioe_community.devices.profile import Register, parse_profile


def register(**fields: object) -> Register:
    profile = parse_profile(
        {
            "id": "t",
            "manufacturer": "T",
            "model": "T",
            "registers": [{"key": "r", "address": 0, **fields}],
            "test_vectors": [],
        },
        "test",
    )
    return profile.registers[0]


@pytest.mark.parametrize(
    ("fields", "words", "scale_factors", "shown"),
    [
        ({"type": "u16", "scale": 0.1}, [5092], {}, "509.2"),
        ({"type": "s32", "scale": 0.001}, [0xFFFF, 0xFFFE], {}, "-0.002"),
        ({"type": "u32", "scale": 0.0001}, [0x0BEB, 0xC200], {}, "20000.0"),
        ({"type": "u32", "scale": 0.0001}, [0, 3], {}, "0.0003"),
        ({"type": "u16", "scale_factor": "sf"}, [50920], {"sf": -2}, "509.2"),
        ({"type": "u16", "scale_factor": "sf"}, [3], {"sf": 2}, "300.0"),
    ],
)
def test_values_keep_their_registers_resolution(
    fields: dict, words: list[int], scale_factors: dict, shown: str
) -> None:
    if "scale_factor" in fields:
        profile = parse_profile(
            {
                "id": "t",
                "manufacturer": "T",
                "model": "T",
                "registers": [
                    {"key": "r", "address": 0, **fields},
                    {"key": "sf", "address": 1, "type": "s16"},
                ],
                "test_vectors": [],
            },
            "test",
        )
        reg = profile.registers[0]
    else:
        reg = register(**fields)
    assert repr(decode(reg, words, scale_factors)) == shown


@pytest.mark.parametrize(
    ("data_type", "value"),
    [("u64", 2**60 + 1), ("u64", 2**64 - 2), ("s64", -(2**62) - 3), ("s64", 2**63 - 1)],
)
def test_64_bit_registers_are_exact_both_ways(data_type: str, value: int) -> None:
    reg = register(type=data_type)
    words = encode(reg, value)
    assert len(words) == 4
    assert decode(reg, words, {}) == value


@pytest.mark.parametrize(
    ("data_type", "words"),
    [("u64", [0xFFFF] * 4), ("s64", [0x8000, 0, 0, 0])],
)
def test_64_bit_not_implemented_is_no_value(data_type: str, words: list[int]) -> None:
    assert decode(register(type=data_type), words, {}) is None


def test_a_scaled_setpoint_is_written_to_its_resolution() -> None:
    reg = register(type="u16", scale=0.001)
    assert encode(reg, 16.0) == [16000]
    assert encode(reg, 6.1) == [6100]
    assert decode(reg, encode(reg, 6.1), {}) == 6.1
