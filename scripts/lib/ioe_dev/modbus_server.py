"""A real pymodbus server serving chosen registers, recording every request it receives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import functools
import os
import pty
import time
import tty

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ioe_dev.processes import free_port

READ_HOLDING = 3
READ_INPUT = 4


# What a device does with a write (address, words): None applies it; an exception refuses it
# (a value out of range: ILLEGAL_VALUE). pymodbus answers standard exception codes only.
type WriteCheck = Callable[[int, list[int]], ExcCodes | None]
# What a device does with a read (address, count): None serves it; an exception refuses it (a
# register the device does not let be read, or a device behind a gateway that is gone).
type ReadCheck = Callable[[int, int], ExcCodes | None]


@dataclass
class Registers:
    """One unit's registers: ``holding`` and ``input`` map addresses to 16-bit words.

    A client may write the holding registers in ``writable`` only (any other answers "illegal
    data address", as a read-only register does); ``on_write`` sees each write first. A write
    that is applied changes ``holding``, so the next read returns it. ``on_read`` sees each read
    first, of either table.
    """

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    writable: frozenset[int] = frozenset()
    on_write: WriteCheck | None = None
    on_read: ReadCheck | None = None


class NullModem:
    """Two serial ports joined by a cable: pseudo-terminals whose bytes cross over.

    A device listens on ``device_port`` and a client opens ``client_port``, as with an RS-485
    adapter on each end. The bytes are copied by the running event loop.
    """

    def __init__(self) -> None:
        """Open both pseudo-terminals, raw (no line discipline between the two ends)."""
        self._fds: list[int] = []
        paths = []
        for _ in range(2):
            master, terminal = pty.openpty()
            tty.setraw(terminal)
            self._fds += [master, terminal]
            paths.append(os.ttyname(terminal))
        self.device_port, self.client_port = paths
        self._masters = (self._fds[0], self._fds[2])

    def start(self) -> None:
        """Copy bytes across, in the running event loop."""
        loop = asyncio.get_running_loop()
        first, second = self._masters
        loop.add_reader(first, self._copy, first, second)
        loop.add_reader(second, self._copy, second, first)

    @staticmethod
    def _copy(source: int, target: int) -> None:
        with contextlib.suppress(OSError):  # nobody has the other end open yet
            os.write(target, os.read(source, 4096))

    def close(self) -> None:
        """Unplug the cable."""
        loop = asyncio.get_running_loop()
        for fd in self._masters:
            loop.remove_reader(fd)
        for fd in self._fds:
            os.close(fd)


@dataclass
class ModbusTestServer:
    """A pymodbus server on 127.0.0.1 (Modbus TCP, or RTU framing over TCP), or on a serial port.

    With ``serial_port`` (for instance a ``NullModem``'s device end) it speaks RTU there.
    """

    units: Mapping[int, Registers]
    framer: FramerType = FramerType.SOCKET
    port: int = 0  # 0: a free one is chosen (TCP only)
    serial_port: str | None = None
    requests: list[tuple[int, int, int, int]] = field(default_factory=list)
    # Every write the devices applied: (unit, function code, address, words).
    writes: list[tuple[int, int, int, tuple[int, ...]]] = field(default_factory=list)
    _server: ModbusTcpServer | ModbusSerialServer | None = None
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        """Choose the TCP port now, so that it is known before the server starts."""
        if self.serial_port is None and not self.port:
            self.port = free_port()

    def _devices(self) -> list[SimDevice]:
        def table(words: dict[int, int]) -> list[SimData]:
            """Serve the map from its lowest to its highest address, zeros in the holes.

            As a real device does: reads spanning unused addresses inside its map succeed;
            addresses outside it answer with exception 2 (illegal data address).
            """
            if not words:
                # pymodbus needs every table to hold something: a word at the last address.
                return [SimData(0xFFFF, values=0, datatype=DataType.UINT16)]
            first, last = min(words), max(words)
            values = [words.get(address, 0) for address in range(first, last + 1)]
            return [SimData(first, values=values, datatype=DataType.UINT16)]

        no_bits = [SimData(0, values=False, datatype=DataType.BITS)]
        return [
            SimDevice(
                unit,
                simdata=(no_bits, no_bits, table(regs.holding), table(regs.input)),
                action=functools.partial(self._refresh, unit),
            )
            for unit, regs in self.units.items()
        ]

    async def _refresh(  # noqa: PLR0917 - the signature pymodbus calls actions with
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Serve the current content of ``units`` (a simulator may change it at any time).

        A write is checked (writable, then the device's own check), applied to ``holding`` and
        recorded; a refused one answers the exception the device gave.
        """
        regs = self.units[unit]
        if set_values is not None:
            words = [int(word) for word in set_values]
            if any(a not in regs.writable for a in range(address, address + len(words))):
                return ExcCodes.ILLEGAL_ADDRESS
            if regs.on_write is not None and (code := regs.on_write(address, words)) is not None:
                return code
            regs.holding.update(zip(range(address, address + len(words)), words, strict=True))
            self.writes.append((unit, function_code, address, tuple(words)))
        elif (
            function_code in (READ_HOLDING, READ_INPUT)  # not a write's echo
            and regs.on_read is not None
            and (code := regs.on_read(address, count)) is not None
        ):
            return code
        source = regs.input if function_code == READ_INPUT else regs.holding
        for current in range(address, address + count):
            if current in source:
                registers[current - start_address] = source[current]
        return None

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending and pdu.function_code in (READ_HOLDING, READ_INPUT):
            self.requests.append((pdu.dev_id, pdu.function_code, pdu.address, pdu.count))
        return pdu

    async def start(self) -> None:
        """Listen on 127.0.0.1:port, or on the serial port."""
        if self.serial_port is not None:
            self._server = ModbusSerialServer(
                self._devices(),
                framer=FramerType.RTU,
                port=self.serial_port,
                baudrate=9600,
                trace_pdu=self._trace,
            )
            await self._server.serve_forever(background=True)  # returns once the port is open
            return
        self._server = ModbusTcpServer(
            self._devices(),
            framer=self.framer,
            address=("127.0.0.1", self.port),
            trace_pdu=self._trace,
        )
        self._task = asyncio.create_task(self._server.serve_forever())
        # Polled without timers: a test may have frozen the event loop's clock (time travel).
        deadline = time.perf_counter() + 5
        while time.perf_counter() < deadline:
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            await asyncio.sleep(0)
        raise RuntimeError(f"the Modbus test server did not listen on {self.port}")

    async def stop(self) -> None:
        """Stop answering (the device is gone)."""
        if self._server is not None:
            await self._server.shutdown()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = None
        self._task = None
