"""SunSpec: the model chain found behind "SunS", read from a real pymodbus server."""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import (
    Function,
    available_profiles,
    parse_profile,
)
from custom_components.ioe_community.devices.sunspec import (
    SunSpecError,
    discover,
    image,
    model_layout,
    point_layout,
    repeating_group,
    resolve_profile,
)
from ioe_dev.modbus_server import Registers

from .conftest import bus_for

SUNSPEC = available_profiles()["sunspec"]
INVERTER = (103, {"W": 2500, "W_SF": 0})
METER = (203, {"W": -700, "W_SF": 1})


def test_every_point_exists_in_every_model_it_names() -> None:
    for point in SUNSPEC.sunspec:
        for source in point.sources:
            for model in source.models:
                assert point_layout(model, source.point), (point.key, model)


def test_layout_follows_the_model_definition() -> None:
    common = model_layout(1)
    assert (common["Mn"].offset, common["Mn"].size) == (2, 16)
    assert (common["SN"].offset, common["SN"].size) == (50, 16)
    inverter = model_layout(103)
    assert inverter["W"].scale_factor == "W_SF"
    assert inverter["St"].symbols[4] == "mppt"
    with pytest.raises(SunSpecError, match="not defined"):
        model_layout(65000)


def test_a_repeating_group_follows_the_fixed_points() -> None:
    """Model 160: ID, L and 8 words, then modules of 20 words, DCW the 12th of each."""
    modules = repeating_group(160, "module")
    assert (modules.offset, modules.size) == (10, 20)
    assert point_layout(160, "module.DCW").offset == 11
    assert point_layout(160, "module.DCW").scale_factor == "DCW_SF"
    with pytest.raises(SunSpecError, match=r"no point 'module\.W'"):
        point_layout(160, "module.W")
    with pytest.raises(SunSpecError, match="does not repeat a group 'module'"):
        point_layout(101, "module.DCW")


# The model chain of nielsbasjes/sunspec-device's SMA Sunny Boy 3.6 (DeviceSMASunnyBoy36).
SMA_CHAIN = {
    1: 40002,
    11: 40070,
    12: 40085,
    101: 40185,
    120: 40237,
    121: 40265,
    122: 40297,
    123: 40343,
    124: 40369,
    126: 40395,
    127: 40461,
    128: 40473,
    131: 40489,
    132: 40555,
    160: 40621,
    129: 40751,
    130: 40813,
}


def test_dc_power_falls_back_to_the_mppt_modules_of_a_real_chain() -> None:
    """The SMA's 160 (L=128) holds six modules before 129; 101's DCW is tried first."""
    profile = resolve_profile(SUNSPEC, SMA_CHAIN)
    dc_power = profile.register("dc_power")
    modules = [f"dc_power@160.module[{n}].DCW" for n in range(1, 7)]

    assert dc_power.address == 40185 + 31
    assert dc_power.fallbacks == (modules[0],)
    assert profile.register(modules[0]).addends == tuple(modules[1:])
    assert [profile.register(key).address for key in modules] == [
        40621 + 10 + 20 * n + 11 for n in range(6)
    ]
    sf = profile.register(profile.register(modules[0]).scale_factor or "")
    assert sf.address == 40621 + 4
    # Parts are read for the value, never values of their own.
    assert [r.key for r in profile.values].count("dc_power") == 1
    assert not {r.key for r in profile.values} & set(modules)
    assert not any(profile.register(key).enabled_by_default for key in modules)


@pytest.mark.parametrize(
    "chain",
    [
        {1: 40002, 101: 40070, 160: 40122},
        # A second common model (a meter's, not kept) after 160: 203 is 67 words further.
        {1: 40002, 101: 40070, 160: 40122, 203: 40122 + 10 + 2 * 20 + 67},
    ],
    ids=["last", "before a model not kept"],
)
def test_a_repeating_group_is_not_placed_where_its_model_end_is_not_known(
    chain: dict[int, int],
) -> None:
    """How many modules 160 holds is not known from the addresses: none is read."""
    profile = resolve_profile(SUNSPEC, chain)
    assert profile.register("dc_power").fallbacks == ()


# A profile of one value with a fallback summed over 160's modules, for the cases below.
_DC = parse_profile(
    {
        "id": "dc",
        "manufacturer": "Test",
        "model": "DC",
        "test_vectors": [],
        "sunspec": [
            {
                "key": "dc_power",
                "model": 101,
                "point": "DCW",
                "absent": 0,
                "fallback": [{"model": 160, "point": "module.DCW"}],
            }
        ],
    },
    "dc",
)


@pytest.mark.usefixtures("allow_local_sockets")
@pytest.mark.parametrize(
    ("inverter", "modules", "expected"),
    [
        ({"DCW": 26, "DCW_SF": 2}, [{"DCW": 67}, {"DCW": 48}], 2600.0),
        ({}, [{"DCW": 67}, {"DCW": 48}, {}], 1150.0),
        ({}, [{}, {"DCW": 48}], 480.0),
        # No source has a value: the last one's "not implemented" is its absent value.
        ({}, [{}, {}], 0.0),
    ],
    ids=["first", "sum", "some modules", "absent"],
)
async def test_a_value_from_the_first_source_that_has_one(
    modbus_server, inverter: dict, modules: list, expected: float
) -> None:
    chain = [
        (1, {}),
        (101, inverter),
        (160, {"DCW_SF": 1, "N": len(modules), "module": modules}),
        (129, {}),
    ]
    server = await modbus_server({1: Registers(holding=image(chain))})
    bus = bus_for(server)
    profile = resolve_profile(_DC, await discover(bus, 1))
    poll = await DeviceReader(profile, bus, 1).poll()
    bus.close()

    assert poll.errors == ()
    assert poll.values["dc_power"] == expected


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_value_none_of_whose_parts_was_read_is_not_read(modbus_server) -> None:
    """A device that stops answering has read nothing, not "no value" (which is an answer)."""
    chain = [(1, {}), (101, {}), (160, {"DCW_SF": 0, "module": [{"DCW": 700}]}), (129, {})]
    server = await modbus_server({1: Registers(holding=image(chain))})
    bus = bus_for(server)
    profile = resolve_profile(_DC, await discover(bus, 1))
    await server.stop()
    poll = await DeviceReader(profile, bus, 1).poll()
    bus.close()

    assert poll.values == {}
    assert poll.failed


@pytest.mark.usefixtures("allow_local_sockets")
@pytest.mark.parametrize(
    ("points", "expected"),
    [({"TotWhInj": 0}, 0.0), ({"TotWhInj": 2**40 + 1}, 1099511627.777), ({}, None)],
    ids=["nothing fed in", "64 bits", "not implemented"],
)
async def test_a_der_counts_its_energy_in_a_uint64(
    modbus_server, points: dict, expected: float | None
) -> None:
    """701's TotWhInj is a uint64 (pysunspec2 1.3.7): 0 is 0 Wh, all ones no value."""
    chain = [(1, {}), (701, {"W": 1500, "W_SF": 0, "TotWh_SF": 0, **points})]
    server = await modbus_server({1: Registers(holding=image(chain))})
    bus = bus_for(server)
    profile = resolve_profile(SUNSPEC, await discover(bus, 1))
    poll = await DeviceReader(profile, bus, 1).poll()
    bus.close()

    assert poll.values["pv_power"] == 1500
    assert poll.values["pv_energy"] == expected


@pytest.mark.usefixtures("allow_local_sockets")
@pytest.mark.parametrize("base", [40000, 0, 50000])
async def test_discovery_at_each_base_address(modbus_server, base: int) -> None:
    chain = [(1, {"Mn": "Acme"}), INVERTER, (64110, {}), METER, (213, {})]
    # A vendor model we have no definition for is skipped by its length; a second meter
    # (213 after 203) is not read.
    words = image([m for m in chain if m[0] != 64110], base=base)
    server = await modbus_server({1: Registers(holding=words)})
    bus = bus_for(server)

    models = await discover(bus, 1)
    bus.close()

    assert list(models) == [1, 103, 203, 213]
    assert models[1] == base + 2
    assert models[103] == base + 2 + 2 + 66


@pytest.mark.usefixtures("allow_local_sockets")
async def test_values_with_scale_factors_from_the_chain(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding=image([(1, {}), INVERTER, METER]))})
    bus = bus_for(server)
    profile = resolve_profile(SUNSPEC, await discover(bus, 1))
    discovery = len(server.requests)
    poll = await DeviceReader(profile, bus, 1).poll()
    bus.close()

    assert poll.values["pv_power"] == 2500.0
    assert poll.values["meter_power"] == -7000.0
    # The common model's texts are diagnostics, not read by default. The inverter's values
    # with their scale factors and its state fill one request; the meter's enabled values
    # (its energies at the end of model 203) take another.
    reads = [(address, count) for _u, _f, address, count in server.requests[discovery:]]
    assert reads == [(40084, 25), (40140, 37)]
    assert all(r.function is Function.HOLDING for r in profile.registers)


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_device_without_sunspec(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding={40000: 1, 40001: 2})})
    bus = bus_for(server)
    with pytest.raises(SunSpecError, match="no SunSpec marker at 40000, 0, 50000"):
        await discover(bus, 1)
    bus.close()


@pytest.mark.usefixtures("allow_local_sockets")
async def test_an_empty_chain(modbus_server) -> None:
    server = await modbus_server(
        {1: Registers(holding={40000: 0x5375, 40001: 0x6E53, 40002: 0xFFFF})}
    )
    bus = bus_for(server)
    with pytest.raises(SunSpecError, match="is empty"):
        await discover(bus, 1)
    bus.close()


def test_a_profile_needs_the_chain() -> None:
    with pytest.raises(SunSpecError, match="needs the device's SunSpec models"):
        resolve_profile(SUNSPEC, {})
    assert resolve_profile(available_profiles()["eastron_sdm630"], None).id == "eastron_sdm630"
