"""Async Modbus access on pymodbus: TCP, RTU over TCP and RTU over a serial line.

One ``ModbusBus`` per endpoint (host:port or serial port) is shared by every unit id on it:
many devices accept a single client, and a serial line carries one request at a time, so
requests on a bus are serialised. A bus that cannot connect waits before trying again,
doubling the wait up to a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
import logging
import time
from typing import Final

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from .batching import ReadBlock, plan_reads
from .decode import DecodeError, decode, raw_value
from .profile import Function, Profile, Register

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


class ModbusError(Exception):
    """A read failed; the message says why."""


class NotAnsweringError(ModbusError):
    """The device or gateway did not answer (no connection, timeout)."""


class ExceptionResponseError(ModbusError):
    """The device answered with a Modbus exception (illegal address, busy, …)."""

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

    async def _connected(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
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
        async with self._lock:
            client = await self._connected()
            method = (
                client.read_holding_registers
                if function is Function.HOLDING
                else client.read_input_registers
            )
            try:
                response = await method(address, count=count, device_id=unit)
            except ModbusException as err:
                # A timeout leaves the stream in an unknown state: start again cleanly.
                client.close()
                raise NotAnsweringError(f"{self.endpoint} unit {unit}: {err}") from err
        if response.isError():
            code = getattr(response, "exception_code", None)
            raise ExceptionResponseError(
                f"{self.endpoint} unit {unit}: exception {code} reading {count} {function} "
                f"registers at {address}",
                code,
            )
        registers = list(response.registers)
        if len(registers) != count:
            raise ModbusError(
                f"{self.endpoint} unit {unit}: asked for {count} registers at {address}, "
                f"got {len(registers)}"
            )
        return registers

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None


@dataclass(frozen=True, kw_only=True)
class Poll:
    """What one poll of a device returned: values by key (None: no value) and the errors."""

    values: dict[str, float | str | None]
    errors: list[str]

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
        """Return whether the device has ``count`` holding registers from ``address`` on.

        False when it answers "illegal data address" (exception 2), as a device does for
        registers a later firmware added; None when it does not tell (no answer, another
        exception: a gateway's "path unavailable", a busy device).
        """
        try:
            await self.bus.read(Function.HOLDING, address, count, self.unit)
        except ExceptionResponseError as err:
            return False if err.code == ILLEGAL_DATA_ADDRESS else None
        except ModbusError:
            return None
        return True

    async def poll(self) -> Poll:
        """Read every block; decode what was read; report what was not."""
        words: dict[tuple[Function, int], int] = {}
        errors = []
        for block in self.blocks:
            try:
                data = await self.bus.read(block.function, block.address, block.count, self.unit)
            except ModbusError as err:
                errors.append(str(err))
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
                "%s unit %s is unavailable: %s", self.bus.endpoint, self.unit, errors[-1]
            )
        elif not was_available and self.available:
            _LOGGER.info("%s unit %s answers again", self.bus.endpoint, self.unit)
        return Poll(values=values, errors=errors)

    def _decode(
        self, words: dict[tuple[Function, int], int], errors: list[str]
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
                errors.append(str(err))
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
