"""Probing a device: each way it answers is told apart, by the library and the installers' tool.

Real pymodbus servers on 127.0.0.1 (and on a null modem), read the way the integration does.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from custom_components.ioe_community.devices.modbus import Endpoint, ReadFailureKind, Transport
from custom_components.ioe_community.devices.probe import ProbeOutcome, probe
from custom_components.ioe_community.devices.profile import available_profiles
from custom_components.ioe_community.devices.sunspec import image
from ioe_dev.modbus_server import ModbusTestServer, NullModem, Registers
from tests.conftest import REPO

PROFILES = available_profiles()


def at(server: ModbusTestServer) -> Endpoint:
    return Endpoint(transport=Transport.TCP, host="127.0.0.1", port=server.port)


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_device_that_answers_gives_its_values_and_serial_number(modbus_server) -> None:
    huawei = PROFILES["huawei_sun2000"]
    server = await modbus_server({1: Registers(holding=dict(huawei.test_vectors[0].holding))})

    result = await probe(huawei, at(server), 1)

    assert result.outcome is ProbeOutcome.READ
    assert result.serial_number == "HV2150012345"
    assert result.values["pv_power"] == 4321
    assert result.errors == ()
    assert result.sunspec_models == {}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_device_refusing_the_registers_is_another_device(modbus_server) -> None:
    vector = PROFILES["eastron_sdm630"].test_vectors[0]
    server = await modbus_server({1: Registers(input=dict(vector.input))})

    result = await probe(PROFILES["huawei_sun2000"], at(server), 1)

    assert result.outcome is ProbeOutcome.WRONG_DEVICE
    assert result.errors
    assert {error.kind for error in result.errors} == {ReadFailureKind.EXCEPTION}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_device_without_a_sunspec_chain_is_not_sunspec(modbus_server) -> None:
    vector = PROFILES["eastron_sdm630"].test_vectors[0]
    server = await modbus_server({1: Registers(input=dict(vector.input))})

    result = await probe(PROFILES["sunspec"], at(server), 1)

    assert result.outcome is ProbeOutcome.NOT_SUNSPEC
    (error,) = result.errors
    assert error.kind is ReadFailureKind.NOT_SUNSPEC
    assert "no SunSpec marker" in error.detail


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_sunspec_chain_without_a_model_read_is_unsupported(modbus_server) -> None:
    words = image([(1, {"Mn": "Acme"}), (120, {"WRtg": 3680, "WRtg_SF": 0})])
    server = await modbus_server({1: Registers(holding=words)})

    result = await probe(PROFILES["sunspec"], at(server), 1)

    assert result.outcome is ProbeOutcome.SUNSPEC_UNSUPPORTED
    assert set(result.sunspec_models) == {1, 120}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_a_silent_device_gives_no_values(modbus_server) -> None:
    server = await modbus_server({1: Registers(input={0: 1})})
    await server.stop()

    result = await probe(PROFILES["eastron_sdm120"], at(server), 1, timeout_s=0.5)

    assert result.outcome is ProbeOutcome.NO_VALUES
    assert result.values == {}
    assert [error.kind for error in result.errors] == [ReadFailureKind.NOT_ANSWERING]


async def run_probe(*args: str) -> tuple[int, dict]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "custom_components.ioe_community.devices", "probe", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out else {"stderr": err.decode()}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_probe_prints_values_with_units(modbus_server) -> None:
    vector = available_profiles()["eastron_sdm120"].test_vectors[0]
    server = await modbus_server({3: Registers(input=dict(vector.input))})

    code, result = await run_probe(
        "--profile",
        "eastron_sdm120",
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--unit",
        "3",
    )

    assert code == 0
    assert result["errors"] == []
    assert result["values"]["import_energy"] == {"value": 2048.75, "unit": "kWh"}
    assert result["values"]["power"] == {"value": -780.0, "unit": "W"}


@pytest.mark.usefixtures("allow_local_sockets")
async def test_probe_of_a_silent_device_reports_why(modbus_server) -> None:
    server = await modbus_server({1: Registers(input={0: 1})})
    await server.stop()

    code, result = await run_probe(
        "--profile", "eastron_sdm120", "--host", "127.0.0.1", "--port", str(server.port),
        "--timeout", "0.5",
    )  # fmt: skip

    assert code == 1
    assert result["values"] == {}
    assert "cannot connect" in result["errors"][0]


async def test_probe_on_a_serial_port(modbus_server, null_modem: NullModem) -> None:
    vector = available_profiles()["eastron_sdm120"].test_vectors[0]
    await modbus_server(
        {1: Registers(input=dict(vector.input))}, serial_port=null_modem.device_port
    )

    code, result = await run_probe(
        "--profile", "eastron_sdm120", "--serial", null_modem.client_port,
        "--baudrate", "9600", "--unit", "1",
    )  # fmt: skip

    assert code == 0
    assert result["values"]["import_energy"] == {"value": 2048.75, "unit": "kWh"}
