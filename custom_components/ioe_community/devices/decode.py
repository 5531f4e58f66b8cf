"""Turn raw 16-bit Modbus words into values, honouring word order, scaling and sentinels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
import math
import struct

from .profile import DataType, Register

_STRUCT = {
    DataType.U16: ">H",
    DataType.S16: ">h",
    DataType.U32: ">I",
    DataType.S32: ">i",
    DataType.U64: ">Q",
    DataType.S64: ">q",
    DataType.F32: ">f",
}


class DecodeError(ValueError):
    """Raw words that cannot be a value of the register (wrong count, bad text)."""


def raw_value(register: Register, words: Sequence[int]) -> int | float | str:
    """Return the unscaled value of ``words`` (big-endian bytes within each word)."""
    if len(words) != register.count:
        raise DecodeError(f"{register.key}: expected {register.count} words, got {len(words)}")
    ordered = list(words) if register.word_order == "big" else list(reversed(words))
    data = b"".join(word.to_bytes(2, "big") for word in ordered)
    if register.data_type is DataType.STRING:
        try:
            return data.split(b"\0", 1)[0].decode("ascii").strip()
        except UnicodeDecodeError as err:
            raise DecodeError(f"{register.key}: not ASCII text: {data!r}") from err
    value = struct.unpack(_STRUCT[register.data_type], data)[0]
    return value if isinstance(value, int | float) else float(value)


def decode(
    register: Register, words: Sequence[int], scale_factors: Mapping[str, int | None]
) -> float | str | None:
    """Return the register's value in its unit, or None when the device has no value.

    None for a sentinel (0xFFFF, 0x8000, NaN, …), an out-of-range float, a state the profile
    does not name, or a scale-factor register that itself has no value. ``scale_factors``
    maps scale-factor keys to their raw (power of ten) values, as read in the same poll.
    """
    value = raw_value(register, words)
    if isinstance(value, str):
        return value or None
    if (isinstance(value, int) and value in register.sentinels) or (
        isinstance(value, float) and (math.isnan(value) or math.isinf(value))
    ):
        return register.absent
    if register.options:
        # A state the profile does not name is no value: never a guess, never a bare number
        # where Home Assistant expects one of the named states.
        return register.options.get(int(value))
    scale = _decimal(register.scale)
    if register.scale_factor is not None:
        exponent = scale_factors.get(register.scale_factor)
        if exponent is None:
            return None
        scale *= Decimal(10) ** exponent
    return _scaled(abs(value) if register.absolute else value, scale)


def _scaled(value: float, scale: Decimal) -> float:
    """Return a raw value times its scale, to the register's resolution."""
    if scale == 1:
        # An integer register read as it is stays an integer (a count, a serial: not "7.0").
        return value
    if isinstance(value, float):
        return value * float(scale)
    # In decimal, so that a value keeps its register's resolution: 5092 × 0.1 is 509.2, never
    # 509.20000000000005.
    return float(value * scale)


def _decimal(scale: float) -> Decimal:
    """Return a profile's scale as the decimal it was written as (0.1, not 0.10000000000000001)."""
    return Decimal(repr(scale))


def encode(register: Register, value: float | str) -> list[int]:
    """Return the words a device sends for ``value`` in the register's unit (inverse of decode).

    Used to write setpoints and to simulate devices. Scale-factor registers are not handled:
    ``value`` is taken as already scaled by the profile's fixed ``scale``.
    """
    if register.data_type is DataType.STRING:
        data = str(value).encode("ascii")[: 2 * register.count].ljust(2 * register.count, b"\0")
    elif register.data_type is DataType.F32:
        data = struct.pack(_STRUCT[register.data_type], float(value) / register.scale)
    else:
        # In decimal: a 64-bit counter beyond a float's 53 bits is written exactly.
        raw = Decimal(value if isinstance(value, int) else repr(float(value)))
        number = int((raw / _decimal(register.scale)).to_integral_value())
        data = struct.pack(_STRUCT[register.data_type], number)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if register.word_order == "big" else list(reversed(words))
