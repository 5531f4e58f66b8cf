"""Batching, shared connections, errors and availability against a real Modbus server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import contextlib
import logging
import os
from pathlib import Path
import socket

import pytest
import pytest_socket

from custom_components.ioe_community.devices.batching import plan_reads
from custom_components.ioe_community.devices.modbus import (
    ConnectionProblem,
    DeviceReader,
    Endpoint,
    ExceptionResponseError,
    ModbusBus,
    NotAnsweringError,
    ReadFailureKind,
    Transport,
    diagnose,
    resolved_address,
)
from custom_components.ioe_community.devices.profile import available_profiles, parse_profile
from ioe_dev.modbus_server import READ_INPUT, NullModem, Registers

from .conftest import bus_for

SDM630 = available_profiles()["eastron_sdm630"]
HUAWEI = available_profiles()["huawei_sun2000"]


def profile_with(registers: list[dict], **options: int) -> object:
    return parse_profile(
        {
            "id": "t",
            "manufacturer": "T",
            "model": "T",
            "registers": registers,
            "test_vectors": [],
            **options,
        },
        "test",
    )


def test_plan_joins_small_gaps_and_splits_large_ones() -> None:
    profile = profile_with(
        [
            {"key": "a", "address": 0, "type": "u16"},
            {"key": "b", "address": 10, "type": "u32"},  # gap 9: joins
            {"key": "c", "address": 40, "type": "u16"},  # gap 28 > 16: new block
            {"key": "d", "address": 100, "type": "u16", "function": "input"},
        ]
    )
    blocks = plan_reads(profile.registers, max_registers=64, max_gap=16)
    assert [(b.function.value, b.address, b.count) for b in blocks] == [
        ("holding", 0, 12),
        ("holding", 40, 1),
        ("input", 100, 1),
    ]


def test_plan_respects_the_size_limit_and_never_splits_a_register() -> None:
    profile = profile_with([{"key": f"r{i}", "address": 2 * i, "type": "u32"} for i in range(40)])
    blocks = plan_reads(profile.registers, max_registers=64, max_gap=16)
    assert [(b.address, b.count) for b in blocks] == [(0, 64), (64, 16)]


@pytest.mark.usefixtures("allow_local_sockets")
async def test_sdm630_reads_in_the_blocks_planned(modbus_server) -> None:
    vector = SDM630.test_vectors[0]
    server = await modbus_server({7: Registers(input=dict(vector.input))})
    bus = bus_for(server)
    reader = DeviceReader(SDM630, bus, unit=7)  # the registers enabled by default

    await reader.poll()

    # Voltages and currents 0-11, total power (52-53), energies (72-75): the gap between
    # power and energies is 18 words, more than 16. Phase powers are disabled by default, and
    # so are the diagnostics power factor (62) and frequency (70).
    assert server.requests == [
        (7, READ_INPUT, 0, 12),
        (7, READ_INPUT, 52, 2),
        (7, READ_INPUT, 72, 4),
    ]
    one_per_value = len(reader.registers)
    assert one_per_value == 9  # what one request per value would have cost

    # With the frequency enabled, the gaps close: one read from 52 to 75.
    server.requests.clear()
    keys = [register.key for register in reader.registers] + ["frequency"]
    await DeviceReader(SDM630, bus, unit=7, keys=keys).poll()
    assert server.requests == [(7, READ_INPUT, 0, 12), (7, READ_INPUT, 52, 24)]
    bus.close()


@pytest.mark.usefixtures("allow_local_sockets")
async def test_units_on_one_endpoint_share_one_connection(modbus_server) -> None:
    vector = SDM630.test_vectors[0]
    server = await modbus_server(
        {1: Registers(input=dict(vector.input)), 2: Registers(input=dict(vector.input))}
    )
    bus = bus_for(server)
    first, second = DeviceReader(SDM630, bus, unit=1), DeviceReader(SDM630, bus, unit=2)

    for _ in range(3):
        await first.poll()
        await second.poll()
    bus.close()

    assert bus.connections_opened == 1
    assert {unit for unit, *_ in server.requests} == {1, 2}


async def test_rtu_on_a_serial_line(modbus_server, null_modem: NullModem) -> None:
    """An RS-485 meter: RTU frames on a serial port, two units sharing the line."""
    vector = SDM630.test_vectors[0]
    server = await modbus_server(
        {1: Registers(input=dict(vector.input)), 2: Registers(input=dict(vector.input))},
        serial_port=null_modem.device_port,
    )
    bus = ModbusBus(
        Endpoint(transport=Transport.SERIAL, serial_port=null_modem.client_port, baudrate=9600),
        1.0,
    )
    first = await DeviceReader(SDM630, bus, unit=1).poll()
    second = await DeviceReader(SDM630, bus, unit=2).poll()
    bus.close()

    assert first.errors == second.errors == ()
    assert first.values["import_energy"] == pytest.approx(12345.5)
    assert second.values["voltage_l1"] == pytest.approx(231.25)
    assert bus.connections_opened == 1
    blocks = [(0, 12), (52, 2), (72, 4)]
    assert server.requests == [(u, READ_INPUT, a, c) for u in (1, 2) for a, c in blocks]


@pytest.mark.usefixtures("allow_local_sockets")
async def test_exception_response_is_an_error_not_a_value(modbus_server) -> None:
    # The device answers, but has no input registers beyond 11: exception 2 (illegal address).
    vector = SDM630.test_vectors[0]
    server = await modbus_server(
        {1: Registers(input={a: w for a, w in vector.input.items() if a < 12})}
    )
    bus = bus_for(server)

    poll = await DeviceReader(SDM630, bus, unit=1).poll()
    bus.close()

    assert "power" not in poll.values
    assert poll.values["voltage_l1"] == pytest.approx(231.25)
    assert any(
        error.kind is ReadFailureKind.EXCEPTION and "exception 2" in error.detail
        for error in poll.errors
    )


@pytest.mark.usefixtures("allow_local_sockets")
async def test_exception_response_carries_its_code(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding={0: 1})})
    bus = bus_for(server)
    with pytest.raises(ExceptionResponseError) as caught:
        await bus.read(SDM630.registers[0].function, 500, 2, 1)
    bus.close()
    assert caught.value.code == 2


@pytest.mark.usefixtures("allow_local_sockets")
async def test_garbage_text_is_an_error(modbus_server) -> None:
    registers = dict(HUAWEI.test_vectors[0].holding)
    registers[30000] = 0xFFFE  # not ASCII
    server = await modbus_server({1: Registers(holding=registers)})
    bus = bus_for(server)

    poll = await DeviceReader(HUAWEI, bus, unit=1, keys=["model_name", "pv_power"]).poll()
    bus.close()

    assert "model_name" not in poll.values
    assert poll.values["pv_power"] == 4321
    assert any(
        error.kind is ReadFailureKind.UNDECODABLE and "not ASCII" in error.detail
        for error in poll.errors
    )


@pytest.mark.usefixtures("allow_local_sockets")
async def test_device_that_stops_answering_goes_unavailable_and_recovers(
    modbus_server, caplog: pytest.LogCaptureFixture
) -> None:
    vector = SDM630.test_vectors[0]
    server = await modbus_server({1: Registers(input=dict(vector.input))})
    bus = bus_for(server, timeout_s=0.5, backoff_initial_s=0.05)
    reader = DeviceReader(SDM630, bus, unit=1)
    assert (await reader.poll()).values

    await server.stop()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            poll = await reader.poll()
            assert poll.failed
        assert not reader.available
        await server.start()
        await asyncio.sleep(bus.backoff_s)  # the reconnect wait, for real
        poll = await reader.poll()
    bus.close()

    assert poll.errors == ()
    assert poll.values["import_energy"] == pytest.approx(12345.5)
    assert reader.available
    unavailable = [r for r in caplog.records if "is unavailable" in r.message]
    back = [r for r in caplog.records if "answers again" in r.message]
    assert len(unavailable) == 1  # logged once, not at every failed poll
    assert len(back) == 1


@pytest.mark.usefixtures("allow_local_sockets")
async def test_backoff_doubles_up_to_its_maximum(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding={0: 1})})
    await server.stop()
    bus = bus_for(server, timeout_s=0.2, backoff_initial_s=0.01)
    bus.backoff_max_s = 0.08
    waits = []
    for _ in range(6):
        await asyncio.sleep(bus.backoff_s)  # let the previous wait pass
        with pytest.raises(NotAnsweringError, match="cannot connect"):
            await bus.read(SDM630.registers[0].function, 0, 1, 1)
        waits.append(bus.backoff_s)
    assert waits == [0.02, 0.04, 0.08, 0.08, 0.08, 0.08]
    # Within the wait, no connection is attempted: the read fails at once, saying when.
    with pytest.raises(NotAnsweringError, match="next attempt in"):
        await bus.read(SDM630.registers[0].function, 0, 1, 1)


@pytest.fixture
def outside_network(allow_local_sockets: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test resolve names and connect beyond 127.0.0.1, which HA's test plugin forbids.

    The tests that use it ask only for what is nobody's: a name under ``.invalid`` (RFC 6761:
    it never resolves) and an address in IPv6's discard prefix ``100::/64`` (RFC 6666).
    """
    monkeypatch.setattr(socket, "getaddrinfo", pytest_socket._true_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", pytest_socket._true_connect)


@pytest.fixture
def silent_port(allow_local_sockets: None) -> Iterator[int]:
    """Return a port on 127.0.0.1 where a connection is never answered, as at a host that is off.

    Its listener has a backlog of 0 and one connection waits in it unaccepted: Linux drops the
    SYN of every further connection, which then times out.
    """
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0), backlog=0))
        port = listener.getsockname()[1]
        stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        yield port


def tcp(host: str, port: int) -> Endpoint:
    return Endpoint(transport=Transport.TCP, host=host, port=port)


def serial(path: Path | str) -> Endpoint:
    return Endpoint(transport=Transport.SERIAL, serial_port=str(path))


@pytest.mark.usefixtures("allow_local_sockets")
async def test_diagnose_a_port_nobody_listens_on_is_refused() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
    assert await diagnose(tcp("127.0.0.1", port)) is ConnectionProblem.REFUSED


async def test_diagnose_a_host_that_never_answers_is_unreachable(silent_port: int) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    problem = await diagnose(tcp("127.0.0.1", silent_port), timeout_s=0.3)
    assert problem is ConnectionProblem.UNREACHABLE
    assert loop.time() - started < 2  # the timeout was kept to


@pytest.mark.usefixtures("outside_network")
async def test_diagnose_an_unroutable_address_is_unreachable() -> None:
    # Routers drop or refuse with "no route" what is sent to the discard prefix; a machine
    # without IPv6 cannot send it at all. Each way, nothing answers there.
    problem = await diagnose(tcp("100::1", 502), timeout_s=0.5)
    assert problem is ConnectionProblem.UNREACHABLE


@pytest.mark.usefixtures("outside_network")
async def test_diagnose_a_name_that_never_resolves_is_an_unknown_host() -> None:
    problem = await diagnose(tcp("inverter.invalid", 502))
    assert problem is ConnectionProblem.UNKNOWN_HOST


@pytest.mark.usefixtures("allow_local_sockets")
async def test_diagnose_a_listening_modbus_server_is_fine(modbus_server) -> None:
    server = await modbus_server({1: Registers(holding={0: 1})})
    assert await diagnose(tcp("127.0.0.1", server.port)) is None


async def test_diagnose_a_missing_serial_port(tmp_path: Path) -> None:
    unplugged = tmp_path / "by-id" / "usb-FTDI_FT232R-if00-port0"
    unplugged.parent.mkdir()
    unplugged.symlink_to(tmp_path / "ttyUSB0")  # the link outlives the adapter
    assert await diagnose(serial(tmp_path / "ttyUSB9")) is ConnectionProblem.NO_SERIAL_PORT
    assert await diagnose(serial(unplugged)) is ConnectionProblem.NO_SERIAL_PORT


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open a file whatever its mode")
async def test_diagnose_a_serial_port_without_permission(tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB0"
    port.touch(mode=0o000)
    assert await diagnose(serial(port)) is ConnectionProblem.SERIAL_PERMISSION


async def test_diagnose_an_openable_serial_port_is_fine(null_modem: NullModem) -> None:
    assert await diagnose(serial(null_modem.client_port)) is None


async def test_resolved_address_is_the_same_for_localhost_and_its_address() -> None:
    by_name = await resolved_address(tcp("localhost", 1502))
    assert by_name == await resolved_address(tcp("127.0.0.1", 1502)) == "127.0.0.1:1502"
    assert await resolved_address(tcp("::1", 1502)) == "[::1]:1502"


@pytest.mark.usefixtures("outside_network")
async def test_resolved_address_of_a_name_that_never_resolves_is_its_own_text() -> None:
    assert await resolved_address(tcp("inverter.invalid", 502)) == "inverter.invalid:502"


async def test_resolved_address_is_the_same_for_a_serial_link_and_its_port(
    tmp_path: Path,
) -> None:
    port = tmp_path / "ttyUSB0"
    port.touch()
    link = tmp_path / "by-id" / "usb-FTDI_FT232R-if00-port0"
    link.parent.mkdir()
    link.symlink_to(port)
    assert await resolved_address(serial(link)) == await resolved_address(serial(port))
