"""Group the registers of enabled entities into as few Modbus reads as the device allows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .profile import Function, Register


@dataclass(frozen=True, kw_only=True)
class ReadBlock:
    """One Modbus request: ``count`` words from ``address`` in one table."""

    function: Function
    address: int
    count: int
    registers: tuple[Register, ...]


def plan_reads(
    registers: Iterable[Register], *, max_registers: int, max_gap: int
) -> list[ReadBlock]:
    """Return read blocks covering ``registers``, in address order per table.

    A register joins the current block when the block stays within ``max_registers`` words
    and the hole before it is at most ``max_gap`` words (reading a few unused words is cheaper
    than another round trip). A register is never split across blocks.
    """
    blocks: list[ReadBlock] = []
    for function in Function:
        chosen = sorted((r for r in registers if r.function is function), key=lambda r: r.address)
        current: list[Register] = []
        for register in chosen:
            if current:
                start = current[0].address
                end = max(r.end for r in current)
                if register.address - end <= max_gap and register.end - start <= max_registers:
                    current.append(register)
                    continue
                blocks.append(_block(function, current))
            current = [register]
        if current:
            blocks.append(_block(function, current))
    return blocks


def _block(function: Function, registers: list[Register]) -> ReadBlock:
    start = registers[0].address
    end = max(r.end for r in registers)
    return ReadBlock(
        function=function, address=start, count=end - start, registers=tuple(registers)
    )
