"""The device library against real pymodbus servers on 127.0.0.1."""

from __future__ import annotations

from pymodbus.framer import FramerType

from custom_components.ioe_community.devices.modbus import Endpoint, ModbusBus, Transport
from ioe_dev.modbus_server import ModbusTestServer


def bus_for(
    server: ModbusTestServer, *, timeout_s: float = 1.0, backoff_initial_s: float = 1.0
) -> ModbusBus:
    """Return a bus to the test server, with the transport its framing needs."""
    transport = Transport.RTU_OVER_TCP if server.framer is FramerType.RTU else Transport.TCP
    return ModbusBus(
        Endpoint(transport=transport, host="127.0.0.1", port=server.port),
        timeout_s,
        backoff_initial_s=backoff_initial_s,
    )
