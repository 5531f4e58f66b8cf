"""Each actuator's register sequence, against real pymodbus servers that take writes.

``server.writes`` records what each device applied: (unit, function code, address, words).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from custom_components.ioe_community.devices.actuators import (
    BatteryActuator,
    ChargerActuator,
    battery_actuator,
    charger_actuator,
    timeout,
)
from custom_components.ioe_community.devices.modbus import NotAnsweringError
from custom_components.ioe_community.devices.profile import Profile, available_profiles
from custom_components.ioe_community.devices.sunspec import discover, image, resolve_profile
from custom_components.ioe_community.devices.writer import DeviceWriter, OutOfRangeError
from ioe_dev.modbus_server import ModbusTestServer, Registers, WriteCheck

from .conftest import bus_for

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

PROFILES = available_profiles()
SINGLE, MULTIPLE = 6, 16


async def battery(
    modbus_server, profile: Profile, unit: int, registers: Registers
) -> tuple[ModbusTestServer, BatteryActuator]:
    server = await modbus_server({unit: registers})
    bus = bus_for(server)
    if profile.sunspec:
        profile = resolve_profile(profile, await discover(bus, unit))
    actuator = battery_actuator(profile, DeviceWriter(profile, bus, unit))
    assert actuator is not None
    return server, actuator


# --- Huawei LUNA2000: forcible charge and discharge -------------------------------------------

LUNA = {37046: 0, 37047: 2500, 37048: 0, 37049: 3000, 47083: 0, 47100: 0, 47246: 0}
LUNA_WRITABLE = frozenset({47083, 47100, 47246, 47247, 47248, 47249, 47250})


async def luna(modbus_server, on_write: WriteCheck | None = None):
    holding = {**LUNA, 47247: 0, 47248: 0, 47249: 0, 47250: 0}
    registers = Registers(holding=holding, writable=LUNA_WRITABLE, on_write=on_write)
    return await battery(modbus_server, PROFILES["huawei_sun2000"], 1, registers)


async def test_huawei_forces_with_its_period_first_and_the_power_in_one_request(
    modbus_server,
) -> None:
    server, actuator = await luna(modbus_server)

    assert await actuator.power_limits() == (2500.0, 3000.0)
    await actuator.force(2000, 90)  # 90 s: a period of 2 minutes, never 1

    assert server.writes == [
        (1, SINGLE, 47083, (2,)),
        (1, MULTIPLE, 47247, (0, 2000)),
        (1, SINGLE, 47246, (0,)),
        (1, SINGLE, 47100, (1,)),
    ]
    assert actuator.revert_s == 1440 * 60


async def test_huawei_renews_the_period_and_command_only_when_nothing_else_changes(
    modbus_server,
) -> None:
    server, actuator = await luna(modbus_server)
    await actuator.force(2000, 60)
    server.writes.clear()

    await actuator.force(2000, 60)
    await actuator.force(-1500, 600)

    assert server.writes == [
        (1, SINGLE, 47083, (1,)),
        (1, SINGLE, 47100, (1,)),
        (1, SINGLE, 47083, (10,)),
        (1, MULTIPLE, 47249, (0, 1500)),
        (1, SINGLE, 47100, (2,)),
    ]


async def test_huawei_idles_as_a_forcible_charge_at_0_w_and_releases_once(modbus_server) -> None:
    server, actuator = await luna(modbus_server)

    await actuator.force(0, 30)
    await actuator.release()
    await actuator.release()

    assert server.writes == [
        (1, SINGLE, 47083, (1,)),
        (1, MULTIPLE, 47247, (0, 0)),
        (1, SINGLE, 47246, (0,)),
        (1, SINGLE, 47100, (1,)),
        (1, SINGLE, 47100, (0,)),
    ]


async def test_huawei_sends_nothing_beyond_what_the_battery_takes(modbus_server) -> None:
    server, actuator = await luna(modbus_server)

    with pytest.raises(OutOfRangeError):
        await actuator.force(-3500, 60)  # it discharges 3000 W at most

    assert server.writes == []


async def test_a_battery_that_stops_answering_mid_sequence_is_left_with_its_period(
    modbus_server,
) -> None:
    """The period is the first write: what the battery took reverts by itself."""
    server: ModbusTestServer | None = None

    def gone_after_the_period(address: int, words: list[int]) -> None:
        if address == 47083:
            asyncio.get_running_loop().create_task(server.stop())

    server, actuator = await luna(modbus_server, gone_after_the_period)

    with pytest.raises(NotAnsweringError):
        await actuator.force(2000, 60)

    assert server.writes == [(1, SINGLE, 47083, (1,))]


@pytest.mark.parametrize(
    ("hold_s", "minutes"), [(1, 1), (60, 1), (61, 2), (90, 2), (86_400, 1440), (10**6, 1440)]
)
def test_a_hold_is_rounded_up_to_the_devices_unit_and_clamped(hold_s: int, minutes: int) -> None:
    period = PROFILES["huawei_sun2000"].setpoint("forcible_period")

    assert timeout(period, hold_s) == minutes


# --- SunSpec model 124 ------------------------------------------------------------------------

STORAGE = {"WChaMax": 5000, "WChaMax_SF": 0, "InOutWRte_SF": -2, "StorCtl_Mod": 0}


async def test_a_sunspec_storage_is_held_between_both_rate_limits(modbus_server) -> None:
    words = image([(1, {"Mn": "Fronius"}), (124, STORAGE)])
    registers = Registers(holding=words, writable=frozenset(words))
    server, actuator = await battery(modbus_server, PROFILES["sunspec"], 1, registers)
    base = 40000 + 2 + 68  # after "SunS" and model 1 (ID, L and 66 words)
    revert, charge, discharge, mode = base + 15, base + 13, base + 12, base + 5

    assert await actuator.power_limits() == (5000.0, 5000.0)
    await actuator.force(2500, 30)  # 50 %: 5000 hundredths with InOutWRte_SF -2
    await actuator.force(-1000, 30)  # 20 % out, -20 % in
    await actuator.release()

    assert server.writes == [
        (1, SINGLE, revert, (30,)),
        (1, SINGLE, charge, (5000,)),
        (1, SINGLE, discharge, (0x10000 - 5000,)),
        (1, SINGLE, mode, (3,)),
        (1, SINGLE, revert, (30,)),
        (1, SINGLE, charge, (0x10000 - 2000,)),
        (1, SINGLE, discharge, (2000,)),
        (1, SINGLE, mode, (0,)),
    ]


async def test_a_sunspec_storage_is_sent_nothing_beyond_its_wchamax(modbus_server) -> None:
    words = image([(1, {"Mn": "Fronius"}), (124, STORAGE)])
    registers = Registers(holding=words, writable=frozenset(words))
    server, actuator = await battery(modbus_server, PROFILES["sunspec"], 1, registers)

    with pytest.raises(OutOfRangeError):
        await actuator.force(-6000, 30)  # 120 %

    assert server.writes == []


async def test_sunspec_setpoints_are_placed_where_the_chain_puts_model_124(modbus_server) -> None:
    words = image([(1, {"Mn": "Fronius"}), (124, STORAGE)])
    server = await modbus_server({1: Registers(holding=words)})
    profile = resolve_profile(PROFILES["sunspec"], await discover(bus_for(server), 1))

    charge = profile.setpoint("storage_charge_rate")
    assert (charge.address, charge.data_type, charge.scale_factor) == (
        40000 + 2 + 68 + 13,
        "s16",
        "storage_charge_rate_sf",
    )
    assert profile.register("storage_charge_rate_sf").address == 40000 + 2 + 68 + 25
    # Read only to write with: never an entity.
    assert "storage_charge_rate_sf" not in {r.key for r in profile.values}


async def test_a_sunspec_device_without_storage_controls_has_no_battery_actuator(
    modbus_server,
) -> None:
    words = image([(1, {"Mn": "SMA"}), (103, {})])
    server = await modbus_server({1: Registers(holding=words)})
    bus = bus_for(server)
    profile = resolve_profile(PROFILES["sunspec"], await discover(bus, 1))

    assert battery_actuator(profile, DeviceWriter(profile, bus, 1)) is None


# --- Victron ESS: the volatile grid setpoint -------------------------------------------------

GX = {2700: 50, 2715: 0, 2716: 0, 2717: 0}


async def test_a_victron_ess_moves_its_grid_setpoint_by_the_power_asked_for(
    modbus_server,
) -> None:
    # 300 W imported over three phases, the battery charging 500 W (842 counts charging > 0).
    inputs = {820: 200, 821: 60, 822: 40, 842: 500}
    registers = Registers(holding=dict(GX), input=inputs, writable=frozenset({2716, 2717}))
    server, actuator = await battery(modbus_server, PROFILES["victron_gx"], 100, registers)

    await actuator.force(1000, 30)  # 500 W more into the battery: 800 W from the grid
    await actuator.release()

    assert server.writes == [
        (100, MULTIPLE, 2716, (0, 800)),
        (100, MULTIPLE, 2716, (0, 0)),
    ]
    assert actuator.revert_s == 60


# --- KEBA P30 / P40 ---------------------------------------------------------------------------

KEBA = PROFILES["keba_p30"]
KEBA_WRITABLE = frozenset({5004, 5014, 5016, 5018})


def keba_station(holding: dict[int, int]) -> WriteCheck:
    """Report what is written where KEBA does: the current offered, the failsafe."""

    def write(address: int, words: list[int]) -> None:
        reported = {5004: 1101, 5016: 1601, 5018: 1603}.get(address)
        if reported is not None:
            holding[reported] = words[0]

    return write


async def keba(
    modbus_server, product: tuple[int, int], interval_s: float = 0
) -> tuple[ModbusTestServer, ChargerActuator]:
    holding = {
        1016: product[0],
        1017: product[1],
        1100: 0,
        1101: 0,
        **dict.fromkeys(range(1600, 1604), 0),
        **dict.fromkeys(KEBA_WRITABLE, 0),
    }
    registers = Registers(holding=holding, writable=KEBA_WRITABLE, on_write=keba_station(holding))
    server = await modbus_server({255: registers})
    profile = replace(KEBA, write_interval_s=interval_s)
    actuator = charger_actuator(profile, DeviceWriter(profile, bus_for(server), 255), phases=1)
    assert actuator is not None
    return server, actuator


P30, P40 = (0x0004, 0xA3EF), (0x0040, 0x4657)  # 304111, 4212311


async def test_a_keba_p30_arms_its_failsafe_then_sets_and_enables(modbus_server) -> None:
    server, actuator = await keba(modbus_server, P30)

    await actuator.set_current(16, 55)
    await actuator.set_current(0, 55)

    assert server.writes == [
        (255, SINGLE, 5018, (55,)),
        (255, SINGLE, 5016, (0,)),
        (255, SINGLE, 5004, (16000,)),
        (255, SINGLE, 5014, (1,)),
        (255, SINGLE, 5018, (55,)),
        (255, SINGLE, 5014, (0,)),  # a P30 pauses through its enable: 5004 keeps 16 A
    ]
    assert (actuator.min_current_a, actuator.max_current_a, actuator.phases) == (6, 32, 1)
    assert actuator.revert_s == 600


async def test_a_keba_p40_pauses_at_0_a(modbus_server) -> None:
    server, actuator = await keba(modbus_server, P40)

    await actuator.set_current(10, 5)  # below KEBA's 10 s: the shortest failsafe
    await actuator.set_current(0, 5)

    assert server.writes == [
        (255, SINGLE, 5018, (10,)),
        (255, SINGLE, 5016, (0,)),
        (255, SINGLE, 5004, (10000,)),
        (255, SINGLE, 5018, (10,)),
        (255, SINGLE, 5004, (0,)),
    ]


async def test_a_keba_is_released_to_its_minimum_current_with_its_failsafe(
    modbus_server,
) -> None:
    server, actuator = await keba(modbus_server, P30)

    await actuator.release(paused=False)

    assert server.writes == [
        (255, SINGLE, 5016, (6000,)),
        (255, SINGLE, 5004, (6000,)),
        (255, SINGLE, 5014, (1,)),
    ]


async def test_a_keba_refuses_1_to_5_a_before_writing_anything(modbus_server) -> None:
    server, actuator = await keba(modbus_server, P40)

    with pytest.raises(OutOfRangeError):
        await actuator.set_current(3, 60)

    assert server.writes == []


async def test_a_keba_is_written_no_more_often_than_every_interval(modbus_server) -> None:
    """Commands within KEBA's interval (0.3 s here): a refresh is skipped, a change waits."""
    server, actuator = await keba(modbus_server, P30, interval_s=0.3)
    loop = asyncio.get_running_loop()

    started = loop.time()
    await actuator.set_current(16, 60)
    await actuator.set_current(16, 60)
    assert len(server.writes) == 4  # nothing again: the station was just told
    await actuator.set_current(10, 60)

    assert loop.time() - started >= 0.3
    # The failsafe timeout was just written: not again. The new current waited for it (the
    # enable, a refresh, is renewed or not depending on whether its own interval has passed).
    assert server.writes[4] == (255, SINGLE, 5004, (10000,))
    assert (255, SINGLE, 5018, (60,)) not in server.writes[4:]
