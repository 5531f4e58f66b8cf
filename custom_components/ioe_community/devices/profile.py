"""Device profiles: register maps as YAML data, so a contributor adds a device without Python.

The format is documented in docs/device-profiles.md. ``load_profile`` validates a file and
returns a ``Profile``; every problem names the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
import itertools
from pathlib import Path
from typing import Any, Final

import probatio
import yaml

PROFILES_DIR: Final = Path(__file__).with_name("profiles")
DEFAULT_MAX_REGISTERS: Final = 64
DEFAULT_MAX_GAP: Final = 16


class Function(StrEnum):
    """The Modbus table a register lives in."""

    HOLDING = "holding"
    INPUT = "input"


class DataType(StrEnum):
    """How the 16-bit words of a register are read."""

    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    U64 = "u64"
    S64 = "s64"
    F32 = "f32"
    STRING = "string"


WORDS: Final = {
    DataType.U16: 1,
    DataType.S16: 1,
    DataType.U32: 2,
    DataType.S32: 2,
    DataType.U64: 4,
    DataType.S64: 4,
    DataType.F32: 2,
}
# Values devices send for "not implemented" / "no value": never a reading (never 65535 W).
DEFAULT_SENTINELS: Final = {
    DataType.U16: (0xFFFF,),
    DataType.S16: (-0x8000,),
    DataType.U32: (0xFFFFFFFF,),
    DataType.S32: (-0x80000000,),
    DataType.U64: (0xFFFFFFFFFFFFFFFF,),
    DataType.S64: (-0x8000000000000000,),
    DataType.F32: (),  # NaN is always "no value"
    DataType.STRING: (),
}
ROLES: Final = frozenset(
    {
        "grid_import_energy",
        "grid_export_energy",
        "grid_power",
        "pv_energy",
        "pv_power",
        "battery_charge_energy",
        "battery_discharge_energy",
        "battery_power",
        "battery_soc",
        "ev_energy",
        "ev_session_energy",
        "ev_power",
        "ev_state",
        "consumption_energy",
        "consumption_power",
    }
)


class ProfileError(ValueError):
    """A profile file is not valid; the message names the file and the key."""


@dataclass(frozen=True, kw_only=True)
class Register:
    """One value a device exposes (read-only)."""

    key: str
    address: int
    function: Function
    data_type: DataType
    word_order: str
    count: int
    scale: float
    scale_factor: str | None
    unit: str | None
    device_class: str | None
    state_class: str | None
    role: str | None
    sentinels: tuple[int, ...]
    enabled_by_default: bool
    diagnostic: bool
    options: dict[int, str] = field(default_factory=dict)
    # The value's magnitude: a counter some devices count down (negative) for the same energy.
    absolute: bool = False
    # What "no value" means, where the device says it for a reason: an inverter reports its
    # power as not implemented while asleep at night (SMA), which is 0 W.
    absent: float | None = None
    # A register whose value means nothing while this one reads 0 or no value: a Victron GX
    # answers 0 for whatever it does not have, so a state of charge needs a battery's voltage.
    needs: str | None = None
    # Registers whose values are added to this one's: the same point in each repetition of a
    # SunSpec model's repeating group (the DC power of each MPPT input in model 160).
    addends: tuple[str, ...] = ()
    # Registers tried in order while this one (with its addends) has no value: where a maker
    # leaves a point unimplemented for another (SMA's DC power only in model 160).
    fallbacks: tuple[str, ...] = ()

    @property
    def end(self) -> int:
        """The address just past this register's last word."""
        return self.address + self.count


class Refusal(StrEnum):
    """Why a setpoint may not be written now; each is also the key of its translated message."""

    # The register came with a later firmware than the device has.
    NEEDS_FIRMWARE = "setpoint_needs_firmware"
    # Whether the device has the register could not be found out (it did not answer).
    SUPPORT_UNKNOWN = "setpoint_support_unknown"
    # The device has not reported the limit the setpoint is bounded by.
    LIMIT_UNKNOWN = "setpoint_limit_unknown"
    # The device has not reported the scale factor the setpoint is written with.
    SCALE_UNKNOWN = "setpoint_scale_unknown"


class SetpointRefusedError(Exception):
    """Nothing may be written to a setpoint now: ``refusal`` says why, with its facts."""

    def __init__(self, key: str, refusal: Refusal, placeholders: Mapping[str, str]) -> None:
        """Keep the reason and the facts its message needs."""
        super().__init__(f"{key}: {refusal.value} {dict(placeholders)}")
        self.refusal = refusal
        self.placeholders = dict(placeholders)


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What a setpoint may be written as now, in engineering units.

    ``pause`` is a value outside ``minimum``..``maximum`` that the device takes as "stop" (a
    KEBA P40 takes 0 A, while 1-5 A are no current an EV charger may set).
    """

    minimum: float
    maximum: float
    pause: float | None = None

    def allows(self, value: float) -> bool:
        """Return whether ``value`` may be written."""
        return value == self.pause or self.minimum <= value <= self.maximum


@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """One model of a profile's family, told apart by the value of the profile's model register."""

    id: str
    name: str
    minimum: int
    maximum: int


# Units a revert timeout may be counted in, in seconds.
DURATION_UNITS: Final = {"s": 1, "min": 60}


@dataclass(frozen=True, kw_only=True)
class Revert:
    """How a device goes back to its own mode when no command comes, after a write.

    Either a timeout the device is told in another setpoint (``register``: Huawei's forcible
    period, SunSpec's InOutWRte_RvrtTms, KEBA's failsafe timeout), or one of its own it keeps
    (``after_s``: Victron's volatile grid setpoint), or neither (the value holds until the next
    write: a setting).
    """

    register: str | None = None
    after_s: int | None = None


NEVER: Final = Revert()


class Check(StrEnum):
    """How what is read back after a write is compared with what was written."""

    # The same value (the setpoint itself, or a register that reports it).
    EQUAL = "equal"
    # At most the value: a register reporting what the device does, bounded by the setpoint
    # and by other limits (KEBA's effective maximum current, also bounded by its cable).
    AT_MOST = "at_most"


@dataclass(frozen=True, kw_only=True)
class ReadBack:
    """Where a write is read back: the setpoint's own words (``register`` None), or a register.

    A write-only setpoint (KEBA's 5004 and 5014 read as "illegal address") names the register
    its effect shows in, or has no ``ReadBack`` at all when none does.
    """

    register: str | None = None
    check: Check = Check.EQUAL


@dataclass(frozen=True, kw_only=True)
class WritableRegister:
    """A setpoint the controls feature may write, within limits (in engineering units).

    A bound may be a register the device reports it in (``maximum_register``, say a battery's
    maximum charging power): the bound is then the lower of the fixed one and the device's.
    ``pause`` is a value the device also takes, as "stop", on the models in ``pause_models``
    (on every model when empty). ``since`` names the firmware that added the register: whether
    a device has it is found by reading it (an older one answers "illegal data address").
    ``scale_factor`` names a register whose value (a power of ten) scales this one as well, as
    SunSpec's do. ``revert`` says how the device leaves the value when no command comes, and
    ``read_back`` where a write is checked (None: nowhere, the device cannot tell).
    """

    key: str
    address: int
    data_type: DataType
    scale: float
    minimum: float
    maximum: float
    unit: str | None
    maximum_register: str | None = None
    pause: float | None = None
    pause_models: frozenset[str] = frozenset()
    since: str | None = None
    scale_factor: str | None = None
    revert: Revert = NEVER
    read_back: ReadBack | None = ReadBack()

    @property
    def count(self) -> int:
        """How many words the register takes."""
        return WORDS[self.data_type]

    def limits(
        self,
        values: Mapping[str, float | str | None],
        *,
        model: DeviceModel | None = None,
        present: bool | None = None,
    ) -> Limits:
        """Return what may be written now, given the device's values, model and registers.

        ``present`` says whether the device has the register (only asked of a register that
        came with a later firmware, ``since``): True, False (it answered that it has not), or
        None (not known). Raise SetpointRefusedError when nothing may be written.
        """
        if self.since is not None and present is not True:
            refusal = Refusal.NEEDS_FIRMWARE if present is False else Refusal.SUPPORT_UNKNOWN
            raise SetpointRefusedError(
                self.key, refusal, {"address": str(self.address), "firmware": self.since}
            )
        maximum = self.maximum
        if self.maximum_register is not None:
            reported = values.get(self.maximum_register)
            if not isinstance(reported, int | float):
                raise SetpointRefusedError(
                    self.key, Refusal.LIMIT_UNKNOWN, {"register": self.maximum_register}
                )
            maximum = min(maximum, float(reported))
        pauses = not self.pause_models or (model is not None and model.id in self.pause_models)
        return Limits(minimum=self.minimum, maximum=maximum, pause=self.pause if pauses else None)


@dataclass(frozen=True, kw_only=True)
class PlugInCounter:
    """A value counted on a charger's total energy counter since a car was plugged in.

    ``counter`` is the key of the total (kWh); ``state`` the key of the register whose states
    in ``connected`` mean that a car is plugged in (see ``ev_session``).
    """

    key: str
    counter: str
    state: str
    connected: frozenset[str]

    def car_connected(self, values: Mapping[str, float | str | None]) -> bool | None:
        """Return whether a car is plugged in, or None when the state is not known."""
        state = values.get(self.state)
        return state in self.connected if isinstance(state, str) else None


@dataclass(frozen=True, kw_only=True)
class TestVector:
    """Raw registers a device could return, and the values they must decode to.

    A SunSpec profile's vectors give raw point values per model instead (``sunspec``: the
    model chain, in order); ``sunspec.image`` lays them out as registers.
    """

    holding: dict[int, int]
    input: dict[int, int]
    expected: dict[str, float | str | None]
    sunspec: tuple[tuple[int, dict[str, Any]], ...] = ()


@dataclass(frozen=True, kw_only=True)
class SunSpecSource:
    """A SunSpec point of the first of ``models`` a device has.

    ``point`` names a point of the model, or ``group.point`` a point of the group the model
    repeats to its end (``module.DCW`` in model 160): its values are summed.
    """

    models: tuple[int, ...]
    point: str


@dataclass(frozen=True, kw_only=True)
class SunSpecPoint:
    """A value read from a SunSpec point: the first of ``models`` the device has.

    Where the device has no value there, the first of ``fallback`` that has one.
    """

    key: str
    models: tuple[int, ...]
    point: str
    scale: float
    unit: str | None
    device_class: str | None
    state_class: str | None
    role: str | None
    enabled_by_default: bool
    diagnostic: bool
    absent: float | None = None
    fallback: tuple[SunSpecSource, ...] = ()

    @property
    def sources(self) -> tuple[SunSpecSource, ...]:
        """Where the value may be, in the order tried: the point, then its fallbacks."""
        return (SunSpecSource(models=self.models, point=self.point), *self.fallback)


@dataclass(frozen=True, kw_only=True)
class SunSpecSetpoint:
    """A setpoint at a SunSpec point, the first of ``models`` a device has.

    ``setpoint`` says everything but where it is: its address, type and scale factor are the
    device's, set when the profile is resolved for its model chain (sunspec.resolve_profile).
    """

    models: tuple[int, ...]
    point: str
    setpoint: WritableRegister


class BatteryControl(StrEnum):
    """How a battery is commanded; each has its actuator (see actuators)."""

    HUAWEI_FORCIBLE = "huawei_forcible"
    VICTRON_ESS = "victron_ess"
    SUNSPEC_STORAGE = "sunspec_storage"


class ChargerControl(StrEnum):
    """How an EV charger is commanded; each has its actuator (see actuators)."""

    KEBA = "keba"


# The setpoints each kind of control writes, by the keys its actuator knows them by.
CONTROL_SETPOINTS: Final[Mapping[BatteryControl | ChargerControl, tuple[str, ...]]] = {
    BatteryControl.HUAWEI_FORCIBLE: (
        "forcible_charge_power",
        "forcible_discharge_power",
        "forcible_period",
        "forcible_setting_mode",
        "forcible_command",
    ),
    BatteryControl.VICTRON_ESS: ("ess_grid_setpoint",),
    BatteryControl.SUNSPEC_STORAGE: (
        "storage_control_mode",
        "storage_charge_rate",
        "storage_discharge_rate",
        "storage_rate_revert",
    ),
    ChargerControl.KEBA: (
        "charging_current",
        "enable_charging",
        "failsafe_current_setpoint",
        "failsafe_timeout_setpoint",
    ),
}


@dataclass(frozen=True, kw_only=True)
class Control:
    """What a device can be commanded as: a battery, an EV charger, and how."""

    battery: BatteryControl | None = None
    charger: ChargerControl | None = None


@dataclass(frozen=True, kw_only=True)
class SignRule:
    """Registers whose power a device family counts positive while exporting.

    Told by a text register (the manufacturer), compared without case, spaces or padding.
    """

    register: str
    values: frozenset[str]
    keys: frozenset[str]

    def applies(self, values: Mapping[str, float | str | None]) -> bool:
        """Return whether the device's values name one of the families that export positive."""
        told = values.get(self.register)
        return isinstance(told, str) and _family(told) in self.values


def _family(text: str) -> str:
    return "".join(text.split()).casefold()


@dataclass(frozen=True, kw_only=True)
class Profile:
    """Everything needed to read (and later control) one kind of device."""

    id: str
    manufacturer: str
    model: str
    word_order: str
    max_registers: int
    max_gap: int
    registers: tuple[Register, ...]
    writable: tuple[WritableRegister, ...]
    test_vectors: tuple[TestVector, ...]
    serial_number: str | None = None
    # SunSpec profiles name points, not addresses: their registers are known per device, once
    # its model chain has been read (see sunspec.resolve_profile).
    sunspec: tuple[SunSpecPoint, ...] = ()
    # The register that tells the family's models apart, and each model's range of its values.
    model_register: str | None = None
    models: tuple[DeviceModel, ...] = ()
    plug_in: PlugInCounter | None = None
    export_positive: SignRule | None = None
    # Setpoints at SunSpec points: placed per device, as its points are (``writable`` then).
    sunspec_writable: tuple[SunSpecSetpoint, ...] = ()
    control: Control = Control()
    # The least time between two writes of one register (KEBA asks for 5 s).
    write_interval_s: float = 0.0

    @property
    def values(self) -> tuple[Register, ...]:
        """The registers that are values.

        Not scale factors (of registers or setpoints), addends or fallbacks: they are only read
        for the values they are part of.
        """
        parts = {r.scale_factor for r in self.registers}
        parts |= {key for r in self.registers for key in (*r.addends, *r.fallbacks)}
        parts |= {w.scale_factor for w in self.writable}
        return tuple(r for r in self.registers if r.key not in parts)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every value the profile can give (for SunSpec, if the device has its model)."""
        derived = (self.plug_in.key,) if self.plug_in else ()
        return tuple(r.key for r in self.registers) + tuple(p.key for p in self.sunspec) + derived

    @property
    def always_read(self) -> frozenset[str]:
        """Registers read whichever entities are enabled.

        The serial number and the model name the device (device registry, setpoint rules);
        a value counted since plug-in needs its counter and the state that starts it; a value
        that ``needs`` another needs that one read.
        """
        keys = {self.serial_number, self.model_register}
        keys |= {r.needs for r in self.registers if r.needs is not None}
        if self.export_positive is not None:
            keys.add(self.export_positive.register)
        if self.plug_in is not None:
            keys |= {self.plug_in.counter, self.plug_in.state}
        return frozenset(key for key in keys if key is not None)

    def register(self, key: str) -> Register:
        """Return the register named ``key``."""
        for register in self.registers:
            if register.key == key:
                return register
        raise KeyError(key)

    def setpoint(self, key: str) -> WritableRegister:
        """Return the writable register named ``key``."""
        for writable in self.writable:
            if writable.key == key:
                return writable
        raise KeyError(key)

    def identify(self, values: Mapping[str, float | str | None]) -> DeviceModel | None:
        """Return the model the device's values say it is, or None when they do not say."""
        value = values.get(self.model_register) if self.model_register else None
        if not isinstance(value, int | float):
            return None
        return next((m for m in self.models if m.minimum <= value <= m.maximum), None)


_KEY = probatio.Match(r"^[a-z][a-z0-9_]*$", msg="lower-case letters, digits and _")
_ADDRESS = probatio.All(int, probatio.Range(min=0, max=65535))
_REGISTER_SCHEMA = probatio.Schema(
    {
        probatio.Required("key"): _KEY,
        probatio.Required("address"): _ADDRESS,
        probatio.Optional("function", default="holding"): probatio.Coerce(Function),
        probatio.Required("type"): probatio.Coerce(DataType),
        probatio.Optional("word_order"): probatio.In(("big", "little")),
        probatio.Optional("count"): probatio.All(int, probatio.Range(min=1, max=64)),
        probatio.Exclusive("scale", "scaling"): probatio.Coerce(float),
        probatio.Exclusive("scale_factor", "scaling"): _KEY,
        probatio.Optional("unit"): str,
        probatio.Optional("device_class"): str,
        probatio.Optional("state_class"): probatio.In(("measurement", "total", "total_increasing")),
        probatio.Optional("role"): probatio.In(sorted(ROLES)),
        probatio.Optional("not_implemented"): [int],
        probatio.Optional("absolute", default=False): bool,
        probatio.Optional("needs"): _KEY,
        probatio.Optional("enabled_by_default"): bool,
        probatio.Optional("diagnostic", default=False): bool,
        probatio.Optional("options"): {int: str},
    }
)
_MODEL_IDS = probatio.Any(
    probatio.All(int, probatio.Range(min=1, max=65534)),
    [probatio.All(int, probatio.Range(min=1, max=65534))],
)
_REVERT_SCHEMA = probatio.Any(
    "never",
    probatio.Schema({probatio.Required("register"): _KEY}),
    probatio.Schema({probatio.Required("after_s"): probatio.All(int, probatio.Range(min=1))}),
)
_READ_BACK_SCHEMA = probatio.Any(
    "none",
    probatio.Schema(
        {
            probatio.Required("register"): _KEY,
            probatio.Optional("check", default="equal"): probatio.Coerce(Check),
        }
    ),
)
_WRITABLE_SCHEMA = probatio.Schema(
    {
        probatio.Required("key"): _KEY,
        # Where: an address and a type, or a SunSpec point (its model chain places it).
        probatio.Exclusive("address", "where"): _ADDRESS,
        probatio.Exclusive("point", "where"): str,
        probatio.Optional("model"): _MODEL_IDS,
        probatio.Optional("type"): probatio.All(
            probatio.Coerce(DataType), probatio.NotIn([DataType.STRING], msg="not a number")
        ),
        probatio.Optional("scale", default=1.0): probatio.Coerce(float),
        probatio.Required("min"): probatio.Coerce(float),
        probatio.Required("max"): probatio.Coerce(float),
        probatio.Optional("max_register"): _KEY,
        probatio.Optional("unit"): str,
        # A value the device also takes, meaning "stop" (on the models listed, or every one).
        probatio.Optional("pause"): {
            probatio.Required("value"): probatio.Coerce(float),
            probatio.Optional("models", default=[]): [_KEY],
        },
        # The firmware that added the register (text for the user: "Venus OS 3.50").
        probatio.Optional("since"): probatio.All(str, probatio.Length(min=1)),
        # How the device leaves the value when no command comes; stated for every setpoint.
        probatio.Required("revert"): _REVERT_SCHEMA,
        # Where a write is checked, when not at the setpoint itself ("none": nowhere).
        probatio.Optional("read_back"): _READ_BACK_SCHEMA,
    }
)
_MODELS_SCHEMA = probatio.Schema(
    {
        probatio.Required("register"): _KEY,
        probatio.Required("values"): [
            {
                probatio.Required("id"): _KEY,
                probatio.Required("model"): probatio.All(str, probatio.Length(min=1)),
                probatio.Required("min"): int,
                probatio.Required("max"): int,
            }
        ],
    }
)
_PLUG_IN_SCHEMA = probatio.Schema(
    {
        probatio.Required("key"): _KEY,
        probatio.Required("counter"): _KEY,
        probatio.Required("state"): _KEY,
        probatio.Required("connected"): probatio.All([str], probatio.Length(min=1)),
    }
)
_SUNSPEC_SCHEMA = probatio.Schema(
    {
        probatio.Required("key"): _KEY,
        probatio.Required("model"): _MODEL_IDS,
        probatio.Required("point"): str,
        # Points tried in order where the device has no value at the first (their model: the
        # point's own unless given).
        probatio.Optional("fallback", default=[]): [
            {probatio.Optional("model"): _MODEL_IDS, probatio.Required("point"): str}
        ],
        probatio.Optional("scale", default=1.0): probatio.Coerce(float),
        probatio.Optional("unit"): str,
        probatio.Optional("device_class"): str,
        probatio.Optional("state_class"): probatio.In(("measurement", "total", "total_increasing")),
        probatio.Optional("role"): probatio.In(sorted(ROLES)),
        probatio.Optional("enabled_by_default"): bool,
        probatio.Optional("diagnostic", default=False): bool,
        probatio.Optional("absent"): probatio.Coerce(float),
    }
)
_SIGN_SCHEMA = probatio.Schema(
    {
        probatio.Required("register"): _KEY,
        probatio.Required("values"): probatio.All([str], probatio.Length(min=1)),
        probatio.Required("keys"): probatio.All([_KEY], probatio.Length(min=1)),
    }
)
_VECTOR_SCHEMA = probatio.Schema(
    {
        probatio.Optional("sunspec", default=[]): [
            {
                probatio.Required("model"): int,
                # A repeating group's name takes a list: its repetitions' points, in order.
                probatio.Required("points"): {
                    str: probatio.Any(int, float, str, [{str: probatio.Any(int, float, str)}])
                },
            }
        ],
        probatio.Optional("holding", default={}): {
            _ADDRESS: probatio.All(int, probatio.Range(0, 0xFFFF))
        },
        probatio.Optional("input", default={}): {
            _ADDRESS: probatio.All(int, probatio.Range(0, 0xFFFF))
        },
        probatio.Required("expected"): {str: probatio.Any(None, float, int, str)},
    }
)
_PROFILE_SCHEMA = probatio.Schema(
    {
        probatio.Required("id"): _KEY,
        probatio.Required("manufacturer"): str,
        probatio.Required("model"): str,
        probatio.Optional("word_order", default="big"): probatio.In(("big", "little")),
        probatio.Optional("max_registers", default=DEFAULT_MAX_REGISTERS): probatio.All(
            int, probatio.Range(min=1, max=125)
        ),
        probatio.Optional("max_gap", default=DEFAULT_MAX_GAP): probatio.All(
            int, probatio.Range(min=0, max=125)
        ),
        probatio.Optional("serial_number"): _KEY,
        # Raw values that mean "no value" for every register of a type, unless a register
        # says otherwise (``not_implemented``): Huawei's 0x7FFFFFFF, say, beside the type's own.
        probatio.Optional("no_value", default={}): {
            probatio.Coerce(DataType): [int],
        },
        probatio.Exclusive("registers", "values"): [_REGISTER_SCHEMA],
        probatio.Exclusive("sunspec", "values"): [_SUNSPEC_SCHEMA],
        probatio.Optional("writable", default=[]): [_WRITABLE_SCHEMA],
        probatio.Optional("models"): _MODELS_SCHEMA,
        # The energy charged since a car was plugged in, counted on the charger's total.
        probatio.Optional("plug_in_energy"): _PLUG_IN_SCHEMA,
        # Registers whose power some families count positive while exporting (SolarEdge).
        probatio.Optional("export_positive"): _SIGN_SCHEMA,
        probatio.Required("test_vectors"): [_VECTOR_SCHEMA],
        # What the device can be commanded as, and by which actuator.
        probatio.Optional("control", default={}): {
            probatio.Optional("battery"): probatio.Coerce(BatteryControl),
            probatio.Optional("charger"): probatio.Coerce(ChargerControl),
        },
        probatio.Optional("write_interval_s", default=0.0): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0)
        ),
    }
)


def _register(
    raw: dict[str, Any], word_order: str, no_value: Mapping[DataType, list[int]]
) -> Register:
    data_type: DataType = raw["type"]
    if data_type is DataType.STRING and "count" not in raw:
        raise probatio.Invalid("a string register needs its count of words", path=["count"])
    return Register(
        key=raw["key"],
        address=raw["address"],
        function=raw["function"],
        data_type=data_type,
        word_order=raw.get("word_order", word_order),
        count=raw.get("count", WORDS.get(data_type, 1)),
        scale=raw.get("scale", 1.0),
        scale_factor=raw.get("scale_factor"),
        unit=raw.get("unit"),
        device_class=raw.get("device_class"),
        state_class=raw.get("state_class"),
        role=raw.get("role"),
        sentinels=tuple(
            raw.get(
                "not_implemented", (*DEFAULT_SENTINELS[data_type], *no_value.get(data_type, ()))
            )
        ),
        # Diagnostic entities start disabled unless the profile says otherwise.
        enabled_by_default=raw.get("enabled_by_default", not raw["diagnostic"]),
        diagnostic=raw["diagnostic"],
        options=raw.get("options", {}),
        absolute=raw["absolute"],
        needs=raw.get("needs"),
    )


def parse_profile(data: Any, source: str) -> Profile:
    """Validate profile data (as loaded from YAML) and return the profile."""
    try:
        raw = _PROFILE_SCHEMA(data)
        if "registers" not in raw and "sunspec" not in raw:
            raise probatio.Invalid("a profile needs registers or sunspec points")  # noqa: TRY301
        registers = tuple(
            _register(r, raw["word_order"], raw["no_value"]) for r in raw.get("registers", [])
        )
    except probatio.Invalid as err:
        raise ProfileError(f"{source}: {err}") from err
    points = tuple(
        SunSpecPoint(
            key=p["key"],
            models=_model_ids(p["model"]),
            point=p["point"],
            scale=p["scale"],
            unit=p.get("unit"),
            device_class=p.get("device_class"),
            state_class=p.get("state_class"),
            role=p.get("role"),
            enabled_by_default=p.get("enabled_by_default", not p["diagnostic"]),
            diagnostic=p["diagnostic"],
            absent=p.get("absent"),
            fallback=tuple(
                SunSpecSource(models=_model_ids(f.get("model", p["model"])), point=f["point"])
                for f in p["fallback"]
            ),
        )
        for p in raw.get("sunspec", [])
    )
    keys = [r.key for r in registers] + [p.key for p in points]
    if duplicates := sorted({k for k in keys if keys.count(k) > 1}):
        raise ProfileError(f"{source}: registers {duplicates} are defined twice")
    for register in registers:
        if register.needs is not None and register.needs not in keys:
            raise ProfileError(f"{source}: {register.key} needs an unknown register")
        if register.scale_factor is not None and register.scale_factor not in keys:
            raise ProfileError(
                f"{source}: register {register.key} names an unknown scale_factor "
                f"{register.scale_factor!r}"
            )
    if raw.get("serial_number") is not None and raw["serial_number"] not in keys:
        raise ProfileError(f"{source}: serial_number names an unknown register")
    models = _models(raw.get("models"), registers, source)
    writable = [_writable(w, keys, {m.id for m in models}, source) for w in raw["writable"]]
    control = Control(**raw["control"])
    _check_writes(
        [w.setpoint if isinstance(w, SunSpecSetpoint) else w for w in writable], control, source
    )
    vectors = tuple(
        TestVector(
            holding=v["holding"],
            input=v["input"],
            expected=v["expected"],
            sunspec=tuple((m["model"], m["points"]) for m in v["sunspec"]),
        )
        for v in raw["test_vectors"]
    )
    for vector in vectors:
        if unknown := sorted(set(vector.expected) - set(keys)):
            raise ProfileError(f"{source}: test vector expects unknown registers {unknown}")
    return Profile(
        id=raw["id"],
        manufacturer=raw["manufacturer"],
        model=raw["model"],
        word_order=raw["word_order"],
        max_registers=raw["max_registers"],
        max_gap=raw["max_gap"],
        registers=registers,
        writable=tuple(w for w in writable if isinstance(w, WritableRegister)),
        test_vectors=vectors,
        serial_number=raw.get("serial_number"),
        sunspec=points,
        model_register=raw["models"]["register"] if models else None,
        models=models,
        plug_in=_plug_in(raw.get("plug_in_energy"), registers, source),
        export_positive=_sign_rule(raw.get("export_positive"), keys, source),
        sunspec_writable=tuple(w for w in writable if isinstance(w, SunSpecSetpoint)),
        control=control,
        write_interval_s=raw["write_interval_s"],
    )


def _model_ids(raw: int | list[int]) -> tuple[int, ...]:
    return tuple(raw) if isinstance(raw, list) else (raw,)


def _sign_rule(raw: dict[str, Any] | None, keys: list[str], source: str) -> SignRule | None:
    if raw is None:
        return None
    if unknown := sorted({raw["register"], *raw["keys"]} - set(keys)):
        raise ProfileError(f"{source}: export_positive names unknown registers {unknown}")
    return SignRule(
        register=raw["register"],
        values=frozenset(map(_family, raw["values"])),
        keys=frozenset(raw["keys"]),
    )


def _models(
    raw: dict[str, Any] | None, registers: tuple[Register, ...], source: str
) -> tuple[DeviceModel, ...]:
    if raw is None:
        return ()
    register = next((r for r in registers if r.key == raw["register"]), None)
    if register is None or register.options or register.data_type is DataType.STRING:
        raise ProfileError(f"{source}: models are told apart by an unknown or non-number register")
    models = tuple(
        DeviceModel(id=m["id"], name=m["model"], minimum=m["min"], maximum=m["max"])
        for m in raw["values"]
    )
    ordered = sorted(models, key=lambda m: m.minimum)
    for model in ordered:
        if model.minimum > model.maximum:
            raise ProfileError(f"{source}: model {model.id} has min above max")
    for first, second in itertools.pairwise(ordered):
        if second.minimum <= first.maximum:
            raise ProfileError(f"{source}: models {first.id} and {second.id} overlap")
    if len({m.id for m in models}) != len(models):
        raise ProfileError(f"{source}: a model id is used twice")
    return models


def _writable(
    raw: dict[str, Any], keys: list[str], model_ids: set[str], source: str
) -> WritableRegister | SunSpecSetpoint:
    """Return a setpoint; one at a SunSpec point is placed later, per device."""
    key = raw["key"]
    if ("address" in raw) == ("point" in raw) or ("address" in raw) != ("type" in raw):
        raise ProfileError(f"{source}: writable {key} needs an address and a type, or a point")
    if ("point" in raw) != ("model" in raw):
        raise ProfileError(f"{source}: writable {key} needs the model of its point")
    if raw.get("max_register") not in (None, *keys):
        raise ProfileError(
            f"{source}: writable {key} takes its maximum from an unknown "
            f"register {raw['max_register']!r}"
        )
    pause = raw.get("pause", {"value": None, "models": []})
    if unknown := sorted(set(pause["models"]) - model_ids):
        raise ProfileError(f"{source}: writable {key} pauses unknown models {unknown}")
    if pause["value"] is not None and raw["min"] <= pause["value"] <= raw["max"]:
        raise ProfileError(f"{source}: writable {key}'s pause lies within min..max")
    revert = raw["revert"]
    read_back = raw.get("read_back", {})
    if read_back not in ({}, "none") and read_back["register"] not in keys:
        raise ProfileError(f"{source}: writable {key} is read back at an unknown register")
    setpoint = WritableRegister(
        key=key,
        address=raw.get("address", 0),
        data_type=raw.get("type", DataType.U16),
        scale=raw["scale"],
        minimum=raw["min"],
        maximum=raw["max"],
        unit=raw.get("unit"),
        maximum_register=raw.get("max_register"),
        pause=pause["value"],
        pause_models=frozenset(pause["models"]),
        since=raw.get("since"),
        revert=NEVER if revert == "never" else Revert(**revert),
        read_back=None if read_back == "none" else ReadBack(**read_back),
    )
    if "point" in raw:
        return SunSpecSetpoint(
            models=_model_ids(raw["model"]), point=raw["point"], setpoint=setpoint
        )
    return setpoint


def _check_writes(setpoints: list[WritableRegister], control: Control, source: str) -> None:
    """Check what setpoints name of each other, and that a control has what it writes."""
    found = {s.key: s for s in setpoints}
    if len(found) != len(setpoints):
        raise ProfileError(f"{source}: a writable key is used twice")
    for setpoint in setpoints:
        if setpoint.revert.register is None:
            continue
        timeout = found.get(setpoint.revert.register)
        if timeout is None or timeout is setpoint:
            raise ProfileError(
                f"{source}: writable {setpoint.key} reverts after an unknown setpoint"
            )
        if timeout.unit not in DURATION_UNITS or timeout.revert.register is not None:
            raise ProfileError(
                f"{source}: writable {setpoint.key} reverts after {timeout.key}, which is no "
                f"timeout (a unit of {sorted(DURATION_UNITS)}, reverting by itself)"
            )
    for kind in (control.battery, control.charger):
        if kind is not None and (missing := sorted(set(CONTROL_SETPOINTS[kind]) - set(found))):
            raise ProfileError(f"{source}: control {kind} needs the writable {missing}")


def _plug_in(
    raw: dict[str, Any] | None, registers: tuple[Register, ...], source: str
) -> PlugInCounter | None:
    if raw is None:
        return None
    found = {r.key: r for r in registers}
    if raw["key"] in found:
        raise ProfileError(f"{source}: plug_in_energy's key {raw['key']!r} is a register's")
    counter, state = found.get(raw["counter"]), found.get(raw["state"])
    if counter is None or counter.unit != "kWh" or counter.state_class != "total_increasing":
        raise ProfileError(f"{source}: plug_in_energy counts on a register of kWh counted up")
    if state is None or not set(raw["connected"]) <= set(state.options.values()):
        raise ProfileError(f"{source}: plug_in_energy's connected states are not its state's")
    return PlugInCounter(
        key=raw["key"],
        counter=counter.key,
        state=state.key,
        connected=frozenset(raw["connected"]),
    )


def load_profile_file(path: Path) -> Profile:
    """Read and validate one profile file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: {err}") from err
    return parse_profile(data, str(path))


@cache
def available_profiles() -> dict[str, Profile]:
    """Return the profiles shipped in ``profiles/``, by id."""
    profiles = {}
    for path in sorted(PROFILES_DIR.glob("*.yaml")):
        profile = load_profile_file(path)
        if profile.id != path.stem:
            raise ProfileError(f"{path}: id {profile.id!r} must match the file name")
        profiles[profile.id] = profile
    return profiles
