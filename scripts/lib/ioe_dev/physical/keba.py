"""A KEBA KeContact P30 or P40 wallbox and the car plugged into it (chargers notes §1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pymodbus.constants import ExcCodes

from .home import GONE, VOLTAGE_V, Device, Home, Setting, put


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
KEBA_CABLE: Final = 1004  # 0 no cable (a socket), 7 station + car + locked [impl]
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
# The failsafe's ranges are the UDP guide's "failsafe" command's [doc]; the same on Modbus is
# [assumed].
KEBA_SET_FAILSAFE_CURRENT: Final = 5016  # U16 mA, 0 or 6000-63000
KEBA_SET_FAILSAFE_TIMEOUT: Final = 5018  # U16 s, 0 or 10-600
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
    States: 1 without a car, 3 while it draws, 5 while the charger offers nothing (disabled,
    paused, failsafe 0: "suspended" [doc]; evcc reads a disabled KEBA from 5 [impl]), 2
    otherwise (waiting for the car: not yet following, or full [impl: evcc#31680]).
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
        # What a write sets shows in its status registers at once [assumed: KEBA does not say
        # how soon; a controller that reads a write back must find it there].
        for address, value in (
            (KEBA_MAX_CURRENT, self.offered_ma),
            (KEBA_FAILSAFE_CURRENT, self.failsafe_current_ma),
            (KEBA_FAILSAFE_TIMEOUT, self.failsafe_timeout_s),
        ):
            put(self.holding, address, value, 2)

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
            (KEBA_STATE, state), (KEBA_CABLE, cable), (KEBA_ERROR, 0), (KEBA_POWER, power_w * 1000),
            (KEBA_TOTAL, self.energy_kwh * 10000), (KEBA_SESSION, self.session_kwh * 10000),
            (KEBA_POWER_FACTOR, 990 if phases else 0), (KEBA_MAX_CURRENT, self.offered_ma),
            (KEBA_FAILSAFE_CURRENT, self.failsafe_current_ma),
            (KEBA_FAILSAFE_TIMEOUT, self.failsafe_timeout_s),
        ):  # fmt: skip
            put(h, address, value, 2)
