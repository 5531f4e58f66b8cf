"""The home's config flow, driven through Home Assistant's flow manager."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_CUPS, DOMAIN

from .conftest import CUPS


async def test_user_flow_creates_home(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    # As copied from a bill: spaces and lower case.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: " Casa ", CONF_CUPS: "es 0021 0000 0000 0001 rk"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "join"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})  # join later

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Casa"
    assert result["data"] == {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    assert result["result"].unique_id == CUPS
    assert hass.config_entries.async_entries(DOMAIN)[0].state.value == "loaded"


async def test_invalid_cups_shows_error_then_recovers(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    for bad in ("ES0021000000000001RA", "ES00210000", "not a cups"):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: bad}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_CUPS: "invalid_cups"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    )
    assert result["step_id"] == "join"


async def test_same_supply_point_twice_aborts(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    home_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Otra casa", CONF_CUPS: CUPS.lower()}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_reconfigure_renames_home(hass: HomeAssistant, home_entry: MockConfigEntry) -> None:
    home_entry.add_to_hass(hass)
    result = await home_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa de campo", CONF_CUPS: CUPS}
    )
    assert result["step_id"] == "join"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert home_entry.title == "Casa de campo"
    assert home_entry.data[CONF_NAME] == "Casa de campo"


async def test_reconfigure_refuses_another_cups(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    home_entry.add_to_hass(hass)
    result = await home_entry.start_reconfigure_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: "ES0031405678901234HS"}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cups_mismatch"
    assert home_entry.data[CONF_CUPS] == CUPS
