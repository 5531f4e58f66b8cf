"""The home's physics: a simulated clock, PV and load, devices and the grid between them.

Also what every device shares: its registers' words, the settings a write may set and the
battery cells that integrate power into a state of charge.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import datetime as dt
from typing import Final

from pymodbus.constants import ExcCodes

from custom_components.ioe_community.devices.decode import encode
from custom_components.ioe_community.devices.profile import Profile
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
    ``settings_written`` lists every setting it applied at the home's time (elapsed s, address,
    value), so that a test can check how often a controller writes (KEBA asks for 5 s or more
    between writes; Victron's 2700-range settings go to flash).
    """

    def __init__(self) -> None:
        """Start at the home's time 0 (``Home.add`` sets the time it joins)."""
        self.units: dict[int, Registers] = {}
        self.elapsed_s = 0.0
        self.answering = True
        self.power_w = 0.0
        self.settings_written: list[tuple[float, int, int]] = []

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
            self.settings_written += [(self.elapsed_s, a, v) for a, v in values.items()]
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

    @property
    def units(self) -> dict[int, Registers]:
        """Every device's units, to serve them all on one server (a gateway, or the demo's)."""
        units: dict[int, Registers] = {}
        for device in self.devices:
            if clash := units.keys() & device.units.keys():
                raise ValueError(f"two devices at unit {min(clash)}")
            units.update(device.units)
        return units

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
            self.pv_now_w = value_at(self.pv_w, now)
            self.load_now_w = value_at(self.load_w, now)
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


def value_at(power: Power, now: dt.datetime) -> float:
    """Return a power given as a fixed value or as a function of the local time (W)."""
    return float(power(now)) if callable(power) else float(power)


def clamp(power_w: float, low_w: float, high_w: float) -> float:
    """Return ``power_w`` within ``low_w``..``high_w``."""
    return min(max(power_w, low_w), high_w)
