"""A home joined to the test community through the config flow, and its community sensors.

Shared by the tests of the community link, the join, the diagnostics and the distributor's
history (a helper module: test modules import nothing from each other).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_COMMUNITY, DOMAIN
from ioe_aggregator.members.join_code import JoinCode, encode

from .conftest import CUPS


async def join(hass: HomeAssistant, code: JoinCode | None) -> MockConfigEntry:
    """Create the home through the config flow, pasting the join code (folded, as copied).

    Without a code, the home joins no community yet.
    """
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Casa", "cups": CUPS}
    )
    assert result["step_id"] == "join"
    answer: dict[str, str] = {}
    if code is not None:
        text = encode(code)
        answer["join_code"] = "\n".join(text[at : at + 60] for at in range(0, len(text), 60))
    result = await hass.config_entries.flow.async_configure(result["flow_id"], answer)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    if code is not None:
        assert result["data"][CONF_COMMUNITY]["member"] == code.member
    entry = hass.config_entries.async_get_entry(result["result"].entry_id)
    assert entry is not None
    await hass.async_block_till_done()
    return entry  # type: ignore[return-value]


def sensor_state(hass: HomeAssistant, entry: Any, key: str) -> State:
    """Return the state of one of the home's community sensors."""
    community = entry.data[CONF_COMMUNITY]["community"]
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.entry_id}_{community}_{key}"
    )
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def sensor(hass: HomeAssistant, entry: Any, key: str) -> str:
    """Return what one of the home's community sensors shows."""
    return sensor_state(hass, entry, key).state
