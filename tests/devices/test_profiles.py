"""Every shipped profile decodes its own test vectors, read from a real Modbus server."""

from __future__ import annotations

from pathlib import Path
import re

from pymodbus.framer import FramerType
import pytest

from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import (
    ProfileError,
    available_profiles,
    load_profile_file,
)
from custom_components.ioe_community.devices.sunspec import (
    discover,
    resolve_profile,
    vector_holding,
)
from ioe_dev.modbus_server import Registers

from .conftest import bus_for

PROFILES = available_profiles()
CASES = [
    (profile_id, index)
    for profile_id, profile in sorted(PROFILES.items())
    for index in range(len(profile.test_vectors))
]


def test_the_expected_profiles_ship() -> None:
    assert {
        "eastron_sdm630",
        "eastron_sdm120",
        "huawei_sun2000",
        "sunspec",
        "victron_gx",
        "keba_p30",
    } <= set(PROFILES)


@pytest.mark.parametrize("framer", [FramerType.SOCKET, FramerType.RTU], ids=["tcp", "rtu_over_tcp"])
@pytest.mark.parametrize(("profile_id", "vector"), CASES)
async def test_vectors_decode_through_a_real_server(
    modbus_server, profile_id: str, vector: int, framer: FramerType
) -> None:
    profile = PROFILES[profile_id]
    case = profile.test_vectors[vector]
    server = await modbus_server(
        {1: Registers(holding=vector_holding(case), input=dict(case.input))}, framer
    )
    bus = bus_for(server)
    if profile.sunspec:  # its registers are where the device's model chain puts them
        profile = resolve_profile(profile, await discover(bus, 1))
    reader = DeviceReader(profile, bus, unit=1, keys=[r.key for r in profile.values])

    poll = await reader.poll()
    bus.close()

    assert poll.errors == []
    for key, expected in case.expected.items():
        if expected is None or isinstance(expected, str):
            assert poll.values[key] == expected, key
        else:
            assert poll.values[key] == pytest.approx(expected, rel=1e-6), key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nmanufacturer: A\nmodel: B\nregisters: []\n", "required key not provided"),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u24}\n",
            "one of 'u16', 's16', 'u32', 's32', 'u64', 'f32', 'string' at 'registers[0].type'",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u16}\n- {key: a, address: 1, type: u16}\n",
            "defined twice",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u16, scale_factor: b}\n",
            "unknown scale_factor",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: string}\n",
            "needs its count",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\nregisters:\n- {key: a, address: 0, type: u16}\n"
            "test_vectors:\n- {expected: {b: 1}}\n",
            "unknown registers ['b']",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u16}\nwritable:\n"
            "- {key: w, address: 9, type: u16, min: 0, max: 5, max_register: b}\n",
            "writable w takes its maximum from an unknown register 'b'",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nno_value: {u24: [1]}\n"
            "registers:\n- {key: a, address: 0, type: u16}\n",
            "no_value",
        ),
    ],
)
def test_invalid_profiles_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=re.escape(message)) as caught:
        load_profile_file(path)
    assert str(path) in str(caught.value)


def test_keba_reads_each_register_on_its_own() -> None:
    """KEBA refuses a request that spans two of its registers."""
    from custom_components.ioe_community.devices.batching import plan_reads  # noqa: PLC0415

    keba = PROFILES["keba_p30"]
    blocks = plan_reads(keba.registers, max_registers=keba.max_registers, max_gap=keba.max_gap)
    assert [b.count for b in blocks] == [2] * len(keba.registers)


def test_a_battery_is_driven_within_the_limits_it_reports() -> None:
    huawei = {w.key: w for w in PROFILES["huawei_sun2000"].writable}
    charge = huawei["battery_max_charge_power"]

    assert charge.bounds({"battery_max_charge_capacity": 2500}) == (0.0, 2500.0)
    assert charge.bounds({"battery_max_charge_capacity": 900_000}) == (0.0, 50_000.0)
    # Not read yet, or "no value": nothing may be written.
    assert charge.bounds({}) is None
    assert charge.bounds({"battery_max_charge_capacity": None}) is None


def test_no_value_words_of_the_profile_and_of_one_register() -> None:
    huawei = {r.key: r for r in PROFILES["huawei_sun2000"].registers}

    assert set(huawei["meter_power"].sentinels) == {0x7FFFFFFF, -0x80000000}
    assert set(huawei["internal_temperature"].sentinels) == {0x7FFF, -0x8000}
    assert huawei["grid_export_energy"].absolute
    assert not huawei["grid_import_energy"].absolute
