"""What a setpoint may be written as, per device: its model, its firmware, its limits.

Devices are real pymodbus servers: a KEBA P30 and P40 told apart by their product type (1016),
a Victron GX before and after Venus OS 3.50 (which added the grid setpoint at 2716).
"""

from __future__ import annotations

import pytest

from custom_components.ioe_community.devices.modbus import DeviceReader
from custom_components.ioe_community.devices.profile import (
    Limits,
    Refusal,
    SetpointRefusedError,
    available_profiles,
)
from ioe_dev.modbus_server import ModbusTestServer, Registers

from .conftest import bus_for

PROFILES = available_profiles()
KEBA = PROFILES["keba_p30"]
VICTRON = PROFILES["victron_gx"]
GX_UNIT = 100
# The ESS settings a GX serves (2700 on; the test server answers its table's range only). Venus
# OS before 3.50 ends before 2716; from 3.50 it has 2716-2717, the 32-bit grid setpoint (50 W).
OLD_GX = {2700: 50, 2715: 0}
NEW_GX = {**OLD_GX, 2716: 0, 2717: 50}


async def read_keba(modbus_server, holding: dict[int, int]) -> dict[str, float | str | None]:
    server = await modbus_server({255: Registers(holding=holding)})
    bus = bus_for(server)
    values = (await DeviceReader(KEBA, bus, 255, keys=KEBA.always_read).poll()).values
    bus.close()
    return values


@pytest.mark.usefixtures("allow_local_sockets")
@pytest.mark.parametrize(
    ("vector", "model", "pause"),
    [(0, "KeContact P30", None), (2, "KeContact P40", 0.0)],
)
async def test_a_keba_p40_pauses_at_0_a_a_p30_does_not(
    modbus_server, vector: int, model: str, pause: float | None
) -> None:
    values = await read_keba(modbus_server, dict(KEBA.test_vectors[vector].holding))

    found = KEBA.identify(values)
    assert found is not None
    assert found.name == model
    limits = KEBA.setpoint("charging_current").limits(values, model=found)
    assert limits == Limits(minimum=6.0, maximum=32.0, pause=pause)
    assert limits.allows(0) is (pause is not None)
    assert limits.allows(16)
    # 1-5 A is no charging current at all, on either.
    assert not limits.allows(3)


@pytest.mark.usefixtures("allow_local_sockets")
async def test_an_unknown_keba_is_driven_as_the_strictest(modbus_server) -> None:
    """A product type of neither family (here 0): 6-32 A, no pause, right for both."""
    holding = {**KEBA.test_vectors[2].holding, 1016: 0, 1017: 0}
    values = await read_keba(modbus_server, holding)

    assert KEBA.identify(values) is None
    assert KEBA.setpoint("charging_current").limits(values) == Limits(minimum=6.0, maximum=32.0)


async def gx(modbus_server, holding: dict[int, int]) -> tuple[ModbusTestServer, DeviceReader]:
    vector = VICTRON.test_vectors[0]
    server = await modbus_server({GX_UNIT: Registers(input=dict(vector.input), holding=holding)})
    return server, DeviceReader(VICTRON, bus_for(server), GX_UNIT)


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_gx_from_venus_3_50_takes_the_grid_setpoint(modbus_server) -> None:
    server, reader = await gx(modbus_server, NEW_GX)
    setpoint = VICTRON.setpoint("ess_grid_setpoint")

    present = await reader.has_registers(setpoint.address, setpoint.count)
    reader.bus.close()

    assert present is True
    # Only the setpoint's own two words are asked for: a gap in a wider read is refused too.
    assert server.requests[-1] == (GX_UNIT, 3, 2716, 2)
    assert setpoint.limits({}, present=present) == Limits(minimum=-100_000.0, maximum=100_000.0)


@pytest.mark.usefixtures("allow_local_sockets")
async def test_an_older_gx_is_refused_the_grid_setpoint(modbus_server) -> None:
    _server, reader = await gx(modbus_server, OLD_GX)
    setpoint = VICTRON.setpoint("ess_grid_setpoint")

    present = await reader.has_registers(setpoint.address, setpoint.count)
    reader.bus.close()

    assert present is False  # "illegal data address"
    with pytest.raises(SetpointRefusedError) as refused:
        setpoint.limits({}, present=present)
    assert refused.value.refusal is Refusal.NEEDS_FIRMWARE
    assert refused.value.placeholders == {"address": "2716", "firmware": "Venus OS 3.50"}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_gx_that_does_not_answer_is_not_taken_for_an_old_one(modbus_server) -> None:
    server, reader = await gx(modbus_server, NEW_GX)
    setpoint = VICTRON.setpoint("ess_grid_setpoint")
    await server.stop()

    present = await reader.has_registers(setpoint.address, setpoint.count)
    reader.bus.close()

    assert present is None
    with pytest.raises(SetpointRefusedError) as refused:
        setpoint.limits({}, present=present)
    assert refused.value.refusal is Refusal.SUPPORT_UNKNOWN


def test_setpoints_without_a_firmware_rule_need_no_probe() -> None:
    minimum_soc = VICTRON.setpoint("ess_minimum_soc")

    assert minimum_soc.since is None
    assert minimum_soc.limits({}) == Limits(minimum=0.0, maximum=100.0)
