"""The installers' probe tool reads a real server the way the integration does."""

from __future__ import annotations

import asyncio
import json
import sys

from custom_components.ioe_community.devices.profile import available_profiles
from ioe_dev.modbus_server import NullModem, Registers
from tests.conftest import REPO


async def run_probe(*args: str) -> tuple[int, dict]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "custom_components.ioe_community.devices", "probe", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out else {"stderr": err.decode()}


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
