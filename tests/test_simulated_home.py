"""The demo's simulated devices keep their counters across restarts, as real meters do."""

from __future__ import annotations

import json
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time

from ioe_dev.processes import free_port
from ioe_dev.simulated_home import HomeState
from tests.conftest import REPO

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
    tmp_path: Path, socket_enabled: None
) -> None:
    state_file = tmp_path / "devices.json"
    first = run_devices(state_file, 2)
    fresh = HomeState()
    assert first["import_kwh"] + first["export_kwh"] > fresh.import_kwh + fresh.export_kwh
    second = run_devices(state_file, 2)
    for counter in COUNTERS:
        assert second[counter] >= first[counter], counter  # never back to where it started
    assert not list(tmp_path.glob("*.new"))  # written whole, then put in place
