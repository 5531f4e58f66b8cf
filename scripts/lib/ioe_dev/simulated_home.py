"""A simulated home's Modbus devices for the demo: a grid meter, a hybrid inverter, a charger.

One Modbus TCP endpoint serves an Eastron SDM630 at unit 1, a Huawei SUN2000 with its
LUNA2000 battery at unit 2 and a KEBA P30 EV charger at unit 3, encoded with the same profiles
the integration reads. Every second the values follow the local time of day: a clear-ish solar
day on a 4 kWp roof, a household load with morning and evening peaks, a 10 kWh battery that
stores surplus and covers the evening, and a car that charges at 3.7 kW in the early afternoon
(on the sun) and late at night. Energy counters only ever increase, as real ones do.

    python -m ioe_dev.simulated_home --port 1502
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import datetime as dt
import math
import random
from zoneinfo import ZoneInfo

from custom_components.ioe_community.devices.decode import encode
from custom_components.ioe_community.devices.profile import Profile, available_profiles
from ioe_dev.modbus_server import ModbusTestServer, Registers

PV_PEAK_W = 4000.0
BATTERY_KWH = 10.0
BATTERY_MAX_W = 2500.0
EV_CHARGING_W = 3680.0  # 16 A on one phase
EV_HOURS = ((13.0, 15.0), (23.0, 24.0))
METER_UNIT = 1
INVERTER_UNIT = 2
CHARGER_UNIT = 3


@dataclass
class HomeState:
    """The physical state that the devices report."""

    import_kwh: float = 1234.5
    export_kwh: float = 321.0
    pv_kwh: float = 5432.1
    charged_kwh: float = 210.0
    discharged_kwh: float = 190.0
    ev_kwh: float = 876.5
    session_kwh: float = 0.0
    soc: float = 0.5

    def step(self, now: dt.datetime, seconds: float, rng: random.Random) -> dict[str, float]:
        """Advance ``seconds`` at local time ``now``; return the instantaneous powers (W)."""
        hour = now.hour + now.minute / 60
        sun = max(0.0, math.sin(math.pi * (hour - 7.5) / 12.0))
        pv_w = PV_PEAK_W * sun**1.3 * rng.uniform(0.85, 1.0)
        load_w = (
            250
            + 900 * math.exp(-(((hour - 8.0) / 1.2) ** 2))
            + 1500 * math.exp(-(((hour - 21.0) / 1.8) ** 2))
            + rng.uniform(0, 150)
        )
        ev_w = EV_CHARGING_W if any(a <= hour < b for a, b in EV_HOURS) else 0.0
        if ev_w and not self.session_kwh:
            self.session_kwh = 0.0001  # a session starts
        load_w += ev_w
        surplus_w = pv_w - load_w
        if surplus_w > 0 and self.soc < 1.0:
            battery_w = min(surplus_w, BATTERY_MAX_W)  # charging
        elif surplus_w < 0 and self.soc > 0.1:
            battery_w = max(surplus_w, -BATTERY_MAX_W)  # discharging
        else:
            battery_w = 0.0
        grid_w = load_w + battery_w - pv_w  # > 0 imports
        hours = seconds / 3600
        self.soc = min(1.0, max(0.0, self.soc + battery_w * hours / 1000 / BATTERY_KWH))
        self.pv_kwh += pv_w * hours / 1000
        self.charged_kwh += max(battery_w, 0) * hours / 1000
        self.discharged_kwh += max(-battery_w, 0) * hours / 1000
        self.import_kwh += max(grid_w, 0) * hours / 1000
        self.export_kwh += max(-grid_w, 0) * hours / 1000
        self.ev_kwh += ev_w * hours / 1000
        self.session_kwh = self.session_kwh + ev_w * hours / 1000 if ev_w else 0.0
        return {
            "pv_w": pv_w, "load_w": load_w, "battery_w": battery_w, "grid_w": grid_w, "ev_w": ev_w,
        }  # fmt: skip


def write_values(profile: Profile, table: dict[int, int], values: dict[str, float | str]) -> None:
    """Encode values into a device's registers as its profile places them."""
    for key, value in values.items():
        register = profile.register(key)
        for offset, word in enumerate(encode(register, value)):
            table[register.address + offset] = word


def refresh(
    state: HomeState,
    powers: dict[str, float],
    meter: Registers,
    inverter: Registers,
    charger: Registers,
) -> None:
    """Encode the home's state into the devices' registers."""
    profiles = available_profiles()
    grid_w = powers["grid_w"]
    write_values(
        profiles["eastron_sdm630"],
        meter.input,
        {
            "voltage_l1": 231.0, "voltage_l2": 229.8, "voltage_l3": 232.4,
            "current_l1": abs(grid_w) / 231.0, "current_l2": 0.4, "current_l3": 0.3,
            "power_l1": grid_w, "power_l2": 0.0, "power_l3": 0.0, "power": grid_w,
            "power_factor": 0.97, "frequency": 50.0,
            "import_energy": state.import_kwh, "export_energy": state.export_kwh,
        },
    )  # fmt: skip
    write_values(
        profiles["huawei_sun2000"],
        inverter.holding,
        {
            "model_name": "SUN2000-4KTL-M1", "serial": "HV0000DEMO01",
            "pv_power": powers["pv_w"], "active_power": powers["pv_w"] - powers["battery_w"],
            "grid_frequency": 50.0, "internal_temperature": 31.5,
            "pv_energy": state.pv_kwh, "daily_pv_energy": 0.0,
            "meter_voltage_l1": 231.0, "meter_power": -grid_w,
            "grid_export_energy": state.export_kwh, "grid_import_energy": state.import_kwh,
            "battery_soc": 100 * state.soc, "battery_power": powers["battery_w"],
            "battery_charge_energy": state.charged_kwh,
            "battery_discharge_energy": state.discharged_kwh,
        },
    )  # fmt: skip
    charging = powers["ev_w"] > 0
    write_values(
        profiles["keba_p30"],
        charger.holding,
        {
            "charging_state": 3 if charging else 2, "cable_state": 7, "error_code": 0,
            "current_l1": powers["ev_w"] / 230.0, "current_l2": 0.0, "current_l3": 0.0,
            "serial": 22012345, "power": powers["ev_w"], "ev_energy": state.ev_kwh,
            "voltage_l1": 230.0, "voltage_l2": 0.0, "voltage_l3": 0.0, "max_current": 16.0,
            "session_energy": state.session_kwh,
        },
    )  # fmt: skip


async def serve(port: int, tz: str = "Europe/Madrid") -> None:
    """Serve the devices on 127.0.0.1:port until cancelled, updating every second."""
    devices = {METER_UNIT: Registers(), INVERTER_UNIT: Registers(), CHARGER_UNIT: Registers()}
    state, rng = HomeState(), random.Random(7)  # noqa: S311 - a simulation, not a secret
    zone = ZoneInfo(tz)
    refresh(state, state.step(dt.datetime.now(zone), 0, rng), *devices.values())
    server = ModbusTestServer(units=devices, port=port)
    await server.start()
    try:
        while True:
            await asyncio.sleep(1)
            refresh(state, state.step(dt.datetime.now(zone), 1, rng), *devices.values())
    finally:
        await server.stop()


def main() -> None:
    """Run the simulated devices."""
    parser = argparse.ArgumentParser(prog="python -m ioe_dev.simulated_home")
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
