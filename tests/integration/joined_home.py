"""A home joined to the test community through the config flow: its meter, link and sensors.

The simulated home (an SDM630 on Modbus TCP whose counters follow Home Assistant's clock), the
config flow's join, waits on the community link and its community sensors. Shared by the tests
of the community link, the join, the link's client id, the diagnostics and the distributor's
history (a helper module: test modules import nothing from each other).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
import freezegun.config
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ioe_community.const import CONF_COMMUNITY, DOMAIN, SUBENTRY_MODBUS
from custom_components.ioe_community.devices.profile import available_profiles
from custom_components.ioe_community.link.client import DEFAULT_RESEND_AFTER_S, LinkState
from ioe_aggregator.members.join_code import JoinCode, encode
from ioe_dev.modbus_server import ModbusTestServer, Registers
from ioe_dev.physical import write_values
from tests.community import wait_until
from tests.conftest import StartModbusServer

from .conftest import CUPS
from .home_devices import answer_device_steps

SDM630 = available_profiles()["eastron_sdm630"]
STEP = timedelta(seconds=10)  # the meter's scan interval
IMPORT_KW = 0.6  # what the home draws, steadily: 0.15 kWh a quarter hour
# paho's network thread paces keep-alive and reconnection on its clock: it keeps real time
# while Home Assistant's is moved on (as in a real home, where nothing jumps).
freezegun.configure(extend_ignore_list=["paho", "custom_components.ioe_community.link"])


class Home:
    """The simulated home: its meter's registers and Home Assistant's clock."""

    def __init__(
        self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, meter: Registers
    ) -> None:
        """Start the meter's import counter at 1000 kWh, drawing ``IMPORT_KW``."""
        self.hass = hass
        self.freezer = freezer
        self.meter = meter
        self.import_kwh = 1000.0
        self.import_kw = IMPORT_KW  # what the home draws now (a test may change it)

    def write(self) -> None:
        """Put the meter's power and counters in its registers."""
        write_values(
            SDM630,
            self.meter.input,
            {
                "power": self.import_kw * 1000,
                "import_energy": self.import_kwh,
                "export_energy": 0.0,
            },
        )

    async def run(self, duration: timedelta, step: timedelta = STEP) -> None:
        """Let the home draw its power for ``duration``, polled every ``step``.

        Every scan interval by default; a longer step (a whole number of scan intervals) polls
        the meter once a step, its counters moved on by the whole step.
        """
        for _ in range(int(duration / step)):
            self.import_kwh += self.import_kw * step.total_seconds() / 3600
            self.write()
            self.freezer.tick(step)
            async_fire_time_changed(self.hass)
            await self.hass.async_block_till_done(wait_background_tasks=True)


async def start_meter(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, modbus_server: StartModbusServer
) -> tuple[Home, ModbusTestServer]:
    """Start the home's simulated SDM630 on Modbus TCP."""
    meter = Registers()
    home = Home(hass, freezer, meter)
    home.write()
    return home, await modbus_server({1: meter})


async def add_meter(hass: HomeAssistant, entry: Any, server: ModbusTestServer) -> None:
    """Add the home's grid meter (the SDM630 on ``server``) through the subentry flow."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MODBUS), context={"source": SOURCE_USER}
    )
    result = await answer_device_steps(
        hass,
        result["flow_id"],
        {
            "profile": "eastron_sdm630",
            "role": "grid_meter",
            "transport": "tcp",
            "host": "127.0.0.1",
            "port": server.port,
            "unit": 1,
            "scan_interval": 10,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def join_step(hass: HomeAssistant, *, name: str = "Casa", cups: str = CUPS) -> str:
    """Start a home's flow and return its join step's flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": name, "cups": cups}
    )
    assert result["step_id"] == "join"
    return str(result["flow_id"])


async def join(
    hass: HomeAssistant, code: JoinCode | None, *, name: str = "Casa", cups: str = CUPS
) -> MockConfigEntry:
    """Create the home through the config flow, pasting the join code (folded, as copied).

    Without a code, the home joins no community yet.
    """
    answer: dict[str, str] = {}
    if code is not None:
        text = encode(code)
        answer["join_code"] = "\n".join(text[at : at + 60] for at in range(0, len(text), 60))
    result = await hass.config_entries.flow.async_configure(
        await join_step(hass, name=name, cups=cups), answer
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    if code is not None:
        assert result["data"][CONF_COMMUNITY]["member"] == code.member
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    await hass.async_block_till_done()
    return entry  # type: ignore[return-value]


async def reconfigure(hass: HomeAssistant, entry: Any, answer: dict[str, str]) -> None:
    """Reconfigure a home, keeping its name and CUPS, with the join step's ``answer``."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": entry.title, "cups": entry.unique_id}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], answer)
    assert result["reason"] == "reconfigure_successful", result
    await hass.async_block_till_done()


async def joined_home(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    modbus_server: StartModbusServer,
    code: JoinCode,
) -> tuple[Home, MockConfigEntry]:
    """Set up the home with its join code and its meter; return once its link is connected."""
    home, server = await start_meter(hass, freezer, modbus_server)
    entry = await join(hass, code)
    await add_meter(hass, entry, server)
    await wait_for_link(hass, entry, "connected")
    return home, entry


async def wait_for_link(hass: HomeAssistant, entry: Any, status: str) -> None:
    """Wait (in real time: the link's thread keeps it) until the link's sensor shows ``status``."""
    await hass.async_add_executor_job(
        wait_until, lambda: sensor(hass, entry, "link_status") == status
    )


async def wait_for_connected(hass: HomeAssistant, entry: Any) -> None:
    """Wait (in real time) until the entry's link itself is connected, whatever its sensors."""
    await hass.async_add_executor_job(
        wait_until, lambda: entry.runtime_data.community.state is LinkState.CONNECTED
    )


async def wait_after_broker_restart(hass: HomeAssistant, check: Callable[[], bool]) -> None:
    """Wait until ``check()`` holds after the broker restarted: up to the resend period more.

    The test broker keeps no sessions: batches the home sends before the aggregator is back on
    the restarted broker (each reconnects on its own backoff) reach nobody, and the home sends
    them again once the resend period has passed without their acknowledgement.
    """
    await hass.async_add_executor_job(wait_until, check, int((DEFAULT_RESEND_AFTER_S + 60) * 10))


def sensor_id(hass: HomeAssistant, entry: Any, key: str) -> str:
    """Return the entity id of one of the home's community sensors."""
    community = entry.data[CONF_COMMUNITY]["community"]
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.entry_id}_{community}_{key}"
    )
    assert entity_id is not None, key
    return entity_id


def sensor_state(hass: HomeAssistant, entry: Any, key: str) -> State:
    """Return the state of one of the home's community sensors."""
    state = hass.states.get(sensor_id(hass, entry, key))
    assert state is not None
    return state


def sensor(hass: HomeAssistant, entry: Any, key: str) -> str:
    """Return what one of the home's community sensors shows."""
    return sensor_state(hass, entry, key).state


def entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    """Return the entity id of one of the integration's entities, by its unique id."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found is not None, unique_id
    return found


def share(hass: HomeAssistant, entry: Any, platform: str, key: str) -> State:
    """Return the state of one of the membership's entities (``platform``: sensor…)."""
    community = entry.data[CONF_COMMUNITY]["community"]
    state = hass.states.get(entity_id(hass, platform, f"{entry.entry_id}_{community}_{key}"))
    assert state is not None, key
    return state
