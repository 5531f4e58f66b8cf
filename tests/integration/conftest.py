"""Fixtures for the integration's tests: a real Home Assistant core with our integration."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest.mock import MagicMock, Mock, PropertyMock, patch

from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.ioe_community.const import CONF_CUPS, DOMAIN
from custom_components.ioe_community.devices.profile import available_profiles
from tests.community import community, start_aggregator  # noqa: F401 - fixtures

CUPS = "ES0021000000000001RK"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components."""


@pytest.fixture(autouse=True)
def cold_profile_cache() -> None:
    """Start every test with the profiles unread, as Home Assistant starts.

    Test modules read profiles at import time; without this, a blocking read inside the
    event loop would go unnoticed.
    """
    available_profiles.cache_clear()


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise states and registry entries stably (ids and times masked), as HA's tests do.

    The plugin defines this fixture too, but syrupy's own plugin can take precedence over it.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, as Home Assistant core's own fixture of this name does."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def home_entry() -> MockConfigEntry:
    """Return a home entry as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={CONF_NAME: "Casa", CONF_CUPS: CUPS},
        entry_id="01JHOMEENTRY000000000000000",
    )


def home_with_subentry(
    subentry_type: str, data: dict[str, Any], *, title: str, unique_id: str, subentry_id: str
) -> MockConfigEntry:
    """Return a home entry that already has one source of data, as after a restart.

    Its ids are fixed, so entity ids and snapshots do not depend on the test's free ports.
    """
    return MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={CONF_NAME: "Casa", CONF_CUPS: CUPS},
        entry_id="01JHOMEENTRY000000000000000",
        subentries_data=[
            {
                "subentry_id": subentry_id,
                "subentry_type": subentry_type,
                "title": title,
                "unique_id": unique_id,
                "data": data,
            }
        ],
    )


async def set_up_home(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add the home entry to Home Assistant and set it up, as a restart would."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def fix_issue(hass: HomeAssistant, issue_id: str, *answers: dict[str, Any]) -> dict[str, Any]:
    """Open an issue's fix flow as the repairs panel does, give ``answers``; return the last."""
    await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result: dict[str, Any] = dict(await manager.async_init(DOMAIN, data={"issue_id": issue_id}))
    for answer in answers:
        result = await fix_issue_answer(hass, result, answer)
    return result


async def fix_issue_answer(
    hass: HomeAssistant, result: dict[str, Any], answer: dict[str, Any]
) -> dict[str, Any]:
    """Answer the step a fix flow shows; return what comes next."""
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return dict(await manager.async_configure(result["flow_id"], answer))


@pytest.fixture
async def close_mqtt_socket(mqtt_client_mock: MagicMock) -> AsyncIterator[None]:
    """Close the mocked paho client's socket at the end, as paho does when it disconnects.

    The MQTT integration's housekeeping timer runs from socket open to socket close; the mock
    opens its socket on connect and never closes it.
    """
    yield
    mqtt_client_mock.on_socket_close(mqtt_client_mock, None, Mock(fileno=Mock(return_value=-1)))
