"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
import logging
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.async_api import Browser, async_playwright
from pymodbus.framer import FramerType
import pytest

# Imported before the Home Assistant test plugin puts its own testing_config/custom_components
# first on sys.path when the hass fixture starts; otherwise HA reports "Integration not found".
import custom_components.ioe_community  # noqa: F401
from ioe_dev import aggregator_cli
from ioe_dev.modbus_server import ModbusTestServer, NullModem, Registers
from ioe_dev.mosquitto import Broker, start_broker
from ioe_dev.pki import ensure_server_certificate
from ioe_dev.processes import free_port

# Home Assistant's test plugin sets SQLAlchemy's engine logger to INFO: every statement a
# test's recorder runs was logged, and those logged after a test ends (the recorder's thread)
# went straight to the run's output.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

REPO = Path(__file__).resolve().parents[1]
INTEGRATION = REPO / "custom_components" / "ioe_community"
ADDON = REPO / "addons" / "ioe-aggregator"
AGGREGATOR_USER = "ioe-aggregator"
AGGREGATOR_PASSWORD = "aggregator-secret"
# Browser tests drive the development root's Chromium; nothing is downloaded.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Give every Home Assistant test a config folder of its own.

    The plugin's default is one folder in its package, shared by the tests running side by
    side: a home's outbox written there by one test was copied, half gone, by another's.
    """
    return hass_tmp_config_dir


def pytest_sessionstart(session: pytest.Session) -> None:
    """Make one certificate before any test freezes the clock.

    cryptography's Rust core (PyO3, stable ABI) looks ``datetime.datetime`` up once per process and
    keeps it. If that first look happens inside a frozen test it keeps freezegun's fake class, and
    every certificate made after the freeze ends is refused ("not an instance of HAFakeDatetime").
    A fixture is too late: pytest-freezer starts the freeze before every other fixture of a test.
    """
    with TemporaryDirectory() as directory:
        ensure_server_certificate(Path(directory), ["localhost"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the warm process that runs the aggregator's commands for this test process."""
    aggregator_cli.close_all()


@pytest.fixture
def allow_local_sockets(socket_enabled: None) -> None:
    """Let a test reach the real servers it starts on 127.0.0.1.

    Home Assistant's test plugin blocks sockets in every test; a module whose tests all talk to
    local servers asks for this with ``pytestmark = pytest.mark.usefixtures(...)``.
    """


@pytest.fixture
def mosquitto(tmp_path: Path, allow_local_sockets: None) -> Iterator[Broker]:
    """Run a real Mosquitto on 127.0.0.1, TLS only, with the aggregator's login.

    Its listener is like the Mosquitto add-on's (a home's own broker, or the manager's): any
    client id, so that the tests' clients may share the one login.
    """
    broker = start_broker(
        tmp_path / "broker",
        free_port(),
        {AGGREGATOR_USER: AGGREGATOR_PASSWORD},
        addon_listener=True,
    )
    yield broker
    broker.service.stop()


@pytest.fixture
async def null_modem() -> AsyncIterator[NullModem]:
    """Two joined serial ports: a device on one end, our client on the other."""
    modem = NullModem()
    modem.start()
    yield modem
    modem.close()


type StartModbusServer = Callable[..., Awaitable[ModbusTestServer]]


@pytest.fixture
async def modbus_server() -> AsyncIterator[StartModbusServer]:
    """Start real pymodbus servers on demand (TCP, RTU over TCP, or RTU on a serial port).

    Every server started is stopped after the test.
    """
    started: list[ModbusTestServer] = []

    async def start(
        units: Mapping[int, Registers],
        framer: FramerType = FramerType.SOCKET,
        *,
        serial_port: str | None = None,
    ) -> ModbusTestServer:
        server = ModbusTestServer(units=units, framer=framer, serial_port=serial_port)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch Chromium for one test (Home Assistant's test plugin owns each test's loop)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()
