"""The home's config flow, driven through Home Assistant's flow manager."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_COMMUNITY, CONF_CUPS, DOMAIN

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
    for bad, error in (
        # One letter mistyped: the form is right, the check letters say it is not this CUPS.
        ("ES0021000000000001RA", "cups_check_letters"),
        ("ES0021000000000002RK", "cups_check_letters"),
        ("ES00210000", "invalid_cups"),
        ("not a cups", "invalid_cups"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: bad}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_CUPS: error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    )
    assert result["step_id"] == "join"


async def test_a_setup_started_again_closes_the_one_left_open(hass: HomeAssistant) -> None:
    """A form closed with Escape stays in progress: starting again must not be refused."""
    left = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    left = await hass.config_entries.flow.async_configure(
        left["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    )
    assert left["step_id"] == "join"

    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    again = await hass.config_entries.flow.async_configure(
        again["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    )

    assert again["step_id"] == "join"
    with pytest.raises(UnknownFlow):
        hass.config_entries.flow.async_get(left["flow_id"])
    result = await hass.config_entries.flow.async_configure(again["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_starting_again_leaves_a_reauthentication_waiting(hass: HomeAssistant) -> None:
    membership = {"community": "molinos", "member": "m-0001"}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={CONF_NAME: "Casa", CONF_CUPS: CUPS, CONF_COMMUNITY: membership},
    )
    entry.add_to_hass(hass)
    reauth = await entry.start_reauth_flow(hass)
    assert reauth["step_id"] == "reauth_confirm"

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: CUPS}
    )

    assert result["step_id"] == "change_community"
    assert hass.config_entries.flow.async_get(reauth["flow_id"])["step_id"] == "reauth_confirm"


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
    # A home in no community is invited to join one, with no "current membership" to show.
    assert result["step_id"] == "join_community"
    assert result["description_placeholders"] is None
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert result.get("translation_domain") is None  # our own text, not Home Assistant's
    assert home_entry.title == "Casa de campo"
    assert home_entry.data[CONF_NAME] == "Casa de campo"


async def test_reconfigure_corrects_a_mistyped_cups(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    home_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(home_entry.entry_id)
    await hass.async_block_till_done()
    other = MockConfigEntry(
        domain=DOMAIN,
        title="Vecina",
        unique_id="ES0031405678901234HS",
        data={CONF_NAME: "Vecina", CONF_CUPS: "ES0031405678901234HS"},
    )
    other.add_to_hass(hass)

    result = await home_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: "ES0031405678901234HS"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"  # another home's supply point

    corrected = "ES0021000000000002RE"
    result = await home_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_NAME: "Casa", CONF_CUPS: corrected.lower()}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert (home_entry.unique_id, home_entry.data[CONF_CUPS]) == (corrected, corrected)
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), home_entry.entry_id)
    assert [(d.identifiers, d.serial_number) for d in devices] == [
        ({(DOMAIN, corrected)}, corrected)
    ]
