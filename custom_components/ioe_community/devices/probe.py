"""Read a Modbus device once, as the integration will read it, and say how that went.

The config flow probes a device before it saves it, and installers probe one from the command
line (``python -m custom_components.ioe_community.devices probe``): both read it this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .modbus import (
    DEFAULT_TIMEOUT_S,
    DeviceReader,
    Endpoint,
    ModbusBus,
    ModbusError,
    ReadFailure,
    ReadFailureKind,
)
from .profile import Profile
from .sunspec import SunSpecError, discover, resolve_profile


class ProbeOutcome(StrEnum):
    """How a device answered a probe."""

    READ = "read"
    """It gave values."""
    NOT_SUNSPEC = "not_sunspec"
    """The profile reads SunSpec models, but the device has no SunSpec model chain."""
    SUNSPEC_UNSUPPORTED = "sunspec_unsupported"
    """The device's SunSpec chain has none of the models the profile reads: nothing was asked."""
    WRONG_DEVICE = "wrong_device"
    """It answered, but with Modbus exceptions for the profile's registers: another device."""
    NO_VALUES = "no_values"
    """It gave no values (its serial number at most): ``modbus.diagnose`` tells whether the
    connection is why."""


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What a probe found: how it went, the values read and what went wrong."""

    outcome: ProbeOutcome
    # The profile as read: with its SunSpec points placed on the device's model chain.
    profile: Profile
    # The device's SunSpec models (model id: address of its ID register); empty when none.
    sunspec_models: Mapping[int, int] = field(default_factory=dict)
    values: Mapping[str, float | str | None] = field(default_factory=dict)
    serial_number: str | None = None
    errors: tuple[ReadFailure, ...] = ()


async def probe(
    profile: Profile,
    endpoint: Endpoint,
    unit: int,
    *,
    every_value: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ProbeResult:
    """Read the device at ``unit`` on ``endpoint`` once with ``profile``.

    A SunSpec device's model chain is read first; then the registers enabled by default (every
    value with ``every_value``) and the serial number, by which the device is known under
    another address. The profiles must have been preloaded off the event loop.
    """
    bus = ModbusBus(endpoint, timeout_s=timeout_s)
    try:
        models: dict[int, int] = {}
        if profile.sunspec:
            models = await discover(bus, unit)
        read = resolve_profile(profile, models)
        measured = DeviceReader(
            read, bus, unit, [r.key for r in read.values] if every_value else None
        )
        keys = {r.key for r in measured.registers}
        if read.serial_number:
            keys.add(read.serial_number)
        poll = await DeviceReader(read, bus, unit, keys).poll()
    except SunSpecError as err:
        failure = ReadFailure(kind=ReadFailureKind.NOT_SUNSPEC, detail=str(err))
        return ProbeResult(outcome=ProbeOutcome.NOT_SUNSPEC, profile=profile, errors=(failure,))
    except ModbusError as err:
        return ProbeResult(outcome=ProbeOutcome.NO_VALUES, profile=profile, errors=(err.failure(),))
    finally:
        bus.close()
    serial = poll.values.get(read.serial_number) if read.serial_number else None
    if any(value is not None for key, value in poll.values.items() if key != read.serial_number):
        outcome = ProbeOutcome.READ
    elif profile.sunspec and not measured.blocks:
        outcome = ProbeOutcome.SUNSPEC_UNSUPPORTED
    elif any(error.kind is ReadFailureKind.EXCEPTION for error in poll.errors):
        outcome = ProbeOutcome.WRONG_DEVICE
    else:
        outcome = ProbeOutcome.NO_VALUES
    return ProbeResult(
        outcome=outcome,
        profile=read,
        sunspec_models=models,
        values=poll.values,
        serial_number=str(serial).strip() if serial else None,
        errors=poll.errors,
    )
