"""Every shipped profile decodes its own test vectors, read from a real Modbus server."""

from __future__ import annotations

from pathlib import Path
import re

from pymodbus.framer import FramerType
import pytest

from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import (
    Check,
    Limits,
    ProfileError,
    ReadBack,
    Refusal,
    Revert,
    SetpointRefusedError,
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


@pytest.mark.usefixtures("allow_local_sockets")
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

    assert poll.errors == ()
    for key, expected in case.expected.items():
        if expected is None or isinstance(expected, str):
            assert poll.values[key] == expected, key
        else:
            assert poll.values[key] == pytest.approx(expected, rel=1e-6), key


# A profile with one register, and its writable section to come, for the invalid cases below.
_WRITES = (
    "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
    "- {key: a, address: 0, type: u16}\nwritable:\n"
)
# A profile with two models, a state and a counter, for the invalid cases below.
_MODELS = (
    "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
    "- {key: product, address: 0, type: u16}\n"
    "- {key: state, address: 1, type: u16, options: {0: unplugged, 1: plugged}}\n"
    "- {key: total, address: 2, type: u32, unit: kWh, state_class: total_increasing}\n"
    "models:\n  register: product\n  values:\n"
    "  - {id: p30, model: P30, min: 300, max: 399}\n"
    "  - {id: p40, model: P40, min: 400, max: 499}\n"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: x\nmanufacturer: A\nmodel: B\nregisters: []\n", "required key not provided"),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u24}\n",
            "one of 'u16', 's16', 'u32', 's32', 'u64', 's64', 'f32', 'string' at "
            "'registers[0].type'",
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
            "- {key: w, address: 9, type: u16, min: 0, max: 5, max_register: b, revert: never}\n",
            "writable w takes its maximum from an unknown register 'b'",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nno_value: {u24: [1]}\n"
            "registers:\n- {key: a, address: 0, type: u16}\n",
            "no_value",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u16, needs: b}\n",
            "a needs an unknown register",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nregisters:\n"
            "- {key: a, address: 0, type: u16}\n"
            "export_positive: {register: mn, values: [SolarEdge], keys: [a]}\n",
            "export_positive names unknown registers ['mn']",
        ),
        (
            _MODELS + "writable:\n- {key: w, address: 9, type: u16, min: 6, max: 32, "
            "pause: {value: 0, models: [p9]}, revert: never}\n",
            "writable w pauses unknown models ['p9']",
        ),
        (
            _MODELS + "writable:\n- {key: w, address: 9, type: u16, min: 0, max: 32, "
            "pause: {value: 0}, revert: never}\n",
            "writable w's pause lies within min..max",
        ),
        (
            _MODELS.replace("max: 399", "max: 499"),
            "models p30 and p40 overlap",
        ),
        (
            _MODELS.replace("max: 399", "max: 299"),
            "model p30 has min above max",
        ),
        (
            _MODELS
            + "writable:\n- {key: w, address: 9, type: string, min: 0, max: 1, revert: never}\n",
            "not a number",
        ),
        (
            _MODELS.replace("register: product", "register: state"),
            "models are told apart by an unknown or non-number register",
        ),
        (
            _MODELS + "plug_in_energy: {key: e, counter: product, state: state, "
            "connected: [plugged]}\n",
            "plug_in_energy counts on a register of kWh counted up",
        ),
        (
            _MODELS + "plug_in_energy: {key: e, counter: total, state: state, "
            "connected: [charging]}\n",
            "plug_in_energy's connected states are not its state's",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nsunspec:\n"
            "- {key: a, model: 101, point: DCW, fallback: [{model: 160}]}\n",
            "required key not provided at 'sunspec[0].fallback[0].point'",
        ),
        (
            "id: x\nmanufacturer: A\nmodel: B\ntest_vectors: []\nsunspec:\n"
            "- {key: a, model: 101, point: DCW, fallback: [{point: TmpSnk, unit: C}]}\n",
            "not a valid option at 'sunspec[0].fallback[0].unit'",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1}\n",
            "required key not provided at 'writable[0].revert'",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: {register: t}}\n",
            "writable w reverts after an unknown setpoint",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: {register: w}}\n",
            "writable w reverts after an unknown setpoint",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: {register: t}}\n"
            "- {key: t, address: 10, type: u16, min: 1, max: 9, unit: W, revert: never}\n",
            "writable w reverts after t, which is no timeout",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: {register: t}}\n"
            "- {key: t, address: 10, type: u16, min: 1, max: 9, unit: s, revert: {register: w}}\n",
            "writable w reverts after t, which is no timeout",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: {after_s: 0}}\n",
            "writable[0].revert",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: never, "
            "read_back: {register: b}}\n",
            "writable w is read back at an unknown register",
        ),
        (
            _WRITES + "- {key: w, address: 9, min: 0, max: 1, revert: never}\n",
            "writable w needs an address and a type, or a point",
        ),
        (
            _WRITES + "- {key: w, point: InWRte, min: 0, max: 1, revert: never}\n",
            "writable w needs the model of its point",
        ),
        (
            _WRITES + "- {key: w, address: 9, type: u16, min: 0, max: 1, revert: never}\n"
            "- {key: w, address: 10, type: u16, min: 0, max: 1, revert: never}\n",
            "a writable key is used twice",
        ),
        (
            _WRITES.replace("writable:", "control: {charger: keba}\nwritable:")
            + "- {key: charging_current, address: 9, type: u16, min: 6, max: 32, revert: never}\n",
            "control keba needs the writable ['enable_charging', 'failsafe_current_setpoint', "
            "'failsafe_timeout_setpoint']",
        ),
        (
            _WRITES.replace("writable:", "control: {battery: tesla}\nwritable:"),
            "control",
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
    charge = PROFILES["huawei_sun2000"].setpoint("battery_max_charge_power")

    assert charge.limits({"battery_max_charge_capacity": 2500}) == Limits(
        minimum=0.0, maximum=2500.0
    )
    assert charge.limits({"battery_max_charge_capacity": 900_000}).maximum == 50_000.0
    # Not read yet, or "no value": nothing may be written.
    for values in ({}, {"battery_max_charge_capacity": None}):
        with pytest.raises(SetpointRefusedError) as refused:
            charge.limits(values)
        assert refused.value.refusal is Refusal.LIMIT_UNKNOWN
        assert refused.value.placeholders == {"register": "battery_max_charge_capacity"}


def test_no_value_words_of_the_profile_and_of_one_register() -> None:
    huawei = {r.key: r for r in PROFILES["huawei_sun2000"].registers}

    assert set(huawei["meter_power"].sentinels) == {0x7FFFFFFF, -0x80000000}
    assert set(huawei["internal_temperature"].sentinels) == {0x7FFF, -0x8000}
    assert huawei["grid_export_energy"].absolute
    assert not huawei["grid_import_energy"].absolute


def test_a_fallback_takes_the_points_models_unless_it_names_its_own() -> None:
    temperature, dc_power = (
        next(p for p in PROFILES["sunspec"].sunspec if p.key == key)
        for key in ("internal_temperature", "dc_power")
    )

    assert [s.point for s in temperature.sources] == ["TmpCab", "TmpSnk"]
    assert temperature.sources[1].models == temperature.models
    assert [(s.models, s.point) for s in dc_power.sources[1:]] == [
        ((160,), "module.DCW"),
        ((714,), "DCW"),
    ]


def test_every_control_reverts_by_itself_and_every_write_says_how_it_is_checked() -> None:
    """What the actuators rely on: a force that outlives us reverts on the device's own."""
    huawei, keba, victron = (PROFILES[p] for p in ("huawei_sun2000", "keba_p30", "victron_gx"))

    assert huawei.setpoint("forcible_command").revert == Revert(register="forcible_period")
    assert huawei.setpoint("forcible_period").unit == "min"
    assert victron.setpoint("ess_grid_setpoint").revert == Revert(after_s=60)
    assert keba.setpoint("enable_charging").read_back is None
    assert keba.setpoint("charging_current").read_back == ReadBack(
        register="max_current", check=Check.AT_MOST
    )
    assert keba.write_interval_s == 5
    sunspec = {s.setpoint.key: s for s in PROFILES["sunspec"].sunspec_writable}
    assert sunspec["storage_charge_rate"].point == "InWRte"
    assert sunspec["storage_charge_rate"].setpoint.revert == Revert(register="storage_rate_revert")
