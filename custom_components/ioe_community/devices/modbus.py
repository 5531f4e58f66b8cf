"""Async Modbus access on pymodbus: TCP, RTU over TCP and RTU over a serial line.

One ``ModbusBus`` per endpoint (host:port or serial port) is shared by every unit id on it:
many devices accept a single client, and a serial line carries one request at a time, so
requests on a bus are serialised. A bus that cannot connect waits before trying again,
doubling the wait up to a minute.

pymodbus' ``connect()`` only says whether it connected; ``diagnose`` finds out why not, so
that a household can be told what to fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
import logging
import os
from pathlib import Path
import socket
import time
from typing import ClassVar, Final

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from .batching import ReadBlock, plan_reads
from .decode import DecodeError, decode, raw_value
from .profile import Function, Profile, Register

type _Client = AsyncModbusTcpClient | AsyncModbusSerialClient

_LOGGER = logging.getLogger(__name__)
BACKOFF_INITIAL_S: Final = 1.0
BACKOFF_MAX_S: Final = 60.0
DEFAULT_TIMEOUT_S: Final = 3.0
# Consecutive failed polls after which a device counts as unavailable.
UNAVAILABLE_AFTER: Final = 3
# The Modbus exception a device answers for registers it does not have.
ILLEGAL_DATA_ADDRESS: Final = 2


class Transport(StrEnum):
    """How the bytes travel."""

    TCP = "tcp"
    RTU_OVER_TCP = "rtu_over_tcp"
    SERIAL = "serial"


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where a bus is: a host and port, or a serial port and its speed."""

    transport: Transport
    host: str | None = None
    port: int = 502
    serial_port: str | None = None
    baudrate: int = 9600

    def __str__(self) -> str:
        """Return ``host:port`` or the serial port."""
        if self.transport is Transport.SERIAL:
            return f"{self.serial_port}@{self.baudrate}"
        return f"{self.host}:{self.port}"


class ConnectionProblem(StrEnum):
    """Why no connection to an endpoint could be opened, as the household is told."""

    REFUSED = "refused"
    """The host answered, but nothing listens on that port: a wrong port, or Modbus TCP off."""
    UNREACHABLE = "unreachable"
    """Nothing answered at that address: a wrong address, the device off, or no route to it."""
    UNKNOWN_HOST = "unknown_host"
    """The host name does not resolve: a typo, or a name only another network knows."""
    NO_SERIAL_PORT = "no_serial_port"
    """The serial port does not exist: the adapter is unplugged, or the path is mistyped."""
    SERIAL_PERMISSION = "serial_permission"
    """The serial port exists, but Home Assistant may not read and write it."""


class ReadFailureKind(StrEnum):
    """What kind of thing went wrong reading a device."""

    NOT_ANSWERING = "not_answering"
    """The device or gateway did not answer: no connection, or a timeout."""
    EXCEPTION = "exception"
    """The device answered with a Modbus exception: an illegal address, busy, …"""
    SHORT_ANSWER = "short_answer"
    """The device answered with fewer or more registers than were asked for."""
    UNDECODABLE = "undecodable"
    """The registers were read, but do not hold what the profile says (text that is not)."""
    NOT_SUNSPEC = "not_sunspec"
    """The device has no SunSpec model chain that can be read."""


@dataclass(frozen=True, kw_only=True)
class ReadFailure:
    """One thing that went wrong reading a device: its kind, and the detail people are told."""

    kind: ReadFailureKind
    detail: str


class ModbusError(Exception):
    """A read failed; the message says why, ``kind`` what kind of failure it is."""

    kind: ClassVar[ReadFailureKind]

    def failure(self) -> ReadFailure:
        """Return the failure as a value."""
        return ReadFailure(kind=self.kind, detail=str(self))


class NotAnsweringError(ModbusError):
    """The device or gateway did not answer (no connection, timeout)."""

    kind = ReadFailureKind.NOT_ANSWERING


class ShortAnswerError(ModbusError):
    """The device answered with another number of registers than was asked for."""

    kind = ReadFailureKind.SHORT_ANSWER


class ExceptionResponseError(ModbusError):
    """The device answered with a Modbus exception (illegal address, busy, …)."""

    kind = ReadFailureKind.EXCEPTION

    def __init__(self, message: str, code: int | None) -> None:
        """Keep the exception code."""
        super().__init__(message)
        self.code = code


def make_client(
    endpoint: Endpoint, timeout_s: float
) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
    """Return a pymodbus client for ``endpoint`` (retries are ours, not pymodbus')."""
    if endpoint.transport is Transport.SERIAL:
        return AsyncModbusSerialClient(
            str(endpoint.serial_port),
            framer=FramerType.RTU,
            baudrate=endpoint.baudrate,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,
        )
    framer = FramerType.RTU if endpoint.transport is Transport.RTU_OVER_TCP else FramerType.SOCKET
    # reconnect_delay=0: pymodbus must not reconnect behind our back; the bus backs off itself.
    return AsyncModbusTcpClient(
        str(endpoint.host),
        port=endpoint.port,
        framer=framer,
        timeout=timeout_s,
        retries=0,
        reconnect_delay=0,
    )


async def diagnose(
    endpoint: Endpoint, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ConnectionProblem | None:
    """Return why ``endpoint`` cannot be connected to, or None when a connection opens.

    Only the connection is tried, not Modbus: None does not mean that a device answers there.
    A host name with several addresses is tried address by address, as pymodbus does, each
    for ``timeout_s``; when none opens, "refused" wins over "unreachable", since one address
    that refuses shows that the host is up and only the port is wrong.
    """
    if endpoint.transport is Transport.SERIAL:
        # File system calls may block, and Home Assistant reports blocking calls in its loop.
        return await asyncio.to_thread(_serial_problem, str(endpoint.serial_port))
    try:
        addresses = await _addresses(endpoint)
    except socket.gaierror:
        return ConnectionProblem.UNKNOWN_HOST
    problems = set()
    for _, address in addresses:
        problem = await _tcp_problem(address, endpoint.port, timeout_s)
        if problem is None:
            return None
        problems.add(problem)
    if ConnectionProblem.REFUSED in problems:
        return ConnectionProblem.REFUSED
    return ConnectionProblem.UNREACHABLE


async def resolved_address(endpoint: Endpoint) -> str:
    """Return where ``endpoint`` really is, the same text for every way of naming it.

    Two entries for one device (``localhost:1502`` and ``127.0.0.1:1502``, a
    ``/dev/serial/by-id/...`` link and the ``/dev/ttyUSB0`` it points to) give the same text.
    For TCP it is ``ip:port`` (``[ip]:port`` for IPv6) of the first IPv4 address the name
    resolves to, else of its first address: a name with both kinds of address (``localhost``:
    ``::1`` and ``127.0.0.1``) is then named by the address its IPv4-only spellings also give,
    while the order of IPv6 addresses depends on the machine's configuration. A name that does
    not resolve is its own text. For a serial port it is the path with every link resolved.
    """
    if endpoint.transport is Transport.SERIAL:
        return await asyncio.to_thread(os.path.realpath, str(endpoint.serial_port))
    try:
        addresses = await _addresses(endpoint)
    except socket.gaierror:
        return str(endpoint)
    ipv4 = [address for family, address in addresses if family == socket.AF_INET]
    if ipv4:
        return f"{ipv4[0]}:{endpoint.port}"
    _, ipv6 = addresses[0]
    return f"[{ipv6}]:{endpoint.port}"


async def _addresses(endpoint: Endpoint) -> list[tuple[int, str]]:
    """Return the (family, IP address) pairs of the endpoint's host, in the resolver's order.

    Raise socket.gaierror when the host name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(
        endpoint.host, endpoint.port, type=socket.SOCK_STREAM
    )
    return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


async def _tcp_problem(address: str, port: int, timeout_s: float) -> ConnectionProblem | None:
    """Open a TCP connection to ``address`` and close it; return what stopped it, if anything."""
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(address, port)
    except ConnectionRefusedError:
        return ConnectionProblem.REFUSED
    except OSError:
        # TimeoutError is an OSError too: no answer, no route (EHOSTUNREACH, ENETUNREACH),
        # the host down (EHOSTDOWN), or no such kind of address here (no IPv6).
        return ConnectionProblem.UNREACHABLE
    writer.close()
    # A device that accepts only one client may reset the connection at once: it did open.
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


def _serial_problem(path: str) -> ConnectionProblem | None:
    """Return what keeps the serial port at ``path`` from being opened, if anything we can see.

    A link to a missing device (a ``/dev/serial/by-id/...`` link whose adapter was unplugged)
    counts as missing. Root may open any port, whatever its mode.
    """
    if not Path(path).exists():
        return ConnectionProblem.NO_SERIAL_PORT
    if not os.access(path, os.R_OK | os.W_OK):
        return ConnectionProblem.SERIAL_PERMISSION
    return None


@dataclass
class ModbusBus:
    """One connection, shared by every device on the endpoint."""

    endpoint: Endpoint
    timeout_s: float = DEFAULT_TIMEOUT_S
    backoff_initial_s: float = BACKOFF_INITIAL_S
    backoff_max_s: float = BACKOFF_MAX_S
    # How many times the bus has (re)connected: more than once means the link drops.
    connections_opened: int = 0
    _client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _retry_at: float = 0.0
    _backoff_s: float | None = None

    @property
    def backoff_s(self) -> float:
        """How long the bus will wait after the next failed connection attempt."""
        return self.backoff_initial_s if self._backoff_s is None else self._backoff_s

    async def _connected(self) -> _Client:
        if self._client is not None and self._client.connected:
            return self._client
        now = time.monotonic()
        if now < self._retry_at:
            raise NotAnsweringError(
                f"{self.endpoint}: not connected; next attempt in {self._retry_at - now:.0f} s"
            )
        if self._client is None:
            self._client = make_client(self.endpoint, self.timeout_s)
        if not await self._client.connect():
            self._retry_at = time.monotonic() + self.backoff_s
            self._backoff_s = min(self.backoff_s * 2, self.backoff_max_s)
            raise NotAnsweringError(f"{self.endpoint}: cannot connect")
        self._backoff_s = None
        self.connections_opened += 1
        return self._client

    async def read(self, function: Function, address: int, count: int, unit: int) -> list[int]:
        """Read ``count`` words from ``address`` of ``unit``; raise ModbusError on failure."""

        def send(client: _Client) -> Awaitable[ModbusPDU]:
            if function is Function.HOLDING:
                return client.read_holding_registers(address, count=count, device_id=unit)
            return client.read_input_registers(address, count=count, device_id=unit)

        response = await self._exchange(unit, send)
        if response.isError():
            code = getattr(response, "exception_code", None)
            raise ExceptionResponseError(
                f"{self.endpoint} unit {unit}: exception {code} reading {count} {function} "
                f"registers at {address}",
                code,
            )
        registers = list(response.registers)
        if len(registers) != count:
            raise ShortAnswerError(
                f"{self.endpoint} unit {unit}: asked for {count} registers at {address}, "
                f"got {len(registers)}"
            )
        return registers

    async def write(self, address: int, words: list[int], unit: int) -> None:
        """Write ``words`` to the holding registers of ``unit`` from ``address`` on.

        One word goes with "write single register" (function 6), more with "write multiple
        registers" (function 16) in one request: a 32-bit value is never split, so a device
        never holds half of it. Raise ModbusError on failure (ExceptionResponseError when
        the device refuses the write).
        """

        def send(client: _Client) -> Awaitable[ModbusPDU]:
            if len(words) == 1:
                return client.write_register(address, words[0], device_id=unit)
            return client.write_registers(address, words, device_id=unit)

        response = await self._exchange(unit, send)
        if response.isError():
            code = getattr(response, "exception_code", None)
            raise ExceptionResponseError(
                f"{self.endpoint} unit {unit}: exception {code} writing {words} at {address}",
                code,
            )

    async def _exchange(
        self, unit: int, send: Callable[[_Client], Awaitable[ModbusPDU]]
    ) -> ModbusPDU:
        """Send one request on the connection (one at a time) and return the device's answer."""
        async with self._lock:
            client = await self._connected()
            try:
                return await send(client)
            except ModbusException as err:
                # A timeout leaves the stream in an unknown state: start again cleanly.
                client.close()
                raise NotAnsweringError(f"{self.endpoint} unit {unit}: {err}") from err

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None


async def has_registers(bus: ModbusBus, unit: int, address: int, count: int) -> bool | None:
    """Return whether ``unit`` has ``count`` holding registers from ``address`` on.

    False when it answers "illegal data address" (exception 2), as a device does for
    registers a later firmware added; None when it does not tell (no answer, another
    exception: a gateway's "path unavailable", a busy device).
    """
    try:
        await bus.read(Function.HOLDING, address, count, unit)
    except ExceptionResponseError as err:
        return False if err.code == ILLEGAL_DATA_ADDRESS else None
    except ModbusError:
        return None
    return True


@dataclass(frozen=True, kw_only=True)
class Poll:
    """What one poll of a device returned: values by key (None: no value) and the errors."""

    values: dict[str, float | str | None]
    errors: tuple[ReadFailure, ...]

    @property
    def failed(self) -> bool:
        """Whether nothing at all could be read."""
        return not self.values and bool(self.errors)


class DeviceReader:
    """Reads one device (a profile at a unit id on a bus), only the registers that are needed."""

    def __init__(
        self, profile: Profile, bus: ModbusBus, unit: int, keys: Iterable[str] | None = None
    ) -> None:
        """Plan the reads for ``keys`` (default: registers enabled by default)."""
        self.profile = profile
        self.bus = bus
        self.unit = unit
        wanted = (
            {r.key for r in profile.registers if r.enabled_by_default}
            if keys is None
            else set(keys)
        )
        # A value's fallbacks and addends (a fallback's too) are read along with it, and
        # scale-factor registers along with the registers that need them.
        wanted |= {k for r in profile.registers if r.key in wanted for k in r.fallbacks}
        wanted |= {k for r in profile.registers if r.key in wanted for k in r.addends}
        wanted |= {r.scale_factor for r in profile.registers if r.key in wanted and r.scale_factor}
        self.registers = [r for r in profile.registers if r.key in wanted]
        self.blocks: list[ReadBlock] = plan_reads(
            self.registers, max_registers=profile.max_registers, max_gap=profile.max_gap
        )
        self.failures = 0

    @property
    def available(self) -> bool:
        """False after ``UNAVAILABLE_AFTER`` consecutive polls that read nothing."""
        return self.failures < UNAVAILABLE_AFTER

    async def has_registers(self, address: int, count: int) -> bool | None:
        """Return whether the device has ``count`` holding registers from ``address`` on."""
        return await has_registers(self.bus, self.unit, address, count)

    async def poll(self) -> Poll:
        """Read every block; decode what was read; report what was not."""
        words: dict[tuple[Function, int], int] = {}
        errors: list[ReadFailure] = []
        for block in self.blocks:
            try:
                data = await self.bus.read(block.function, block.address, block.count, self.unit)
            except ModbusError as err:
                errors.append(err.failure())
                if isinstance(err, NotAnsweringError):
                    break  # the other blocks would only time out too
                continue
            for offset, word in enumerate(data):
                words[(block.function, block.address + offset)] = word
        values = self._decode(words, errors)
        was_available = self.available
        self.failures = self.failures + 1 if not values and errors else 0
        if was_available and not self.available:
            _LOGGER.warning(
                "%s unit %s is unavailable: %s", self.bus.endpoint, self.unit, errors[-1].detail
            )
        elif not was_available and self.available:
            _LOGGER.info("%s unit %s answers again", self.bus.endpoint, self.unit)
        return Poll(values=values, errors=tuple(errors))

    def _decode(
        self, words: dict[tuple[Function, int], int], errors: list[ReadFailure]
    ) -> dict[str, float | str | None]:
        def raw(register: Register) -> list[int] | None:
            keys = [(register.function, register.address + i) for i in range(register.count)]
            return [words[k] for k in keys] if all(k in words for k in keys) else None

        scale_factors: dict[str, int | None] = {}
        for register in self.registers:
            data = raw(register)
            if data is not None and any(r.scale_factor == register.key for r in self.registers):
                value = raw_value(register, data)
                scale_factors[register.key] = None if value in register.sentinels else int(value)
        values: dict[str, float | str | None] = {}
        for register in self.registers:
            data = raw(register)
            if data is None:
                continue
            try:
                values[register.key] = decode(register, data, scale_factors)
            except DecodeError as err:
                errors.append(ReadFailure(kind=ReadFailureKind.UNDECODABLE, detail=str(err)))
        self._combine(values)
        for register in self.registers:
            if (
                register.needs is not None
                and register.key in values
                and not values.get(register.needs)
            ):
                values[register.key] = None  # what it needs reads 0 or nothing: no value
        rule = self.profile.export_positive
        if rule is not None and rule.applies(values):
            for key in rule.keys:
                if isinstance(power := values.get(key), int | float):
                    values[key] = -power  # counted positive while exporting: made import-positive
        return values

    def _combine(self, values: dict[str, float | str | None]) -> None:
        """Make values of their parts: sum addends, then fall back where there is no value.

        A value none of whose parts was read stays unread (an error, not a known "no value").
        """
        for register in self.registers:
            if register.addends:
                read = [values[k] for k in (register.key, *register.addends) if k in values]
                if read:
                    values[register.key] = _total(read)
        for register in self.registers:
            if register.fallbacks and values.get(register.key) is None:
                read = [values[k] for k in register.fallbacks if k in values]
                if read:
                    values[register.key] = next((v for v in read if v is not None), None)


def _total(values: Iterable[float | str | None]) -> float | None:
    """Return the sum of the numbers among ``values``, to their resolution (None: no number)."""
    numbers = [Decimal(repr(v)) for v in values if isinstance(v, int | float)]
    return float(sum(numbers)) if numbers else None
