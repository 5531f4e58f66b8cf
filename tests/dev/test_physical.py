"""The simulated devices obey setpoints as the vendors document, over real Modbus TCP.

Each device is served by a real pymodbus server and read and written by pymodbus's own client
(not the integration's code), with register addresses from the vendors' documents: a device
that ignored a command, overran a limit or lost energy fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import datetime as dt
import struct
from zoneinfo import ZoneInfo

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ModbusPDU
import pytest

from ioe_dev.modbus_server import ModbusTestServer
from ioe_dev.physical import (
    Car,
    Cells,
    Device,
    GridMeter,
    Home,
    HuaweiBattery,
    KebaCharger,
    SunSpecStorage,
    VictronEss,
)

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Madrid"))
ILLEGAL_ADDRESS, ILLEGAL_VALUE, NO_RESPONSE = 2, 3, 11


class Wire:
    """A pymodbus client on one device's server: words in, words out, exceptions as codes."""

    def __init__(self, client: AsyncModbusTcpClient) -> None:
        """Talk through ``client``."""
        self.client = client

    async def read(
        self, unit: int, address: int, count: int = 1, *, input_: bool = False
    ) -> list[int]:
        """Return the words, failing the test on an exception."""
        response = await self._read(unit, address, count, input_)
        assert not response.isError(), response
        return list(response.registers)

    async def refused(self, unit: int, address: int, count: int = 1) -> int:
        """Return the exception code a read answers."""
        response = await self._read(unit, address, count, False)
        assert response.isError()
        return int(response.exception_code)

    async def _read(self, unit: int, address: int, count: int, input_: bool) -> ModbusPDU:
        reader = self.client.read_input_registers if input_ else self.client.read_holding_registers
        return await reader(address, count=count, device_id=unit)

    async def write(self, unit: int, address: int, *words: int) -> int:
        """Write one word (function 6) or several (16); return 0 or the exception code."""
        values = [w % 0x10000 for w in words]
        if len(values) == 1:
            response = await self.client.write_register(address, values[0], device_id=unit)
        else:
            response = await self.client.write_registers(address, values, device_id=unit)
        return int(response.exception_code) if response.isError() else 0

    async def u32(self, unit: int, address: int) -> int:
        """Read a 32-bit unsigned value, high word first."""
        high, low = await self.read(unit, address, 2)
        return high << 16 | low

    async def s32(self, unit: int, address: int) -> int:
        """Read a 32-bit signed value, high word first."""
        value = await self.u32(unit, address)
        return value - (1 << 32) if value >= 1 << 31 else value

    async def s16(self, unit: int, address: int, *, input_: bool = False) -> int:
        """Read a 16-bit signed value."""
        (value,) = await self.read(unit, address, input_=input_)
        return value - (1 << 16) if value >= 1 << 15 else value


@contextlib.asynccontextmanager
async def served(device: Device) -> AsyncIterator[Wire]:
    """Serve ``device`` on its own port and connect a client to it."""
    server = ModbusTestServer(units=device.units)
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
    await client.connect()
    try:
        yield Wire(client)
    finally:
        client.close()
        await server.stop()


def u32(value: int) -> tuple[int, int]:
    """Return the two words of a 32-bit value, high word first."""
    return value >> 16 & 0xFFFF, value & 0xFFFF


async def meter_power_w(wire: Wire) -> float:
    """Read the SDM630's total system power: input register 52, float32 (Eastron's map)."""
    words = await wire.read(1, 52, 2, input_=True)
    return float(struct.unpack(">f", struct.pack(">HH", *words))[0])


# Huawei SUN2000 + LUNA2000 (unit 1): 37001 power, 37004 SoC ‰, 47xxx settings.


async def test_a_forced_charge_integrates_its_energy_and_ends_after_its_duration() -> None:
    home = Home(NOON, pv_w=0.0, load_w=500.0)
    battery = home.add(HuaweiBattery(Cells(10.0, soc=0.2)))
    meter = home.add(GridMeter())
    async with served(battery) as wire, served(meter) as meter_wire:
        assert await wire.write(1, 47247, *u32(2000)) == 0
        assert await wire.write(1, 47083, 30) == 0
        assert await wire.write(1, 47246, 0) == 0
        assert await wire.write(1, 47100, 1) == 0
        home.advance(1800)
        assert await wire.s32(1, 37001) == 2000  # charging regardless of the home's deficit
        assert await meter_power_w(meter_wire) == pytest.approx(2500, abs=0.5)
        # 1 kWh taken from the home; 95 % of it stored: 9.5 points of a 10 kWh battery.
        assert battery.cells.charged_kwh == pytest.approx(1.0, rel=1e-3)
        (soc,) = await wire.read(1, 37004)
        assert abs(soc / 10 - 29.5) <= 0.1
        assert (await wire.read(1, 37760)) == [soc]
        assert (await wire.read(1, 47100)) == [1]  # the 30 minutes are not over yet
        home.advance(1)
        assert (await wire.read(1, 47100)) == [0]  # over: back to its own mode
        assert await wire.s32(1, 37001) == -475  # covering 95 % of the 500 W load
        assert await meter_power_w(meter_wire) == pytest.approx(25, abs=0.5)


async def test_a_refreshed_forced_period_goes_on() -> None:
    home = Home(NOON, pv_w=0.0, load_w=0.0)
    battery = home.add(HuaweiBattery(Cells(10.0, soc=0.5)))
    async with served(battery) as wire:
        assert await wire.write(1, 47249, *u32(1500)) == 0
        assert await wire.write(1, 47083, 1) == 0
        assert await wire.write(1, 47100, 2) == 0
        for _ in range(4):  # as evcc does: one minute, written again every 15 s
            home.advance(45)
            assert await wire.write(1, 47083, 1) == 0
        home.advance(45)
        assert await wire.s32(1, 37001) == -1500
        home.advance(16)
        assert await wire.s32(1, 37001) == 0
        assert (await wire.read(1, 47100)) == [0]


async def test_the_battery_refuses_values_out_of_range_and_keeps_its_settings() -> None:
    home = Home(NOON)
    battery = home.add(HuaweiBattery(Cells(10.0), rated_charge_w=5000))
    async with served(battery) as wire:
        assert await wire.write(1, 47083, 1441) == ILLEGAL_VALUE
        assert await wire.write(1, 47247, *u32(5001)) == ILLEGAL_VALUE
        assert await wire.write(1, 47075, *u32(6000)) == ILLEGAL_VALUE
        assert await wire.write(1, 47100, 3) == ILLEGAL_VALUE
        assert await wire.write(1, 47248, 100) == ILLEGAL_ADDRESS  # half a 32-bit setting
        assert await wire.write(1, 37001, 0) == ILLEGAL_ADDRESS  # a measurement
        assert (await wire.read(1, 47083)) == [0]
        assert await wire.u32(1, 47247) == 0
        assert await wire.u32(1, 47075) == 5000
        assert await wire.write(1, 47083, 1440) == 0


async def test_the_battery_stays_within_its_power_limits_and_soc_cutoffs() -> None:
    home = Home(NOON, pv_w=9000.0, load_w=300.0)
    battery = home.add(HuaweiBattery(Cells(10.0, soc=0.25)))
    async with served(battery) as wire:
        assert await wire.write(1, 47075, *u32(1200)) == 0
        assert await wire.write(1, 47081, 300) == 0  # stop charging at 30 %
        home.advance(1)
        assert await wire.s32(1, 37001) == 1200  # 8.7 kW of surplus, 1.2 kW allowed
        assert await wire.write(1, 47247, *u32(4000)) == 0
        assert await wire.write(1, 47083, 600) == 0
        assert await wire.write(1, 47100, 1) == 0
        for _ in range(30):
            home.advance(60)
            assert await wire.s32(1, 37001) <= 1200
            (soc,) = await wire.read(1, 37004)
            assert soc <= 300
        assert battery.cells.soc == pytest.approx(0.30)
        assert await wire.s32(1, 37001) == 0  # full to its cut-off
        assert (await wire.read(1, 47100)) == [0]  # the forced charge ended there


async def test_a_forced_charge_to_a_target_soc_ends_there() -> None:
    home = Home(NOON, pv_w=0.0, load_w=0.0)
    battery = home.add(HuaweiBattery(Cells(10.0, soc=0.40, charge_efficiency=1.0)))
    async with served(battery) as wire:
        assert await wire.write(1, 47247, *u32(5000)) == 0
        assert await wire.write(1, 47101, 450) == 0  # 45.0 %
        assert await wire.write(1, 47246, 1) == 0  # until the SoC, not for a time
        assert await wire.write(1, 47100, 1) == 0
        home.advance(6 * 60)  # 0.5 kWh at 5 kW
        assert (await wire.read(1, 37004)) == [450]
        home.advance(1)
        assert (await wire.read(1, 47100)) == [0]
        assert await wire.s32(1, 37001) == 0


# Victron GX, ESS: unit 100 (2700/2716 setpoints, 2902 mode, 842/843), VE.Bus unit 227 (37).


async def test_victron_meets_the_grid_setpoint_until_the_override_lapses() -> None:
    home = Home(NOON, pv_w=3000.0, load_w=1000.0)
    ess = home.add(VictronEss(Cells(10.0, soc=0.5), override_timeout_s=60))
    meter = home.add(GridMeter())
    async with served(ess) as wire, served(meter) as meter_wire:
        assert await wire.write(100, 2902, 2) == 0
        assert await wire.write(100, 2716, *u32(500)) == 0  # import 500 W
        home.advance(10)
        assert await wire.s16(100, 842, input_=True) == 2500  # 2 kW of surplus + 500 W
        assert await meter_power_w(meter_wire) == pytest.approx(500, abs=0.5)
        assert await wire.s16(100, 820, input_=True) == 500
        home.advance(51)  # not written again within 60 s: back to 2700 (0 W)
        assert await wire.s32(100, 2716) == 0
        assert await wire.s16(100, 842, input_=True) == 2000
        assert await meter_power_w(meter_wire) == pytest.approx(0, abs=0.5)
        assert await wire.write(100, 2702, 20) == 0  # discharge at most 20 % of 5 kW
        home.pv_w = 0.0
        assert await wire.write(100, 2716, *u32(-3000)) == 0  # export 3 kW: not possible
        home.advance(5)
        assert await wire.s16(100, 842, input_=True) == -1000
        assert await meter_power_w(meter_wire) == pytest.approx(0, abs=0.5)


async def test_victron_mode_3_follows_its_setpoint_and_drops_to_passthru_without_it() -> None:
    home = Home(NOON, pv_w=0.0, load_w=800.0)
    ess = home.add(VictronEss(Cells(10.0, soc=0.5), setpoint_timeout_s=10))
    async with served(ess) as wire:
        assert await wire.write(227, 37, -1500) == 0
        home.advance(2)
        # In ESS mode the GX writes 37 itself: the Multi covers the load, not the 1500 W.
        assert await wire.s16(100, 842) == -800
        assert await wire.write(100, 2902, 3) == 0
        assert await wire.write(227, 37, -1500) == 0
        home.advance(5)
        assert await wire.s16(100, 842) == -1500  # feeding 700 W into the grid
        assert await wire.write(227, 39, 1) == 0  # no feeding in: only the home's load
        home.advance(5)
        assert await wire.s16(100, 842) == -800
        home.advance(6)  # 11 s since the last write of 37
        assert await wire.s16(100, 842) == 0
        assert (await wire.read(227, 31)) == [8]  # passthru
        assert await wire.write(100, 2902, 4) == ILLEGAL_VALUE


async def test_victron_discharges_no_lower_than_its_minimum_soc() -> None:
    home = Home(NOON, pv_w=0.0, load_w=2000.0)
    ess = home.add(VictronEss(Cells(5.0, soc=0.3, discharge_efficiency=1.0), min_soc=0.1))
    async with served(ess) as wire:
        assert await wire.write(100, 2901, 200) == 0  # 20.0 %
        home.advance(1800)  # 0.5 kWh of 5 kWh: from 30 % to 20 %, then no more
        assert (await wire.read(100, 843, input_=True)) == [20]
        assert await wire.s16(100, 842, input_=True) == 0
        assert ess.cells.discharged_kwh == pytest.approx(0.5, rel=1e-3)


# SunSpec model 124 on a Fronius GEN24-like inverter (unit 1), found by walking the chain.


async def storage_model(wire: Wire) -> int:
    """Walk the SunSpec chain from 40000 to model 124's ID register."""
    assert await wire.read(1, 40000, 2) == [0x5375, 0x6E53]  # "SunS"
    address = 40002
    while (header := await wire.read(1, address, 2))[0] != 124:
        assert header[0] != 0xFFFF, "no model 124"
        address += 2 + header[1]
    assert header[1] == 24
    return address


async def test_sunspec_storage_holds_forces_charging_and_reverts() -> None:
    home = Home(NOON, pv_w=0.0, load_w=1000.0)
    storage = home.add(SunSpecStorage(Cells(10.0, soc=0.5), rated_charge_w=5000))
    meter = home.add(GridMeter())
    async with served(storage) as wire, served(meter) as meter_wire:
        base = await storage_model(wire)
        ctl, out_rate, in_rate, revert, grid = (base + o for o in (5, 12, 13, 15, 17))
        home.advance(1)
        assert await meter_power_w(meter_wire) == pytest.approx(50, abs=0.5)  # its own mode
        assert await wire.write(1, ctl, 2) == 0
        assert await wire.write(1, out_rate, 0) == 0  # hold: no discharging
        home.advance(1)
        assert await meter_power_w(meter_wire) == pytest.approx(1000, abs=0.5)
        assert (await wire.read(1, base + 11)) == [6]  # ChaSt HOLDING
        assert await wire.write(1, out_rate, -5000) == 0  # -50.00 %: charge at 2.5 kW
        home.advance(1)
        assert await meter_power_w(meter_wire) == pytest.approx(3500, abs=0.5)
        assert (await wire.read(1, base + 11)) == [4]  # CHARGING
        assert await wire.write(1, grid, 0) == 0  # no charging from the grid
        home.advance(1)
        assert await meter_power_w(meter_wire) == pytest.approx(1000, abs=0.5)
        assert await wire.write(1, grid, 1) == 0
        assert await wire.write(1, revert, 60) == 0
        assert await wire.write(1, out_rate, -5000) == 0  # the revert counts from here
        home.advance(60)
        assert await meter_power_w(meter_wire) == pytest.approx(3500, abs=0.5)
        home.advance(1)  # 61 s since the rates were written: unlimited again
        assert (await wire.read(1, ctl)) == [0]
        assert await meter_power_w(meter_wire) == pytest.approx(50, abs=0.5)
        assert await wire.write(1, in_rate, 10001) == ILLEGAL_VALUE
        assert await wire.write(1, base + 8, 0) == ILLEGAL_ADDRESS  # ChaState: read-only


async def test_sunspec_soc_follows_the_energy() -> None:
    home = Home(NOON, pv_w=0.0, load_w=0.0)
    storage = home.add(SunSpecStorage(Cells(10.0, soc=0.5), rated_charge_w=4000))
    async with served(storage) as wire:
        base = await storage_model(wire)
        assert await wire.write(1, base + 5, 1) == 0
        assert await wire.write(1, base + 13, -5000) == 0  # forced discharge at 2 kW
        home.advance(3600)
        # 2 kWh given to the home; 2 / 0.95 kWh out of a 10 kWh battery; ChaState_SF -2.
        (soc,) = await wire.read(1, base + 8)
        assert abs(soc / 100 - (50 - 200 / 0.95 / 10)) <= 0.1
        assert storage.cells.discharged_kwh == pytest.approx(2.0, rel=1e-3)


# KEBA P30/P40 (unit 255): 1000 state, 1004 cable, 1020 power (mW), 5004 current, 5014 enable.


async def test_the_car_follows_the_current_after_its_delay_and_stops_when_full() -> None:
    home = Home(NOON)
    charger = home.add(KebaCharger("p30", ramp_delay_s=5))
    car = Car(capacity_kwh=10.0, soc=0.9, target_soc=1.0, max_current_a=16.0, phases=3)
    async with served(charger) as wire:
        assert await wire.u32(255, 1000) == 1  # no car
        assert await wire.u32(255, 1004) == 0
        charger.plug(car)
        home.advance(1)
        assert await wire.u32(255, 1000) == 2  # waiting for the car to follow
        assert await wire.u32(255, 1004) == 7
        home.advance(5)
        assert await wire.u32(255, 1000) == 3
        assert await wire.u32(255, 1020) == 16 * 230 * 3 * 1000  # mW
        assert await wire.write(255, 5004, 10000) == 0
        home.advance(4)
        assert await wire.u32(255, 1020) == 16 * 230 * 3 * 1000  # not yet
        home.advance(1)
        assert await wire.u32(255, 1020) == 10 * 230 * 3 * 1000
        assert await wire.u32(255, 1100) == 10000
        assert await wire.refused(255, 5004) == ILLEGAL_ADDRESS  # write-only
        assert await wire.refused(255, 1000, 4) == ILLEGAL_ADDRESS  # one value at a time
        home.advance(3 * 3600)
        assert car.soc == pytest.approx(1.0)
        assert await wire.u32(255, 1020) == 0
        assert await wire.u32(255, 1000) == 2  # plugged, the car takes nothing
        # 1 kWh into the car through a 90 % charger: 1.111 kWh counted, in 0.1 Wh.
        assert await wire.u32(255, 1036) == pytest.approx(11111, abs=2)


async def test_a_p30_pauses_with_enable_and_a_p40_with_zero_current() -> None:
    home = Home(NOON)
    p30 = home.add(KebaCharger("p30", ramp_delay_s=2))
    p40 = home.add(KebaCharger("p40", ramp_delay_s=2))
    p30.plug(Car(phases=1))
    p40.plug(Car(phases=1))
    home.advance(3)
    async with served(p30) as p30_wire, served(p40) as p40_wire:
        assert await p30_wire.write(255, 5004, 0) == ILLEGAL_VALUE
        assert await p30_wire.write(255, 5004, 5999) == ILLEGAL_VALUE
        assert await p30_wire.write(255, 5014, 0) == 0
        assert await p40_wire.write(255, 5014, 0) == ILLEGAL_ADDRESS
        assert await p40_wire.write(255, 5004, 0) == 0
        home.advance(2)
        for wire in (p30_wire, p40_wire):
            assert await wire.u32(255, 1000) == 5  # suspended
            assert await wire.u32(255, 1020) == 0
        assert await p30_wire.write(255, 5014, 1) == 0
        assert await p40_wire.write(255, 5004, 8000) == 0
        home.advance(2)
        assert await p30_wire.u32(255, 1020) == 16 * 230 * 1000  # its last current, 63 A cap
        assert await p40_wire.u32(255, 1020) == 8 * 230 * 1000


async def test_the_charger_falls_back_to_its_failsafe_current_without_writes() -> None:
    home = Home(NOON)
    charger = home.add(KebaCharger("p30", ramp_delay_s=1))
    charger.plug(Car(phases=3, max_current_a=32))
    async with served(charger) as wire:
        assert await wire.write(255, 5016, 6000) == 0
        assert await wire.write(255, 5018, 10) == 0
        assert await wire.write(255, 5004, 20000) == 0
        assert await wire.u32(255, 1602) == 10  # shown at once
        home.advance(10)
        assert await wire.u32(255, 1602) == 10
        assert await wire.u32(255, 1600) == 6000
        assert await wire.u32(255, 1020) == 20 * 230 * 3 * 1000
        home.advance(2)  # 12 s without a write: failsafe, 6 A
        assert await wire.u32(255, 1100) == 6000
        assert await wire.u32(255, 1020) == 6 * 230 * 3 * 1000
        assert await wire.write(255, 5016, 0) == 0  # failsafe 0: stop
        home.advance(1)
        assert await wire.u32(255, 1000) == 5
        assert await wire.u32(255, 1020) == 0
        assert await wire.write(255, 5004, 16000) == 0  # the controller is back
        home.advance(2)
        assert await wire.u32(255, 1020) == 16 * 230 * 3 * 1000
        assert await wire.write(255, 5018, 9) == ILLEGAL_VALUE  # 0 or 10-600 s
        assert charger.settings_written == [
            (0, 5016, 6000), (0, 5018, 10), (0, 5004, 20000), (12, 5016, 0), (13, 5004, 16000),
        ]  # fmt: skip


# The meter: the physics' balance; devices that stop answering.


async def test_the_meter_reads_the_balance_of_everything_in_the_home() -> None:
    home = Home(NOON, pv_w=lambda now: 4000.0 if now.hour < 13 else 0.0, load_w=700.0)
    charger = home.add(KebaCharger("p40", ramp_delay_s=0))
    battery = home.add(HuaweiBattery(Cells(10.0, soc=0.5)))
    meter = home.add(GridMeter())
    charger.plug(Car(phases=1, max_current_a=10))
    async with served(charger) as car_wire, served(battery) as wire, served(meter) as m_wire:
        for seconds in (1, 1800, 1800, 1800):
            home.advance(seconds)
            pv_w = 4000.0 if home.now.hour < 13 else 0.0
            car_w = await car_wire.u32(255, 1020) / 1000
            battery_w = await wire.s32(1, 37001)
            assert car_w == 10 * 230
            assert await meter_power_w(m_wire) == pytest.approx(
                700 + car_w + battery_w - pv_w, abs=1
            )
        assert battery_w < 0  # 13:30: discharging for the home and the car


async def test_devices_stop_answering_when_asked() -> None:
    home = Home(NOON, load_w=300.0)
    meter = home.add(GridMeter())
    battery = home.add(HuaweiBattery(Cells(10.0), unit=2))
    twins = Home(NOON)
    twins.add(HuaweiBattery(Cells(10.0)))
    twins.add(GridMeter())
    with pytest.raises(ValueError, match="two devices at unit 1"):
        ModbusTestServer(units=twins.units)
    server = ModbusTestServer(units=home.units)  # both behind one gateway
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=1, retries=0)
    await client.connect()
    wire = Wire(client)
    try:
        meter.answering = False
        home.advance(1)
        response = await client.read_input_registers(52, count=2, device_id=1)
        assert response.isError()
        assert response.exception_code == NO_RESPONSE
        assert await wire.write(2, 47100, 1) == 0  # the other device is still there
        battery.answering = False
        assert await wire.write(2, 47100, 0) == NO_RESPONSE
        assert await wire.refused(2, 37001) == NO_RESPONSE
        meter.answering = battery.answering = True
        assert await wire.read(2, 47100) == [1]  # the refused write changed nothing
        assert await meter_power_w(wire) == pytest.approx(15, abs=0.5)  # 95 % covered
        await server.stop()  # gone from the network
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(52, count=2, device_id=1)
    finally:
        client.close()
        await server.stop()
