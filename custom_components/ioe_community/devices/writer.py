"""Write a device's setpoints in their units, each write checked before and read back after.

A value is checked against what the setpoint may be now (``Limits``: the profile's bounds, the
device's reported maximum, its model's pause) before anything is sent; it is written through
the bus, so that it never interleaves with a poll, and then read back where the profile says:
the setpoint's own words, or the register its effect shows in. What went wrong is a
``SetpointWriteError`` whose translation key and placeholders make the message people see; a
device that does not answer raises the bus's ``NotAnsweringError``, as a poll does.

Devices that ask for time between writes (KEBA: 5 s per register) get it: a new value waits
until the interval has passed since the register was last written; the same value again, as
a refresh, is skipped within the interval, since the device was just told.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import math
import time
from typing import ClassVar

from .decode import decode, encode, raw_value
from .modbus import ExceptionResponseError, ModbusBus, has_registers
from .profile import (
    Check,
    Function,
    Limits,
    Profile,
    Refusal,
    Register,
    SetpointRefusedError,
    WritableRegister,
)


class SetpointWriteError(Exception):
    """A write was not made, or did not take effect; ``translation_key`` names the message."""

    translation_key: ClassVar[str]

    def __init__(self, key: str, placeholders: Mapping[str, str]) -> None:
        """Keep the setpoint and the facts its message needs."""
        super().__init__(f"{key}: {self.translation_key} {dict(placeholders)}")
        self.key = key
        self.placeholders = dict(placeholders)


class OutOfRangeError(SetpointWriteError):
    """The value is not one the setpoint may take now: nothing was sent."""

    translation_key = "setpoint_out_of_range"


class WriteRefusedError(SetpointWriteError):
    """The device answered the write with a Modbus exception (``code``)."""

    translation_key = "setpoint_write_refused"

    def __init__(self, key: str, placeholders: Mapping[str, str], code: int | None) -> None:
        """Keep the exception code as well."""
        super().__init__(key, {**placeholders, "code": str(code)})
        self.code = code


class ReadBackError(SetpointWriteError):
    """The device took the write, but reads something else afterwards."""

    translation_key = "setpoint_read_back"


class DeviceWriter:
    """Writes the setpoints of one device (a profile at a unit id on a bus)."""

    def __init__(self, profile: Profile, bus: ModbusBus, unit: int) -> None:
        """Write nothing yet: what was written, and when, is remembered from the first write."""
        self.profile = profile
        self.bus = bus
        self.unit = unit
        # The value each setpoint was last written as and read back (or could not be).
        self._values: dict[str, float] = {}
        self._written_at: dict[str, float] = {}
        self._present: dict[str, bool] = {}
        self._model_values: dict[str, float | str | None] = {}

    def written(self, key: str) -> float | None:
        """Return what ``key`` was last written as, or None (not yet, or not taken)."""
        return self._values.get(key)

    async def read(self, key: str) -> float | str | None:
        """Read the register ``key`` now, in its unit (None: the device has no value)."""
        register = self.profile.register(key)
        words = await self.bus.read(register.function, register.address, register.count, self.unit)
        factors = {}
        if register.scale_factor is not None:
            factors[register.scale_factor] = await self._scale_factor(register.scale_factor)
        return decode(register, words, factors)

    async def limits(self, key: str) -> Limits:
        """Return what ``key`` may be written as now, reading what the device reports.

        Raise SetpointRefusedError when nothing may be written (see WritableRegister.limits).
        """
        setpoint = self.profile.setpoint(key)
        values: dict[str, float | str | None] = {}
        if setpoint.maximum_register is not None:
            values[setpoint.maximum_register] = await self.read(setpoint.maximum_register)
        if setpoint.pause_models and self.profile.model_register is not None:
            values.update(await self._model())
        present = None
        if setpoint.since is not None:
            present = self._present.get(key)
            if present is None:
                present = await has_registers(self.bus, self.unit, setpoint.address, setpoint.count)
                if present is not None:
                    self._present[key] = present
        return setpoint.limits(values, model=self.profile.identify(values), present=present)

    async def check(self, key: str, value: float) -> None:
        """Raise OutOfRangeError (or SetpointRefusedError) unless ``key`` may be ``value`` now.

        What a sequence of writes asks first, so that it sends nothing it would stop halfway.
        """
        setpoint = self.profile.setpoint(key)
        limits = await self.limits(key)
        if not limits.allows(value):
            raise OutOfRangeError(
                key,
                {
                    "address": str(setpoint.address),
                    "value": _text(value, setpoint.unit),
                    "minimum": _text(limits.minimum, setpoint.unit),
                    "maximum": _text(limits.maximum, setpoint.unit),
                },
            )

    async def write(self, key: str, value: float, *, refresh: bool = False) -> bool:
        """Write ``value`` (in the setpoint's unit) to ``key`` and read it back.

        The value last written is not written again, unless ``refresh`` (a command that
        restarts a device's timeout); not even then within the profile's write interval.
        Return whether it was written. Raise SetpointRefusedError or OutOfRangeError before
        sending anything, WriteRefusedError or ReadBackError after, ModbusError when the
        device does not answer.
        """
        setpoint = self.profile.setpoint(key)
        since = time.monotonic() - self._written_at.get(key, -math.inf)
        if self._values.get(key) == value and (not refresh or since < self._interval):
            return False
        await self.check(key, value)
        facts = {"address": str(setpoint.address), "value": _text(value, setpoint.unit)}
        register = await self._register(setpoint)
        words = encode(register, value)
        if since < self._interval:
            await asyncio.sleep(self._interval - since)
        self._values.pop(key, None)
        try:
            await self.bus.write(setpoint.address, words, self.unit)
        except ExceptionResponseError as err:
            raise WriteRefusedError(key, facts, err.code) from err
        finally:
            self._written_at[key] = time.monotonic()
        await self._read_back(setpoint, register, words, facts)
        self._values[key] = value
        return True

    @property
    def _interval(self) -> float:
        return self.profile.write_interval_s

    async def _read_back(
        self,
        setpoint: WritableRegister,
        register: Register,
        words: list[int],
        facts: Mapping[str, str],
    ) -> None:
        check = setpoint.read_back
        if check is None:
            return
        written = decode(register, words, {})
        if check.register is None:
            found = await self.bus.read(
                Function.HOLDING, setpoint.address, setpoint.count, self.unit
            )
            read: float | str | None = decode(register, found, {})
            taken = found == words
        else:
            read = await self.read(check.register)
            taken = _agrees(read, written, check.check)
        if not taken:
            unit = self.profile.register(check.register).unit if check.register else setpoint.unit
            shown = "—" if read is None else _text(read, unit)
            raise ReadBackError(setpoint.key, {**facts, "read": shown})

    async def _register(self, setpoint: WritableRegister) -> Register:
        """Return the setpoint as a register, scaled by its scale factor as the device says."""
        scale = setpoint.scale
        if setpoint.scale_factor is not None:
            exponent = await self._scale_factor(setpoint.scale_factor)
            if exponent is None:
                raise SetpointRefusedError(
                    setpoint.key,
                    Refusal.SCALE_UNKNOWN,
                    {"address": str(setpoint.address), "register": setpoint.scale_factor},
                )
            scale *= 10.0**exponent
        return Register(
            key=setpoint.key,
            address=setpoint.address,
            function=Function.HOLDING,
            data_type=setpoint.data_type,
            word_order=self.profile.word_order,
            count=setpoint.count,
            scale=scale,
            scale_factor=None,
            unit=setpoint.unit,
            device_class=None,
            state_class=None,
            role=None,
            sentinels=(),
            enabled_by_default=False,
            diagnostic=False,
        )

    async def _scale_factor(self, key: str) -> int | None:
        """Read a scale-factor register: its power of ten, or None when it has no value."""
        register = self.profile.register(key)
        words = await self.bus.read(register.function, register.address, register.count, self.unit)
        value = raw_value(register, words)
        return None if value in register.sentinels or isinstance(value, str) else int(value)

    async def _model(self) -> Mapping[str, float | str | None]:
        """Return the model register's value, read once: a device does not change its model."""
        key = self.profile.model_register
        if key is not None and self._model_values.get(key) is None:
            self._model_values[key] = await self.read(key)
        return self._model_values


def _agrees(read: float | str | None, written: float | str | None, check: Check) -> bool:
    """Return whether a value read back agrees with the one written, as ``check`` says."""
    if not isinstance(read, int | float) or not isinstance(written, int | float):
        return False
    return math.isclose(read, written) or (check is Check.AT_MOST and read < written)


def _text(value: float | str, unit: str | None) -> str:
    """Return a value as people read it: 16 A, 2500 W, -1.5 %."""
    shown = f"{value:g}" if isinstance(value, float | int) else value
    return f"{shown} {unit}" if unit else shown
