"""The demo's simulated devices keep their counters across restarts, as real meters do."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

from pymodbus.client import AsyncModbusTcpClient
import pytest

from ioe_dev.modbus_server import ModbusTestServer
from ioe_dev.processes import free_port
from ioe_dev.simulated_home import DemoHome, HomeState, load_state
from tests.conftest import REPO

MADRID = ZoneInfo("Europe/Madrid")
COUNTERS = ("import_kwh", "export_kwh", "pv_kwh", "charged_kwh", "discharged_kwh", "ev_kwh")


def run_devices(state_file: Path, seconds: float) -> dict[str, float]:
    """Run the devices for ``seconds`` after they answer, stop them (SIGTERM); return the file."""
    port = free_port()
    command = [sys.executable, "-m", "ioe_dev.simulated_home", "--port", str(port)]
    process = subprocess.Popen([*command, "--state-file", str(state_file)], cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the simulated devices did not start"
                time.sleep(0.2)
        time.sleep(seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    return dict(json.loads(state_file.read_text()))


def test_counters_go_on_from_where_the_last_run_left_them(
    tmp_path: Path, allow_local_sockets: None
) -> None:
    state_file = tmp_path / "devices.json"
    first = run_devices(state_file, 2)
    fresh = HomeState()
    assert first["import_kwh"] + first["export_kwh"] > fresh.import_kwh + fresh.export_kwh
    second = run_devices(state_file, 2)
    for counter in COUNTERS:
        assert second[counter] >= first[counter], counter  # never back to where it started
    assert not list(tmp_path.glob("*.new"))  # written whole, then put in place


def test_the_balcony_meters_today_starts_again_on_a_new_day_even_after_a_night_stopped() -> None:
    state = HomeState()
    rng = random.Random(1)  # noqa: S311 - simulated weather, not a secret
    noon = dt.datetime(2026, 6, 1, 12, 0, tzinfo=MADRID)
    state.step(noon, 3600, rng)
    assert state.balcony_today_kwh < 0  # the panel's output went out through the meter
    state.step(noon + dt.timedelta(hours=1), 60, rng)
    assert state.balcony_today_kwh < -0.1  # still the same day: it goes on
    # Stopped at 13:01 and started again the next morning: today's count begins at zero.
    state.step(dt.datetime(2026, 6, 2, 7, 0, tzinfo=MADRID), 1, rng)
    assert -0.001 < state.balcony_today_kwh <= 0.001
    assert state.day == "2026-06-02"


def test_a_damaged_state_file_starts_the_devices_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state_file = tmp_path / "devices.json"
    for damaged in ('{"import_kwh": 12', "[1, 2]", '{"import_kwh": 12, "voltage": 230}'):
        state_file.write_text(damaged)
        assert load_state(state_file) == HomeState()
    assert caplog.text.count("is unreadable") == 3
    state_file.write_text(json.dumps({"import_kwh": 12.5}))
    assert load_state(state_file).import_kwh == 12.5


@pytest.mark.usefixtures("allow_local_sockets")
async def test_the_demos_battery_and_charger_obey_what_is_written_to_them() -> None:
    state, rng = HomeState(soc=0.5), random.Random(1)  # noqa: S311 - simulated weather
    noon = dt.datetime(2026, 6, 1, 13, 30, tzinfo=MADRID)  # sunny, the car plugged in
    home = DemoHome(state, noon)
    server = ModbusTestServer(units=home.units)
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port)
    await client.connect()
    try:
        powers = home.step(noon, 10, rng)
        assert powers["battery_w"] > 0  # storing the surplus
        assert powers["ev_w"] == pytest.approx(16 * 230)
        # Huawei: no more charging (47075, U32); KEBA: 10 A (5004, mA).
        assert not (await client.write_registers(47075, [0, 0], device_id=2)).isError()
        assert not (await client.write_register(5004, 10000, device_id=3)).isError()
        powers = home.step(noon, 10, rng)
        assert powers["battery_w"] == 0
        assert powers["ev_w"] == pytest.approx(10 * 230)
        # Huawei's own sign (37765): > 0 charges; the meter sees the whole balance.
        assert (await client.read_holding_registers(37765, count=2, device_id=2)).registers == [
            0,
            0,
        ]
        meter = await client.read_input_registers(52, count=2, device_id=1)
        (grid_w,) = struct.unpack(">f", struct.pack(">HH", *meter.registers))
        assert grid_w == pytest.approx(powers["grid_w"], abs=0.01)
    finally:
        client.close()
        await server.stop()
