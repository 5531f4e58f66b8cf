"""Simulated devices that behave physically: a home whose batteries and charger obey setpoints.

A ``Home`` moves a simulated clock forward with ``advance(seconds)`` (never the wall clock):
its PV and house load (fixed values, or callables of the local time) meet the devices added to
it, in the order they were added, and what is left flows through the grid meter. Each device
serves its registers as a real one does (``units``, for ``ModbusTestServer``), checks writes as
the vendor documents them, and reports what it actually does, so that a controller reading the
meter sees the consequence of its commands.

The register addresses come from the vendors' documents as collected in the research notes for
issue 23 (``.scratch/issue23/batteries.md`` and ``chargers.md``), not from the integration's
profiles, so a wrong profile is caught; only measurements the integration reads already and
the notes do not cover are laid out through its profiles (``write_values``). Tags in comments:
[doc] vendor document, [impl] two or more implementations agree, [field] one user report,
[assumed] no source found, chosen here.

Powers are in W, positive when a device draws from the home (a battery charging, a car);
``Home.grid_w`` is positive while importing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import datetime as dt
from typing import Final, Literal

from pymodbus.constants import ExcCodes

from custom_components.ioe_community.devices.decode import encode
from custom_components.ioe_community.devices.profile import Profile, available_profiles
from custom_components.ioe_community.devices.sunspec import image, model_layout, point_layout
from ioe_dev.modbus_server import Registers

type Power = float | Callable[[dt.datetime], float]

STEP_S: Final = 1.0  # the physics' time step: a setpoint takes effect within one
VOLTAGE_V: Final = 230.0
# A battery in its own self-consumption mode covers this share of the home's surplus or deficit:
# its control lags behind, so a few % reach the grid (as the demo has always shown).
FOLLOWS: Final = 0.95
# A device that is gone behind a gateway: "gateway target device failed to respond".
GONE: Final = ExcCodes.GATEWAY_NO_RESPONSE


def write_values(
    profile: Profile, table: dict[int, int], values: Mapping[str, float | str]
) -> None:
    """Encode values into a device's registers as its profile places them."""
    for key, value in values.items():
        register = profile.register(key)
        for offset, word in enumerate(encode(register, value)):
            table[register.address + offset] = word


def put(table: dict[int, int], address: int, value: float, words: int = 1) -> None:
    """Write an integer (rounded, two's complement if negative) as ``words`` words, high first."""
    number = round(value) % (1 << (16 * words))
    for n in range(words):
        table[address + n] = (number >> (16 * (words - 1 - n))) & 0xFFFF


def get(table: Mapping[int, int], address: int, words: int = 1, signed: bool = False) -> int:
    """Read an integer of ``words`` words, high first."""
    number = 0
    for n in range(words):
        number = (number << 16) | table.get(address + n, 0)
    if signed and number >= 1 << (16 * words - 1):
        number -= 1 << (16 * words)
    return number


@dataclass(frozen=True)
class Setting:
    """A writable register of one or two words and the values the device takes in it."""

    low: int
    high: int
    words: int = 1
    signed: bool = False
    also: frozenset[int] = frozenset()  # values outside low..high it takes as well

    def takes(self, value: int) -> bool:
        """Whether the device accepts ``value``."""
        return self.low <= value <= self.high or value in self.also


def decode_write(
    settings: Mapping[int, Setting], address: int, words: list[int]
) -> dict[int, int] | ExcCodes:
    """Return the settings a write sets (address: value), or the exception the device answers.

    A 32-bit setting must be written whole, in one request [assumed: the notes found no source
    that tests a split write]; a value out of its range is refused with ILLEGAL_VALUE.
    """
    values: dict[int, int] = {}
    sent = dict(enumerate(words, start=address))
    at, end = address, address + len(words)
    while at < end:
        setting = settings.get(at)
        if setting is None or at + setting.words > end:
            return ExcCodes.ILLEGAL_ADDRESS
        value = get(sent, at, setting.words, setting.signed)
        if not setting.takes(value):
            return ExcCodes.ILLEGAL_VALUE
        values[at] = value
        at += setting.words
    return values


def writable(settings: Mapping[int, Setting]) -> frozenset[int]:
    """Every register address the settings cover (both words of a 32-bit one)."""
    return frozenset(a + n for a, s in settings.items() for n in range(s.words))


@dataclass
class Cells:
    """A battery's store: its state of charge integrated from the AC power, with losses.

    ``charged_kwh`` and ``discharged_kwh`` count AC energy (what the inverter takes from and
    gives to the home), the SoC the energy stored: charging 1 kWh stores ``charge_efficiency``
    kWh; giving 1 kWh takes 1 / ``discharge_efficiency`` kWh out [assumed: 95 % each way].
    """

    capacity_kwh: float
    soc: float = 0.5
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    charged_kwh: float = 0.0
    discharged_kwh: float = 0.0

    def run(self, power_w: float, seconds: float, min_soc: float, max_soc: float) -> float:
        """Charge (> 0) or discharge at ``power_w`` for ``seconds`` within the SoC limits.

        Returns the AC power actually run: less when a limit is reached within the step.
        """
        if seconds <= 0:
            return 0.0
        hours = seconds / 3600
        if power_w > 0:
            room_kwh = max(0.0, max_soc - self.soc) * self.capacity_kwh
            power_w = min(power_w, room_kwh / self.charge_efficiency / hours * 1000)
            self.soc += power_w * hours / 1000 * self.charge_efficiency / self.capacity_kwh
            self.charged_kwh += power_w * hours / 1000
        elif power_w < 0:
            stored_kwh = max(0.0, self.soc - min_soc) * self.capacity_kwh
            power_w = max(power_w, -stored_kwh * self.discharge_efficiency / hours * 1000)
            self.soc += power_w * hours / 1000 / self.discharge_efficiency / self.capacity_kwh
            self.discharged_kwh -= power_w * hours / 1000
        return power_w


class Device(ABC):
    """A simulated device: its Modbus units, its share of the home's power, its clock.

    ``answering`` False makes every request answer "gateway target device failed to respond"
    (a device gone behind a gateway); stop its server for a device gone from the network. Add
    it to a ``Home`` before serving it: the server serves the registers present when it starts.
    """

    def __init__(self) -> None:
        """Start at the home's time 0 (``Home.add`` sets the time it joins)."""
        self.units: dict[int, Registers] = {}
        self.elapsed_s = 0.0
        self.answering = True
        self.power_w = 0.0

    @abstractmethod
    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Run the ``seconds`` up to ``home.elapsed_s``; return the power it drew (W, > 0 draws).

        ``before_w`` is what the grid would carry without this device (> 0 imports).
        """

    @abstractmethod
    def publish(self, home: Home) -> None:
        """Encode what it does into its registers."""

    def check_read(self, _address: int, _count: int) -> ExcCodes | None:
        """Answer reads while the device is there."""
        return None if self.answering else GONE

    def _unit(self, settings: Mapping[int, Setting], on_write: WriteEffect) -> Registers:
        """Make a unit whose writes are checked against ``settings``, then take effect."""

        def check(address: int, words: list[int]) -> ExcCodes | None:
            if not self.answering:
                return GONE
            values = decode_write(settings, address, words)
            if isinstance(values, ExcCodes):
                return values
            on_write(values)
            return None

        return Registers(writable=writable(settings), on_write=check, on_read=self.check_read)


type WriteEffect = Callable[[dict[int, int]], None]


class Home:
    """A home's physics on a simulated clock: PV, load, devices, and the grid in between."""

    def __init__(self, start: dt.datetime, pv_w: Power = 0.0, load_w: Power = 0.0) -> None:
        """Start at ``start`` (aware, local time) with the PV and the house load given.

        ``pv_w`` and ``load_w`` are W, fixed or functions of the local time; either may be
        set again at any time (a test scripting "2 kW of surplus at noon").
        """
        self.start = start
        self.elapsed_s = 0.0
        self.pv_w: Power = pv_w
        self.load_w: Power = load_w
        self.devices: list[Device] = []
        self.grid_w = 0.0  # > 0 imports
        self.pv_now_w = 0.0
        self.load_now_w = 0.0
        self.import_kwh = 0.0
        self.export_kwh = 0.0

    @property
    def now(self) -> dt.datetime:
        """The simulated local time."""
        return self.start + dt.timedelta(seconds=self.elapsed_s)

    def add[D: Device](self, device: D) -> D:
        """Add a device; each sees what the ones added before it left (add loads first)."""
        device.elapsed_s = self.elapsed_s
        self.devices.append(device)
        device.publish(self)
        return device

    def advance(self, seconds: float) -> None:
        """Move the physics forward ``seconds``, in steps of at most ``STEP_S``."""
        remaining = seconds
        while remaining > 1e-9:
            step = min(STEP_S, remaining)
            remaining -= step
            self.elapsed_s += step
            now = self.now
            self.pv_now_w = _value(self.pv_w, now)
            self.load_now_w = _value(self.load_w, now)
            grid_w = self.load_now_w - self.pv_now_w
            for device in self.devices:
                device.power_w = device.step(self, step, grid_w)
                device.elapsed_s = self.elapsed_s
                grid_w += device.power_w
            self.grid_w = grid_w
            self.import_kwh += max(grid_w, 0.0) * step / 3_600_000
            self.export_kwh += max(-grid_w, 0.0) * step / 3_600_000
        for device in self.devices:
            device.publish(self)


def _value(power: Power, now: dt.datetime) -> float:
    return float(power(now)) if callable(power) else float(power)


class GridMeter(Device):
    """An Eastron SDM630 on the home's connection: it measures the physics' balance.

    Its registers are the integration's profile's (read-only, input registers), as the demo's
    meter always was: it is the ground truth a controller reads, not a device under control.
    """

    def __init__(self, unit: int = 1) -> None:
        """Serve at ``unit``."""
        super().__init__()
        self.units[unit] = Registers(on_read=self.check_read)
        self._table = self.units[unit].input

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Draw nothing: a meter only measures."""
        return 0.0

    def publish(self, home: Home) -> None:
        """Encode the grid's power and counters."""
        grid_w = home.grid_w
        write_values(
            available_profiles()["eastron_sdm630"],
            self._table,
            {
                "voltage_l1": 231.0, "voltage_l2": 229.8, "voltage_l3": 232.4,
                "current_l1": abs(grid_w) / 231.0, "current_l2": 0.4, "current_l3": 0.3,
                "power_l1": grid_w, "power_l2": 0.0, "power_l3": 0.0, "power": grid_w,
                "power_factor": 0.97, "frequency": 50.0,
                "import_energy": home.import_kwh, "export_energy": home.export_kwh,
            },
        )  # fmt: skip


def _limit(power_w: float, low_w: float, high_w: float) -> float:
    return min(max(power_w, low_w), high_w)


# Huawei SUN2000 + LUNA2000 (notes §1.3, §1.4): holding registers, U32 high word first.
HW_POWER: Final = 37001  # I32 W, > 0 charging [impl]
HW_SOC: Final = 37004  # U16 ‰ [impl]
HW_RATED_CHARGE: Final = 37046  # U32 W [impl]
HW_RATED_DISCHARGE: Final = 37048  # U32 W [impl]
HW_CAPACITY: Final = 37758  # U32 Wh [impl]
HW_SOC_ALL: Final = 37760  # U16 ‰, all units [impl]
HW_POWER_ALL: Final = 37765  # I32 W, all units [impl]
HW_METER_POWER: Final = 37113  # I32 W, > 0 feeding the grid [impl]
HW_MAX_CHARGE: Final = 47075  # U32 W
HW_MAX_DISCHARGE: Final = 47077  # U32 W
HW_CHARGE_CUTOFF: Final = 47081  # U16 ‰, the highest SoC
HW_DISCHARGE_CUTOFF: Final = 47082  # U16 ‰, the lowest SoC
HW_FORCED_MINUTES: Final = 47083  # U16 min, 0-1440 [doc]
HW_WORKING_MODE: Final = 47086  # U16: 2 maximise self-consumption
HW_GRID_CHARGE: Final = 47087  # U16 0/1
HW_FORCED_COMMAND: Final = 47100  # U16: 0 stop, 1 charge, 2 discharge [impl]
HW_FORCED_TARGET_SOC: Final = 47101  # U16 ‰
HW_FORCED_SETTING: Final = 47246  # U16: 0 duration, 1 target SoC
HW_FORCED_CHARGE: Final = 47247  # U32 W
HW_FORCED_DISCHARGE: Final = 47249  # U32 W
HW_SELF_CONSUMPTION: Final = 2
HW_CHARGE, HW_DISCHARGE = 1, 2


class HuaweiBattery(Device):
    """A Huawei SUN2000 hybrid inverter with its LUNA2000 battery, at one Modbus unit.

    In its own mode (47086 = 2, maximise self-consumption) the battery covers ``FOLLOWS`` of the
    home's surplus or deficit. A forcible charge or discharge (47100 = 1/2) runs at 47247/47249
    regardless of the home: in setting mode 0 (47246) for 47083 minutes from the last write of
    47100 or 47083 (evcc refreshes a 1-minute period by rewriting both [impl]; that the period
    restarts then is [assumed]), in setting mode 1 until the SoC reaches 47101. It ends there,
    or at the cut-off SoC (a forced charge to 100 % ends at 100 % [field: evcc#17692]; at other
    cut-offs [assumed]); then 47100 reads 0 again [assumed: the notes could not confirm the
    value after expiry] and the working mode applies. Every power stays within 47075/47077 and
    the SoC within 47082..47081. Working modes other than 2 are not modelled: the battery idles.
    Grid charging (47087) is kept, not modelled.
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 1,  # usually 1 behind an SDongle [field]
        rated_charge_w: int = 5000,  # the sample read in the notes §1.4
        rated_discharge_w: int = 5000,
        min_soc: float = 0.05,
        max_soc: float = 1.0,
        pv_w: Power | None = None,
        pv_kwh: float = 0.0,
    ) -> None:
        """Rate a battery of ``cells``; ``pv_w`` is its own strings' (None: the home's PV)."""
        super().__init__()
        self.cells = cells
        self.pv_w = pv_w
        self.pv_kwh = pv_kwh
        self._pv_now_w = 0.0
        self._forced_since = 0.0
        # Out-of-range values are refused [assumed: Huawei's answer to them is not documented;
        # the HA integration checks powers against 37046/37048 before writing, notes §1.5].
        # The SoC settings take 0-100 % here: the app's narrower ranges were not found.
        self.settings: dict[int, Setting] = {
            HW_MAX_CHARGE: Setting(0, rated_charge_w, words=2),
            HW_MAX_DISCHARGE: Setting(0, rated_discharge_w, words=2),
            HW_CHARGE_CUTOFF: Setting(0, 1000),
            HW_DISCHARGE_CUTOFF: Setting(0, 1000),
            HW_FORCED_MINUTES: Setting(0, 1440),
            HW_WORKING_MODE: Setting(0, 5),
            HW_GRID_CHARGE: Setting(0, 1),
            HW_FORCED_COMMAND: Setting(0, 2),
            HW_FORCED_TARGET_SOC: Setting(0, 1000),
            HW_FORCED_SETTING: Setting(0, 1),
            HW_FORCED_CHARGE: Setting(0, rated_charge_w, words=2),
            HW_FORCED_DISCHARGE: Setting(0, rated_discharge_w, words=2),
        }
        self.units[unit] = self._unit(self.settings, self._written)
        self.holding = self.units[unit].holding
        for address, value, words in (
            (HW_RATED_CHARGE, rated_charge_w, 2),
            (HW_RATED_DISCHARGE, rated_discharge_w, 2),
            (HW_CAPACITY, cells.capacity_kwh * 1000, 2),
            (HW_MAX_CHARGE, rated_charge_w, 2),
            (HW_MAX_DISCHARGE, rated_discharge_w, 2),
            (HW_CHARGE_CUTOFF, max_soc * 1000, 1),
            (HW_DISCHARGE_CUTOFF, min_soc * 1000, 1),
            (HW_WORKING_MODE, HW_SELF_CONSUMPTION, 1),
            (HW_GRID_CHARGE, 1, 1),
        ):
            put(self.holding, address, value, words)
        for address, setting in self.settings.items():  # the rest reads 0, as in the sample
            self.holding.setdefault(address, 0)
            if setting.words == 2:
                self.holding.setdefault(address + 1, 0)

    def _written(self, values: dict[int, int]) -> None:
        if HW_FORCED_COMMAND in values or HW_FORCED_MINUTES in values:
            self._forced_since = self.elapsed_s

    def _forced(self, elapsed_s: float) -> int:
        """Return the forced command still running (0: none), ending it when it is done."""
        h = self.holding
        command = h[HW_FORCED_COMMAND]
        soc = self.cells.soc
        if command == HW_CHARGE:
            done = soc >= h[HW_CHARGE_CUTOFF] / 1000
        elif command == HW_DISCHARGE:
            done = soc <= h[HW_DISCHARGE_CUTOFF] / 1000
        else:
            return 0
        if h[HW_FORCED_SETTING] == 0:
            done = done or elapsed_s - self._forced_since > h[HW_FORCED_MINUTES] * 60
        else:
            target = h[HW_FORCED_TARGET_SOC] / 1000
            done = done or (soc >= target if command == HW_CHARGE else soc <= target)
        if done:
            h[HW_FORCED_COMMAND] = 0
            return 0
        return command

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Charge or discharge as forced, or as its working mode makes it."""
        h = self.holding
        command = self._forced(home.elapsed_s)
        if command == HW_CHARGE:
            target_w = float(get(h, HW_FORCED_CHARGE, 2))
        elif command == HW_DISCHARGE:
            target_w = -float(get(h, HW_FORCED_DISCHARGE, 2))
        elif h[HW_WORKING_MODE] == HW_SELF_CONSUMPTION:
            target_w = -FOLLOWS * before_w
        else:
            target_w = 0.0
        target_w = _limit(target_w, -get(h, HW_MAX_DISCHARGE, 2), get(h, HW_MAX_CHARGE, 2))
        power_w = self.cells.run(
            target_w, seconds, h[HW_DISCHARGE_CUTOFF] / 1000, h[HW_CHARGE_CUTOFF] / 1000
        )
        self._pv_now_w = home.pv_now_w if self.pv_w is None else _value(self.pv_w, home.now)
        self.pv_kwh += self._pv_now_w * seconds / 3_600_000
        return power_w

    def publish(self, home: Home) -> None:
        """Report the battery as it is, and the inverter's PV and the grid it meters."""
        h, power_w, soc = self.holding, self.power_w, self.cells.soc
        for address, value, words in (
            (HW_POWER, power_w, 2),
            (HW_POWER_ALL, power_w, 2),
            (HW_SOC, soc * 1000, 1),
            (HW_SOC_ALL, soc * 1000, 1),
            (HW_METER_POWER, -home.grid_w, 2),
        ):
            put(h, address, value, words)
        pv_w = self._pv_now_w
        write_values(
            available_profiles()["huawei_sun2000"],
            h,
            {
                "model_name": "SUN2000-4KTL-M1", "serial": "HV0000DEMO01",
                "pv_power": pv_w, "active_power": pv_w - power_w,
                "grid_frequency": 50.0, "internal_temperature": 31.5,
                "pv_energy": self.pv_kwh, "daily_pv_energy": 0.0, "meter_voltage_l1": 231.0,
                "grid_export_energy": home.export_kwh, "grid_import_energy": home.import_kwh,
                "battery_charge_energy": self.cells.charged_kwh,
                "battery_discharge_energy": self.cells.discharged_kwh,
            },
        )  # fmt: skip


# Victron GX (notes §2.2): unit 100 (system and settings) and the VE.Bus unit of the Multi.
VIC_GRID_L1: Final = 820  # S16 W, > 0 imports [doc]
VIC_CONSUMPTION_L1: Final = 817  # U16 W [doc]
VIC_BATTERY_VOLTAGE: Final = 840  # U16 V x10 [doc]
VIC_BATTERY_CURRENT: Final = 841  # S16 A x10 [doc]
VIC_BATTERY_POWER: Final = 842  # S16 W, > 0 charging [impl]
VIC_SOC: Final = 843  # U16 % [impl]
VIC_BATTERY_STATE: Final = 844  # 0 idle, 1 charging, 2 discharging [doc]
VIC_SETPOINT: Final = 2700  # S16 W, > 0 imports; persistent [doc]
VIC_MAX_CHARGE_PCT: Final = 2701  # U16 % [doc]
VIC_MAX_DISCHARGE_PCT: Final = 2702  # U16 % [doc]
VIC_OVERRIDE: Final = 2716  # S32 W, volatile setpoint; 0 clears it [impl]
VIC_MIN_SOC: Final = 2901  # U16 % x10 [doc]
VIC_HUB4_MODE: Final = 2902  # 1/2 ESS, 3 external control [doc]
VEBUS_SOC: Final = 30  # U16 % x10 [doc]
VEBUS_STATE: Final = 31  # 8 passthru, 9 inverting, 3 bulk [doc]
VEBUS_SETPOINT: Final = 37  # S16 W from AC-in (> 0 charges), mode 3 [doc]
VEBUS_DISABLE_CHARGE: Final = 38  # 0/1 [doc]
VEBUS_DISABLE_FEED_IN: Final = 39  # 0/1 [doc]
PASSTHRU, INVERTING, BULK = 8, 9, 3
EXTERNAL_CONTROL: Final = 3


class VictronEss(Device):
    """A Victron GX with a Multi and its battery in ESS.

    In Hub4Mode 1 or 2 the Multi makes the grid's power meet the setpoint (the volatile 2716
    while it is set and fresh, else 2700) within the battery's limits (2701/2702 as % of its
    rating, the minimum SoC 2901), and the GX rewrites the VE.Bus setpoint 37 itself, so writes
    there do not stick [doc-ish: node-red-contrib-victron#101]. 2716 falls back to 2700 when not
    written again within ``override_timeout_s`` (60 s by default: the sources disagree between
    60 and ~180 s [unconfirmed]) and then reads 0 [assumed]. In Hub4Mode 3 the Multi takes 37 as
    its AC-in power (38 forbids charging, 39 feeding in) and drops to passthru (state 8, battery
    idle) when 37 is not written again within ``setpoint_timeout_s`` (documented 60 s, ~10 s
    seen in the field [field]).
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 100,
        vebus_unit: int = 227,  # a Cerbo GX's [field]; 246 on a CCGX [doc]
        rated_charge_w: int = 5000,
        rated_discharge_w: int = 5000,
        min_soc: float = 0.10,
        override_timeout_s: float = 60.0,
        setpoint_timeout_s: float = 60.0,
    ) -> None:
        """Rate an ESS on ``cells``."""
        super().__init__()
        self.cells = cells
        self.rated_charge_w, self.rated_discharge_w = rated_charge_w, rated_discharge_w
        self.override_timeout_s, self.setpoint_timeout_s = override_timeout_s, setpoint_timeout_s
        self._override_at: float | None = None
        self._setpoint_at: float | None = None
        # Out-of-range values are refused [assumed].
        system = {
            VIC_SETPOINT: Setting(-0x8000, 0x7FFF, signed=True),
            VIC_MAX_CHARGE_PCT: Setting(0, 100),
            VIC_MAX_DISCHARGE_PCT: Setting(0, 100),
            VIC_OVERRIDE: Setting(-0x80000000, 0x7FFFFFFF, words=2, signed=True),
            VIC_MIN_SOC: Setting(0, 1000),
            VIC_HUB4_MODE: Setting(1, 3),
        }
        vebus = {
            VEBUS_SETPOINT: Setting(-0x8000, 0x7FFF, signed=True),
            VEBUS_DISABLE_CHARGE: Setting(0, 1),
            VEBUS_DISABLE_FEED_IN: Setting(0, 1),
        }
        self.units[unit] = self._unit(system, self._written)
        self.units[vebus_unit] = self._unit(vebus, self._written_vebus)
        self._system, self._vebus = self.units[unit], self.units[vebus_unit]
        self.system, self.vebus = self._system.holding, self._vebus.holding
        self.system.update({VIC_MAX_CHARGE_PCT: 100, VIC_MAX_DISCHARGE_PCT: 100, VIC_HUB4_MODE: 1})
        put(self.system, VIC_MIN_SOC, min_soc * 1000)
        for address in (VIC_SETPOINT, VIC_OVERRIDE, VIC_OVERRIDE + 1):
            self.system[address] = 0
        self.vebus.update({VEBUS_SETPOINT: 0, VEBUS_DISABLE_CHARGE: 0, VEBUS_DISABLE_FEED_IN: 0})

    def _written(self, values: dict[int, int]) -> None:
        if VIC_OVERRIDE in values:
            self._override_at = self.elapsed_s

    def _written_vebus(self, values: dict[int, int]) -> None:
        if VEBUS_SETPOINT in values:
            self._setpoint_at = self.elapsed_s

    def _fresh(self, since: float | None, timeout_s: float, elapsed_s: float) -> bool:
        return since is not None and elapsed_s - since <= timeout_s

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Meet the grid setpoint (ESS), or follow the VE.Bus setpoint (mode 3)."""
        s, v = self.system, self.vebus
        if s[VIC_HUB4_MODE] == EXTERNAL_CONTROL:
            if self._fresh(self._setpoint_at, self.setpoint_timeout_s, home.elapsed_s):
                target_w = float(get(v, VEBUS_SETPOINT, signed=True))
                if v[VEBUS_DISABLE_CHARGE]:
                    target_w = min(target_w, 0.0)
                if v[VEBUS_DISABLE_FEED_IN]:  # discharging no more than the home takes
                    target_w = max(target_w, -max(before_w, 0.0))
            else:
                target_w = None  # passthru
        else:
            if not self._fresh(self._override_at, self.override_timeout_s, home.elapsed_s):
                put(s, VIC_OVERRIDE, 0, 2)
            override = get(s, VIC_OVERRIDE, 2, signed=True)
            setpoint = override or get(s, VIC_SETPOINT, signed=True)
            target_w = setpoint - before_w
        if target_w is None:
            power_w, state = 0.0, PASSTHRU
        else:
            limit_c = self.rated_charge_w * s[VIC_MAX_CHARGE_PCT] / 100
            limit_d = self.rated_discharge_w * s[VIC_MAX_DISCHARGE_PCT] / 100
            target_w = _limit(target_w, -limit_d, limit_c)
            power_w = self.cells.run(target_w, seconds, s[VIC_MIN_SOC] / 1000, 1.0)
            state = BULK if power_w > 0 else INVERTING if power_w < 0 else PASSTHRU
        if s[VIC_HUB4_MODE] != EXTERNAL_CONTROL:
            put(v, VEBUS_SETPOINT, _limit(power_w, -0x8000, 0x7FFF))
        v[VEBUS_STATE] = state
        return power_w

    def publish(self, home: Home) -> None:
        """Report the battery, the grid and the consumption, as both input and holding."""
        power_w, soc = self.power_w, self.cells.soc
        voltage_v = 48.0 + 6.0 * soc  # a 48 V LFP pack's rough curve [assumed]
        state = 1 if power_w > 0 else 2 if power_w < 0 else 0
        for table in (self._system.input, self.system):
            put(table, VIC_GRID_L1, _limit(home.grid_w, -0x8000, 0x7FFF))
            # What the AC loads take: the grid and the PV, less what the battery stores.
            consumption_w = home.grid_w + home.pv_now_w - power_w
            put(table, VIC_CONSUMPTION_L1, _limit(consumption_w, 0, 0xFFFF))
            put(table, VIC_BATTERY_VOLTAGE, voltage_v * 10)
            put(table, VIC_BATTERY_CURRENT, power_w / voltage_v * 10)
            put(table, VIC_BATTERY_POWER, _limit(power_w, -0x8000, 0x7FFF))
            put(table, VIC_SOC, soc * 100)
            table[VIC_BATTERY_STATE] = state
        for table in (self._vebus.input, self.vebus):
            put(table, VEBUS_SOC, soc * 1000)
            table[VEBUS_STATE] = self.vebus.get(VEBUS_STATE, PASSTHRU)


# SunSpec model 124, basic storage controls (notes §3.1, from SunSpec's model_124.json [doc]).
STORAGE: Final = 124
INVERTER: Final = 103
CHARGE_LIMIT, DISCHARGE_LIMIT = 1, 2  # StorCtl_Mod's bits: apply InWRte, apply OutWRte
RATE_SF: Final = -2  # InOutWRte_SF on a GEN24: ±10000 is ±100 % [impl: evcc#16008, #16209]
SOC_SF: Final = -2
CHA_ST: Final = {"empty": 2, "discharging": 3, "charging": 4, "full": 5, "holding": 6}


def model_addresses(models: list[int], base: int = 40000) -> dict[int, int]:
    """Where each model's ID register sits in a chain of ``models`` laid out by ``image``."""
    addresses, address = {}, base + 2
    for model_id in models:
        addresses[model_id] = address
        address += sum(point.size for point in model_layout(model_id).values())
    return addresses


class SunSpecStorage(Device):
    """A Fronius GEN24-like hybrid inverter with a battery, controlled through SunSpec 124.

    The chain is common (1), inverter (103) and storage (124) at 40000: a client walks it, as it
    must on a GEN24, whose register map moves with its float/int setting [doc]. Its own
    behaviour covers ``FOLLOWS`` of the surplus or deficit within WChaMax and MinRsvPct.
    StorCtl_Mod bit 0 caps charging at InWRte, bit 1 discharging at OutWRte, both in % of
    WChaMax (OutWRte too [assumed: 124 has no discharge maximum of its own]) with the scale
    factor -2; a negative OutWRte forces charging at that rate and a negative InWRte forces
    discharging (the GEN24's behaviour evcc's "charge" mode relies on [impl]). Charging beyond
    the PV surplus needs ChaGriSet = 1 and the inverter's "charge from the grid" option
    (``grid_charging``), which are AND-linked [doc via quote, openhab#16086]. With
    InOutWRte_RvrtTms > 0, the limits revert that many seconds after the last write of
    StorCtl_Mod, InWRte or OutWRte: StorCtl_Mod back to 0 and both rates to 100 % [assumed:
    whether the GEN24 reverts StorCtl_Mod itself is unconfirmed]; RvrtTms itself stays
    (it persists on a GEN24 [field: evcc#33037]).
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 1,  # a GEN24's inverter [impl]
        rated_charge_w: int = 5000,
        min_soc: float = 0.05,
        grid_charging: bool = True,
        pv_w: Power | None = None,
    ) -> None:
        """Rate a battery of ``cells``; ``pv_w`` is the inverter's strings' (None: the home's)."""
        super().__init__()
        self.cells = cells
        self.rated_charge_w = rated_charge_w
        self.grid_charging = grid_charging
        self.pv_w = pv_w
        self._pv_now_w = 0.0
        self._rates_at = 0.0
        chain = model_addresses([1, INVERTER, STORAGE])
        self.storage, self.inverter = chain[STORAGE], chain[INVERTER]
        rate = Setting(-10000, 10000, signed=True)  # ±100 % [assumed: beyond it is refused]
        settings = {
            self.at("WChaMax"): Setting(0, rated_charge_w),
            self.at("StorCtl_Mod"): Setting(0, 3),
            self.at("MinRsvPct"): Setting(0, 10000),
            self.at("OutWRte"): rate,
            self.at("InWRte"): rate,
            self.at("InOutWRte_WinTms"): Setting(0, 0xFFFF),
            self.at("InOutWRte_RvrtTms"): Setting(0, 0xFFFF),
            self.at("InOutWRte_RmpTms"): Setting(0, 0xFFFF),
            self.at("ChaGriSet"): Setting(0, 1),
        }
        self.units[unit] = self._unit(settings, self._written)
        self.holding = self.units[unit].holding
        self.holding.update(
            image(
                [
                    (1, {"Mn": "Fronius", "Md": "Primo GEN24 5.0 Plus", "SN": "34110000"}),
                    (INVERTER, {"W": 0, "W_SF": 0, "Hz": 5000, "Hz_SF": -2, "St": 4}),
                    (
                        STORAGE,
                        {
                            "WChaMax": rated_charge_w, "WChaMax_SF": 0, "StorCtl_Mod": 0,
                            "MinRsvPct": round(min_soc * 10000), "MinRsvPct_SF": -2,
                            "ChaState_SF": SOC_SF, "InBatV_SF": -1, "ChaSt": CHA_ST["holding"],
                            "OutWRte": 10000, "InWRte": 10000, "InOutWRte_SF": RATE_SF,
                            "InOutWRte_WinTms": 0, "InOutWRte_RvrtTms": 0,
                            "InOutWRte_RmpTms": 0, "ChaGriSet": 1,
                        },
                    ),
                ]
            )
        )  # fmt: skip

    def at(self, point: str) -> int:
        """Return the address of a point of model 124."""
        return self.storage + point_layout(STORAGE, point).offset

    def _written(self, values: dict[int, int]) -> None:
        if {self.at(p) for p in ("StorCtl_Mod", "InWRte", "OutWRte")} & values.keys():
            self._rates_at = self.elapsed_s

    def _point(self, point: str) -> int:
        signed = point_layout(STORAGE, point).type == "int16"
        return get(self.holding, self.at(point), signed=signed)

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Follow the home, within (or forced by) the storage controls."""
        revert_s = self._point("InOutWRte_RvrtTms")
        if revert_s and home.elapsed_s - self._rates_at > revert_s:
            self.holding[self.at("StorCtl_Mod")] = 0
            self.holding[self.at("InWRte")] = self.holding[self.at("OutWRte")] = 10000
        mode = self._point("StorCtl_Mod")
        full_w = float(self._point("WChaMax"))
        high_w = full_w * self._point("InWRte") * 10**RATE_SF / 100 if mode & 1 else full_w
        low_w = -full_w * self._point("OutWRte") * 10**RATE_SF / 100 if mode & 2 else -full_w
        target_w = _limit(_limit(-FOLLOWS * before_w, low_w, high_w), -full_w, full_w)
        if target_w > 0 and not (self._point("ChaGriSet") and self.grid_charging):
            target_w = min(target_w, max(-before_w, 0.0))  # from the PV's surplus only
        min_soc = self._point("MinRsvPct") * 10**SOC_SF / 100
        self._pv_now_w = home.pv_now_w if self.pv_w is None else _value(self.pv_w, home.now)
        return self.cells.run(target_w, seconds, min_soc, 1.0)

    def publish(self, home: Home) -> None:
        """Report the state of charge, the battery's state and the inverter's AC power."""
        h, power_w, soc = self.holding, self.power_w, self.cells.soc
        if power_w > 0:
            state = "charging"
        elif power_w < 0:
            state = "discharging"
        elif soc >= 1.0 - 1e-6:
            state = "full"
        elif soc <= self._point("MinRsvPct") * 10**SOC_SF / 100 + 1e-6:
            state = "empty"
        else:
            state = "holding"
        put(h, self.at("ChaState"), soc * 100 / 10**SOC_SF)
        put(h, self.at("InBatV"), (48.0 + 6.0 * soc) * 10)
        h[self.at("ChaSt")] = CHA_ST[state]
        put(h, self.inverter + point_layout(INVERTER, "W").offset, self._pv_now_w - power_w)


@dataclass
class Car:
    """An electric car: its battery, how much current it takes, on how many phases.

    It charges until ``target_soc``; ``efficiency`` is the on-board charger's [assumed: 90 %].
    """

    capacity_kwh: float = 60.0
    soc: float = 0.5
    target_soc: float = 1.0
    max_current_a: float = 16.0
    phases: int = 3
    efficiency: float = 0.9

    @property
    def full(self) -> bool:
        """Whether it has reached its target and takes no more."""
        return self.soc >= self.target_soc - 1e-9


# KEBA KeContact P30/P40, Modbus TCP (notes §1.4): unit 255; reads U32 high word first.
KEBA_STATE: Final = 1000  # 1 not ready, 2 ready/waiting, 3 charging, 5 suspended [doc]
KEBA_CABLE: Final = 1004  # 0 unplugged, 7 station + car + locked [impl]
KEBA_ERROR: Final = 1006
KEBA_CURRENTS: Final = (1008, 1010, 1012)  # mA [impl]
KEBA_SERIAL: Final = 1014
KEBA_PRODUCT: Final = 1016  # P30: 6 digits starting 3; P40: 7 starting 4 [impl]
KEBA_FIRMWARE: Final = 1018
KEBA_POWER: Final = 1020  # mW [impl]
KEBA_TOTAL: Final = 1036  # 0.1 Wh [doc]
KEBA_VOLTAGES: Final = (1040, 1042, 1044)  # V, non-zero only while charging [impl]
KEBA_POWER_FACTOR: Final = 1046
KEBA_MAX_CURRENT: Final = 1100  # mA, the current offered [doc]
KEBA_HARDWARE_CURRENT: Final = 1110  # mA, cable and DIP switches [doc]
KEBA_SESSION: Final = 1502  # 0.1 Wh [impl]
KEBA_FAILSAFE_CURRENT: Final = 1600  # mA [doc]
KEBA_FAILSAFE_TIMEOUT: Final = 1602  # s [doc]
KEBA_SET_CURRENT: Final = 5004  # U16 mA, 6000-63000 (P40: 0 pauses) [doc, impl]
KEBA_ENABLE: Final = 5014  # U16 0/1 (P30) [doc]
KEBA_SET_FAILSAFE_CURRENT: Final = 5016  # U16 mA, 0 or 6000-63000 [doc]
KEBA_SET_FAILSAFE_TIMEOUT: Final = 5018  # U16 s, 0 or 10-600 [doc]
KEBA_SET_FAILSAFE_PERSIST: Final = 5020  # U16 0/1 [doc]
KEBA_WRITE_ONLY: Final = 5000  # from here on, registers are write-only
PLUGGED, UNPLUGGED = 7, 0
NOT_READY, READY, CHARGING, SUSPENDED = 1, 2, 3, 5
MIN_CURRENT_MA: Final = 6000
DEFAULT_CURRENT_MA: Final = 63000  # "Curr user" until written [doc: UDP guide]


class KebaCharger(Device):
    """A KEBA KeContact P30 or P40 wallbox, with a car the test plugs in and out.

    The car draws min(offered current, its own maximum) x 230 V x its phases while the charger
    is enabled and offers at least 6 A, and stops when it is full. A new offered current takes
    effect ``ramp_delay_s`` later: IEC 61851-1 gives a car up to 5 s to follow a new pilot duty
    cycle [assumed from memory of the standard, not in the notes]; the car's own stop (full,
    unplugged) is immediate. A P30 pauses with 5014 = 0 and takes 6000-63000 mA in 5004; a P40
    pauses with 5004 = 0 [impl: evcc#20860] and has no 5014 here [assumed from evcc's using
    5004 for it]. Failsafe: with a timeout (5018) set, when no write of 5004, 5014 or 5018
    (evcc's heartbeat [impl]) comes within it, the charger offers the failsafe current (5016;
    0 stops) until 5004 or 5014 is written again [doc: UDP guide, "current and enable must be
    re-sent"]. Registers from 5000 are write-only [doc]; reading them, or more than 2 words at
    once [doc], answers "illegal data address" [assumed: the exception is not documented].
    """

    def __init__(
        self,
        model: Literal["p30", "p40"] = "p30",
        *,
        unit: int = 255,
        hardware_current_a: float = 32.0,
        ramp_delay_s: float = 5.0,
        energy_kwh: float = 0.0,
        session_kwh: float = 0.0,
        serial: int = 22012345,
    ) -> None:
        """Make a wallbox whose cable and DIP switches allow ``hardware_current_a``."""
        super().__init__()
        self.model = model
        self.car: Car | None = None
        self.energy_kwh, self.session_kwh = energy_kwh, session_kwh
        self.ramp_delay_s = ramp_delay_s
        self.hardware_ma = round(hardware_current_a * 1000)
        self.current_ma = DEFAULT_CURRENT_MA
        self.enabled = True
        self.failsafe_current_ma, self.failsafe_timeout_s = 0, 0
        self.failsafe_active = False
        self._command_at = 0.0
        self.drawn_a = 0.0
        self._pending: tuple[float, float] | None = None  # (from elapsed s, amperes)
        self._new_session = False
        fail_current = Setting(MIN_CURRENT_MA, 63000, also=frozenset({0}))
        settings = {
            KEBA_SET_CURRENT: fail_current if model == "p40" else Setting(MIN_CURRENT_MA, 63000),
            KEBA_SET_FAILSAFE_CURRENT: fail_current,
            KEBA_SET_FAILSAFE_TIMEOUT: Setting(10, 600, also=frozenset({0})),
            KEBA_SET_FAILSAFE_PERSIST: Setting(0, 1),
        }
        if model == "p30":
            settings[KEBA_ENABLE] = Setting(0, 1)
        self.units[unit] = self._unit(settings, self._written)
        self.holding = self.units[unit].holding
        self.holding.update(dict.fromkeys(range(KEBA_STATE, KEBA_FAILSAFE_TIMEOUT + 2), 0))
        self.holding.update(dict.fromkeys(settings, 0))
        product = 4212311 if model == "p40" else 304111  # examples from OpenEMS's tests, KEBA
        for address, value in (
            (KEBA_SERIAL, serial), (KEBA_PRODUCT, product), (KEBA_FIRMWARE, 31080),
            (KEBA_HARDWARE_CURRENT, self.hardware_ma),
        ):  # fmt: skip
            put(self.holding, address, value, 2)

    def check_read(self, address: int, count: int) -> ExcCodes | None:
        """One value at a time (2 words), none of the write-only registers."""
        if not self.answering:
            return GONE
        if count > 2 or address + count > KEBA_WRITE_ONLY:
            return ExcCodes.ILLEGAL_ADDRESS
        return None

    def plug(self, car: Car) -> None:
        """Plug a car in: a new session starts when it starts charging."""
        self.car, self._new_session = car, True

    def unplug(self) -> None:
        """Unplug the car: it stops drawing at once."""
        self.car, self.drawn_a, self._pending = None, 0.0, None

    def _written(self, values: dict[int, int]) -> None:
        if KEBA_SET_CURRENT in values:
            self.current_ma = values[KEBA_SET_CURRENT]
        if KEBA_ENABLE in values:
            self.enabled = bool(values[KEBA_ENABLE])
        if KEBA_SET_FAILSAFE_CURRENT in values:
            self.failsafe_current_ma = values[KEBA_SET_FAILSAFE_CURRENT]
        if KEBA_SET_FAILSAFE_TIMEOUT in values:
            self.failsafe_timeout_s = values[KEBA_SET_FAILSAFE_TIMEOUT]
        if {KEBA_SET_CURRENT, KEBA_ENABLE, KEBA_SET_FAILSAFE_TIMEOUT} & values.keys():
            self._command_at = self.elapsed_s
        if {KEBA_SET_CURRENT, KEBA_ENABLE} & values.keys():
            self.failsafe_active = False

    @property
    def offered_ma(self) -> int:
        """The current the charger offers the car now (mA, 0: suspended)."""
        if self.failsafe_active:
            wanted = self.failsafe_current_ma
        elif not self.enabled:
            wanted = 0
        else:
            wanted = self.current_ma
        return min(wanted, self.hardware_ma)

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Watch the failsafe; let the car follow the offered current; charge it."""
        timeout = self.failsafe_timeout_s
        if timeout and not self.failsafe_active and home.elapsed_s - self._command_at > timeout:
            self.failsafe_active = True
        car = self.car
        if car is None or car.full:
            self.drawn_a, self._pending = 0.0, None
            return 0.0
        offered_a = self.offered_ma / 1000 if self.offered_ma >= MIN_CURRENT_MA else 0.0
        wanted_a = min(offered_a, car.max_current_a)
        if wanted_a != (self._pending[1] if self._pending else self.drawn_a):
            self._pending = (home.elapsed_s - seconds + self.ramp_delay_s, wanted_a)
        if self._pending and home.elapsed_s >= self._pending[0]:
            self.drawn_a, self._pending = self._pending[1], None
        power_w = self.drawn_a * VOLTAGE_V * car.phases
        room_kwh = (car.target_soc - car.soc) * car.capacity_kwh / car.efficiency
        power_w = min(power_w, room_kwh * 3_600_000 / seconds)
        if power_w > 0 and self._new_session:
            self.session_kwh, self._new_session = 0.0, False
        energy_kwh = power_w * seconds / 3_600_000
        car.soc += energy_kwh * car.efficiency / car.capacity_kwh
        self.energy_kwh += energy_kwh
        self.session_kwh += energy_kwh
        return power_w

    def publish(self, home: Home) -> None:
        """Report the states, the current offered and drawn, power and energies."""
        h, car, power_w = self.holding, self.car, self.power_w
        if car is None:
            state, cable = NOT_READY, UNPLUGGED
        elif power_w > 0:
            state, cable = CHARGING, PLUGGED
        elif self.offered_ma < MIN_CURRENT_MA:
            state, cable = SUSPENDED, PLUGGED
        else:
            state, cable = READY, PLUGGED
        phases = car.phases if car is not None and power_w > 0 else 0
        amps = power_w / VOLTAGE_V / phases if phases else 0.0
        for n, (current, voltage) in enumerate(zip(KEBA_CURRENTS, KEBA_VOLTAGES, strict=True)):
            put(h, current, amps * 1000 if n < phases else 0, 2)
            put(h, voltage, VOLTAGE_V if n < phases else 0, 2)
        for address, value in (
            (KEBA_STATE, state), (KEBA_CABLE, cable), (KEBA_POWER, power_w * 1000),
            (KEBA_TOTAL, self.energy_kwh * 10000), (KEBA_SESSION, self.session_kwh * 10000),
            (KEBA_POWER_FACTOR, 990 if phases else 0), (KEBA_MAX_CURRENT, self.offered_ma),
            (KEBA_FAILSAFE_CURRENT, self.failsafe_current_ma),
            (KEBA_FAILSAFE_TIMEOUT, self.failsafe_timeout_s),
        ):  # fmt: skip
            put(h, address, value, 2)
