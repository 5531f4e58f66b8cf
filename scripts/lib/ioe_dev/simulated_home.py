"""A simulated home's devices for the demo: meters, inverters, a battery, a charger.

One Modbus TCP endpoint serves an Eastron SDM630 at unit 1, a Huawei SUN2000 with its
LUNA2000 battery at unit 2, a KEBA P30 EV charger at unit 3 and a SolarEdge SE3000H with its
grid meter (SunSpec 101 and 203) at unit 4. The meter, the battery and the charger are the
physical models of ``ioe_dev.physical``: the battery and the charger obey what Home Assistant
writes to them (a forced charge, a power limit, a charging current, a pause) and the meter
measures the consequence. SolarEdge's meter counts power positive while exporting, as the
real ones do. With
``--mqtt-port``, a balcony panel's meter publishes as a Shelly EM running Tasmota does:
``tele/balcon/SENSOR`` every 10 s (and ``stat/balcon/STATUS10`` when asked), its ``Total`` a
net counter that runs back while the panel produces.

Every second the values follow the local time of day: a clear-ish solar day on a 4 kWp roof,
a 3 kWp one and an 800 W balcony panel, a household load with morning and evening peaks, a
10 kWh battery that stores surplus and covers the evening, and a car that charges at 3.7 kW in
the early afternoon (on the sun) and late at night. Import and export counters only ever
increase, as real ones do, also across restarts with ``--state-file`` (where the devices keep
their counters, as a real meter keeps them when Home Assistant restarts).

    python -m ioe_dev.simulated_home --port 1502 --mqtt-port 1883 --state-file devices.json
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass
import datetime as dt
import itertools
import json
import logging
import math
from pathlib import Path
import random
import signal
from zoneinfo import ZoneInfo

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from custom_components.ioe_community.devices.sunspec import image
from ioe_dev.modbus_server import ModbusTestServer, Registers
from ioe_dev.physical import Car, Cells, GridMeter, Home, HuaweiBattery, KebaCharger

_LOGGER = logging.getLogger(__name__)

PV_PEAK_W = 4000.0
SOLAREDGE_PEAK_W = 3000.0
BALCONY_PEAK_W = 800.0
BALCONY_STANDBY_W = 2.0  # the micro-inverter's draw at night
BATTERY_KWH = 10.0
BATTERY_MAX_W = 2500
BATTERY_MIN_SOC = 0.1
EV_MAX_CURRENT_A = 16.0  # the charger's cable: 3.7 kW on one phase
EV_HOURS = ((13.0, 15.0), (23.0, 24.0))
METER_UNIT = 1
INVERTER_UNIT = 2
CHARGER_UNIT = 3
SOLAREDGE_UNIT = 4
BALCONY_TOPIC = "balcon"
TELE_PERIOD_S = 10
SAVE_PERIOD_S = 5


@dataclass
class HomeState:
    """The home's counters and battery charge, as the state file keeps them between runs."""

    import_kwh: float = 1234.5
    export_kwh: float = 321.0
    pv_kwh: float = 5432.1
    charged_kwh: float = 210.0
    discharged_kwh: float = 190.0
    ev_kwh: float = 876.5
    session_kwh: float = 0.0
    soc: float = 0.5
    solaredge_kwh: float = 2109.4
    balcony_net_kwh: float = -310.2  # Tasmota's Total: below zero after a year of sun
    balcony_today_kwh: float = 0.0
    day: str = ""  # the local date balcony_today_kwh counts (ISO 8601)

    def step(self, now: dt.datetime, seconds: float, rng: random.Random) -> dict[str, float]:
        """Advance the weather and the household ``seconds`` at local time ``now``.

        Returns the instantaneous powers (W) of the PV, the balcony meter and the house load;
        the battery, the car and the grid are the physics' (``DemoHome``).
        """
        hour = now.hour + now.minute / 60
        sun = max(0.0, math.sin(math.pi * (hour - 7.5) / 12.0))
        pv_w = PV_PEAK_W * sun**1.3 * rng.uniform(0.85, 1.0)
        solaredge_w = SOLAREDGE_PEAK_W * sun**1.3 * rng.uniform(0.85, 1.0)
        # Through the balcony meter: the panel's output out, the micro-inverter's draw in.
        balcony_w = BALCONY_STANDBY_W - BALCONY_PEAK_W * sun**1.3 * rng.uniform(0.8, 1.0)
        load_w = (
            250
            + 900 * math.exp(-(((hour - 8.0) / 1.2) ** 2))
            + 1500 * math.exp(-(((hour - 21.0) / 1.8) ** 2))
            + rng.uniform(0, 150)
        )
        hours = seconds / 3600
        if self.day != (today := now.date().isoformat()):  # also after a night stopped
            self.balcony_today_kwh, self.day = 0.0, today
        self.solaredge_kwh += solaredge_w * hours / 1000
        self.balcony_net_kwh += balcony_w * hours / 1000
        self.balcony_today_kwh += balcony_w * hours / 1000
        return {"pv_w": pv_w, "load_w": load_w, "solaredge_w": solaredge_w, "balcony_w": balcony_w}


class DemoHome:
    """The home's devices on the physical model, so that they obey what Home Assistant writes.

    The SDM630 meters the physics' balance; the Huawei's LUNA2000 stores the surplus in its own
    mode and follows forced commands and power limits; the KEBA's car is plugged in during
    ``EV_HOURS`` and draws what the charger offers. The SolarEdge and its meter only report.
    """

    def __init__(self, state: HomeState, now: dt.datetime) -> None:
        """Build the devices from the kept ``state``, at local time ``now``."""
        self.state = state
        self.home = Home(now)
        self.home.import_kwh, self.home.export_kwh = state.import_kwh, state.export_kwh
        self.charger = self.home.add(
            KebaCharger(
                "p30",
                unit=CHARGER_UNIT,
                hardware_current_a=EV_MAX_CURRENT_A,
                energy_kwh=state.ev_kwh,
                session_kwh=state.session_kwh,
            )
        )
        cells = Cells(
            BATTERY_KWH,
            soc=state.soc,
            charged_kwh=state.charged_kwh,
            discharged_kwh=state.discharged_kwh,
        )
        self.battery = self.home.add(
            HuaweiBattery(
                cells,
                unit=INVERTER_UNIT,
                rated_charge_w=BATTERY_MAX_W,
                rated_discharge_w=BATTERY_MAX_W,
                min_soc=BATTERY_MIN_SOC,
                pv_w=0.0,
                pv_kwh=state.pv_kwh,
            )
        )
        self.meter = self.home.add(GridMeter(unit=METER_UNIT))
        self.solaredge = Registers()
        self.units = {**self.home.units, SOLAREDGE_UNIT: self.solaredge}

    def step(self, now: dt.datetime, seconds: float, rng: random.Random) -> dict[str, float]:
        """Advance ``seconds`` at local time ``now``; return the instantaneous powers (W)."""
        powers = self.state.step(now, seconds, rng)
        hour = now.hour + now.minute / 60
        if any(a <= hour < b for a, b in EV_HOURS):
            if self.charger.car is None:
                self.charger.plug(Car(capacity_kwh=60.0, soc=0.4, max_current_a=16.0, phases=1))
        elif self.charger.car is not None:
            self.charger.unplug()
        self.battery.pv_w = powers["pv_w"]
        self.home.pv_w = powers["pv_w"] + powers["solaredge_w"] - powers["balcony_w"]
        self.home.load_w = powers["load_w"]
        self.home.advance(seconds)
        state, cells = self.state, self.battery.cells
        state.import_kwh, state.export_kwh = self.home.import_kwh, self.home.export_kwh
        state.soc, state.charged_kwh, state.discharged_kwh = (
            cells.soc, cells.charged_kwh, cells.discharged_kwh
        )  # fmt: skip
        state.pv_kwh = self.battery.pv_kwh
        state.ev_kwh, state.session_kwh = self.charger.energy_kwh, self.charger.session_kwh
        powers.update(
            grid_w=self.home.grid_w, battery_w=self.battery.power_w, ev_w=self.charger.power_w
        )
        refresh_solaredge(state, powers, self.solaredge.holding)
        return powers


def refresh_solaredge(state: HomeState, powers: dict[str, float], table: dict[int, int]) -> None:
    """Encode the SolarEdge inverter and its meter, as a SunSpec chain.

    The meter's W is positive while the home exports (SolarEdge's sign); its counters are the
    grid's.
    """
    table.update(
        image(
            [
                (1, {"Mn": "SolarEdge ", "Md": "SE3000H-RW000BNN4", "SN": "7E0DE3A1",
                     "Vr": "0004.0020.0036"}),
                (101, {"W": round(powers["solaredge_w"] * 10), "W_SF": -1,
                       "WH": round(state.solaredge_kwh * 1000), "WH_SF": 0,
                       "A": round(powers["solaredge_w"] / 2.3), "A_SF": -2,
                       "PhVphA": 2307, "V_SF": -1, "Hz": 5000, "Hz_SF": -2,
                       "TmpSnk": 3814, "Tmp_SF": -2, "St": 4 if powers["solaredge_w"] else 2}),
                (203, {"W": round(-powers["grid_w"]), "W_SF": 0,
                       "TotWhImp": round(state.import_kwh * 1000),
                       "TotWhExp": round(state.export_kwh * 1000), "TotWh_SF": 0,
                       "PhVphA": 2310, "V_SF": -1, "Hz": 5000, "Hz_SF": -2}),
            ]
        )
    )  # fmt: skip


def tasmota_sensor(state: HomeState, powers: dict[str, float], now: dt.datetime) -> str:
    """Return the balcony meter's ENERGY message, as Tasmota on a Shelly EM sends it."""
    power = powers["balcony_w"]
    return json.dumps(
        {
            "Time": now.replace(microsecond=0, tzinfo=None).isoformat(),
            "ENERGY": {
                "TotalStartTime": "2025-06-01T10:00:00",
                "Total": round(state.balcony_net_kwh, 5),
                "Yesterday": -2.1,
                "Today": round(state.balcony_today_kwh, 5),
                "Power": round(power, 1),
                "ApparentPower": round(abs(power) / 0.95, 1),
                "ReactivePower": round(abs(power) * 0.33, 1),
                "Factor": -0.95 if power < 0 else 0.95,
                "Voltage": 231,
                "Current": round(abs(power) / 231, 3),
            },
        }
    )


class BalconyMeter:
    """The balcony panel's Tasmota meter on the home's MQTT broker."""

    def __init__(self, port: int) -> None:
        """Connect to the broker on 127.0.0.1:port and answer STATUS 10 from then on."""
        self.latest = ""
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tasmota_balcon")
        self._client.on_connect = lambda client, *_: client.subscribe(
            f"cmnd/{BALCONY_TOPIC}/STATUS"
        )
        self._client.on_message = self._command
        self._client.connect_async("127.0.0.1", port)
        self._client.loop_start()

    def _command(self, _client: mqtt.Client, _data: object, message: mqtt.MQTTMessage) -> None:
        if message.payload.strip() == b"10" and self.latest:
            status = json.dumps({"StatusSNS": json.loads(self.latest)})
            self._client.publish(f"stat/{BALCONY_TOPIC}/STATUS10", status)

    def publish(self, payload: str) -> None:
        """Send the periodic telemetry."""
        self.latest = payload
        self._client.publish(f"tele/{BALCONY_TOPIC}/SENSOR", payload)

    def stop(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()


def load_state(path: Path | None) -> HomeState:
    """Return the devices' state kept in ``path``, or a new one (no file, or a damaged one)."""
    if path is None or not path.is_file():
        return HomeState()
    try:
        return HomeState(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as err:  # not JSON, not an object, or other fields
        _LOGGER.warning("Starting the simulated devices afresh: %s is unreadable (%s)", path, err)
        return HomeState()


def save_state(state: HomeState, path: Path | None) -> None:
    """Keep the devices' state in ``path`` (written whole, then put in place)."""
    if path is None:
        return
    written = path.with_name(f"{path.name}.new")
    written.write_text(json.dumps(asdict(state)), encoding="utf-8")
    written.replace(path)


async def serve(
    port: int,
    mqtt_port: int | None = None,
    tz: str = "Europe/Madrid",
    state_file: Path | None = None,
) -> None:
    """Serve the devices on 127.0.0.1:port until cancelled (or SIGTERM), updating every second.

    With ``state_file``, the counters go on from where the last run left them.
    """
    state, rng = load_state(state_file), random.Random(7)  # noqa: S311 - a simulation
    serving = asyncio.current_task()
    if serving is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
    zone = ZoneInfo(tz)
    now = dt.datetime.now(zone)
    home = DemoHome(state, now)
    powers = home.step(now, 0, rng)
    balcony = BalconyMeter(mqtt_port) if mqtt_port else None
    if balcony:
        balcony.latest = tasmota_sensor(state, powers, now)
    server = ModbusTestServer(units=home.units, port=port)
    await server.start()
    try:
        for second in itertools.count(1):
            await asyncio.sleep(1)
            now = dt.datetime.now(zone)
            powers = home.step(now, 1, rng)
            if balcony and second % TELE_PERIOD_S == 0:
                balcony.publish(tasmota_sensor(state, powers, now))
            if second % SAVE_PERIOD_S == 0:
                save_state(state, state_file)
    except asyncio.CancelledError:
        pass  # asked to stop
    finally:
        save_state(state, state_file)
        await server.stop()
        if balcony:
            balcony.stop()


def main() -> None:
    """Run the simulated devices."""
    parser = argparse.ArgumentParser(prog="python -m ioe_dev.simulated_home")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mqtt-port", type=int, help="the home's MQTT broker (Tasmota meter)")
    parser.add_argument("--state-file", type=Path, help="where the devices keep their counters")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.port, arguments.mqtt_port, state_file=arguments.state_file))


if __name__ == "__main__":
    main()
