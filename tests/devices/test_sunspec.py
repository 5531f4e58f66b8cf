"""SunSpec: the model chain found behind "SunS", read from a real pymodbus server."""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import Function, available_profiles
from custom_components.ioe_community.devices.sunspec import (
    SunSpecError,
    discover,
    image,
    model_layout,
    resolve_profile,
)
from ioe_dev.modbus_server import Registers

from .conftest import bus_for

SUNSPEC = available_profiles()["sunspec"]
INVERTER = (103, {"W": 2500, "W_SF": 0})
METER = (203, {"W": -700, "W_SF": 1})


def test_every_point_exists_in_every_model_it_names() -> None:
    for point in SUNSPEC.sunspec:
        for model in point.models:
            assert point.point in model_layout(model), (point.key, model)


def test_layout_follows_the_model_definition() -> None:
    common = model_layout(1)
    assert (common["Mn"].offset, common["Mn"].size) == (2, 16)
    assert (common["SN"].offset, common["SN"].size) == (50, 16)
    inverter = model_layout(103)
    assert inverter["W"].scale_factor == "W_SF"
    assert inverter["St"].symbols[4] == "mppt"
    with pytest.raises(SunSpecError, match="not defined"):
        model_layout(65000)


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


async def test_a_device_without_sunspec(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding={40000: 1, 40001: 2})})
    bus = bus_for(server)
    with pytest.raises(SunSpecError, match="no SunSpec marker at 40000, 0, 50000"):
        await discover(bus, 1)
    bus.close()


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
