"""Sensors the home already has, from any integration, as its energy flows; the home's model."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ioe_community.const import SUBENTRY_ENTITIES

from .conftest import set_up_home

ENERGY = {"device_class": "energy", "unit_of_measurement": "kWh", "state_class": "total_increasing"}
CONSUMPTION = "sensor.casa_consumption"


def existing_sensors(hass: HomeAssistant) -> None:
    """Sensors another integration (a utility meter, an inverter's cloud) already provides."""
    hass.states.async_set("sensor.red_importada", "1523.4", ENERGY)
    hass.states.async_set("sensor.red_exportada", "310000", {**ENERGY, "unit_of_measurement": "Wh"})
    hass.states.async_set("sensor.solar", "4200.1", ENERGY)
    hass.states.async_set(
        "sensor.red_potencia", "0.35", {"device_class": "power", "unit_of_measurement": "kW"}
    )
    hass.states.async_set(
        "sensor.solar_potencia", "1200", {"device_class": "power", "unit_of_measurement": "W"}
    )
    hass.states.async_set(
        "sensor.temperatura", "21", {"device_class": "temperature", "unit_of_measurement": "°C"}
    )
    hass.states.async_set(
        "sensor.energia_medida", "5", {"device_class": "energy", "unit_of_measurement": "kWh"}
    )


async def choose(
    hass: HomeAssistant, entry: MockConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_ENTITIES), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], user_input)
    await hass.async_block_till_done()
    return result


GOOD = {
    "grid_import_energy": "sensor.red_importada",
    "grid_export_energy": "sensor.red_exportada",
    "pv_energy": "sensor.solar",
    "grid_power": "sensor.red_potencia",
    "pv_power": "sensor.solar_potencia",
}


async def test_use_existing_sensors(
    hass: HomeAssistant, home_entry: MockConfigEntry, hass_client: ClientSessionGenerator
) -> None:
    existing_sensors(hass)
    await set_up_home(hass, home_entry)
    # With nothing that measures the grid, the home's consumption is not known.
    assert hass.states.get(CONSUMPTION).state == "unavailable"

    result = await choose(hass, home_entry, GOOD)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == GOOD
    # 0.35 kW imported + 1200 W of PV: the home consumes 1550 W.
    assert float(hass.states.get(CONSUMPTION).state) == pytest.approx(1550.0)
    hass.states.async_set(
        "sensor.red_potencia", "-0.4", {"device_class": "power", "unit_of_measurement": "kW"}
    )
    await hass.async_block_till_done()
    assert float(hass.states.get(CONSUMPTION).state) == pytest.approx(800.0)
    assert hass.states.get(CONSUMPTION).attributes["estimated"] is False
    # The PV sensor goes unavailable: the balance goes on without it, and says it is estimated.
    hass.states.async_set("sensor.solar_potencia", "unavailable")
    await hass.async_block_till_done()
    consumption = hass.states.get(CONSUMPTION)
    # 400 W exported with no PV reading: below zero, shown as 0 and estimated.
    assert (float(consumption.state), consumption.attributes["estimated"]) == (0.0, True)
    # Without the grid there is nothing to balance.
    hass.states.async_set("sensor.red_potencia", "unavailable")
    await hass.async_block_till_done()
    assert hass.states.get(CONSUMPTION).state == "unavailable"

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, home_entry)
    assert diagnostics["energy_model"]["grid_export_energy"] == [
        {"entity_id": "sensor.red_exportada", "sign": 1}
    ]


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        ({}, {"base": "nothing_chosen"}),
        ({"pv_energy": "sensor.temperatura"}, {"pv_energy": "not_energy_counter"}),
        # An energy sensor without a state class is not a counter the Energy dashboard takes.
        (
            {"grid_import_energy": "sensor.energia_medida"},
            {"grid_import_energy": "not_energy_counter"},
        ),
        ({"grid_power": "sensor.solar"}, {"grid_power": "not_power"}),
        ({"ev_energy": "sensor.no_existe"}, {"ev_energy": "entity_not_found"}),
    ],
)
async def test_wrong_sensors_are_refused(
    hass: HomeAssistant,
    home_entry: MockConfigEntry,
    user_input: dict[str, str],
    errors: dict[str, str],
) -> None:
    existing_sensors(hass)
    await set_up_home(hass, home_entry)
    result = await choose(hass, home_entry, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors


async def test_a_sensor_is_used_once_and_can_be_changed(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    existing_sensors(hass)
    await set_up_home(hass, home_entry)
    assert (await choose(hass, home_entry, GOOD))["type"] is FlowResultType.CREATE_ENTRY

    result = await choose(hass, home_entry, {"ev_energy": "sensor.red_importada"})
    assert result["errors"] == {"ev_energy": "entity_already_used"}

    subentry_id = next(iter(home_entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (home_entry.entry_id, SUBENTRY_ENTITIES),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    # A field cleared in the form is left out of what the frontend sends.
    without_pv_power = {k: v for k, v in GOOD.items() if k != "pv_power"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], without_pv_power
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert "pv_power" not in home_entry.subentries[subentry_id].data
    # Without PV power the balance is the grid alone: 350 W.
    assert float(hass.states.get(CONSUMPTION).state) == pytest.approx(350.0)


async def test_this_integrations_own_sensors_and_a_second_grid_are_refused(
    hass: HomeAssistant, home_entry: MockConfigEntry
) -> None:
    """A device's sensor again, or the community's answer, would be counted twice."""
    existing_sensors(hass)
    await set_up_home(hass, home_entry)
    # The home's own consumption sensor is this integration's.
    result = await choose(hass, home_entry, {"grid_power": CONSUMPTION})
    assert result["errors"] == {"grid_power": "own_sensor"}

    assert (await choose(hass, home_entry, GOOD))["type"] is FlowResultType.CREATE_ENTRY
    # A second set of grid sensors is asked about, naming what measures the grid now.
    other = {"grid_import_energy": "sensor.energia_medida"}
    hass.states.async_set("sensor.energia_medida", "5", {**ENERGY, "unit_of_measurement": "kWh"})
    result = await choose(hass, home_entry, other)
    assert result["errors"] == {"base": "second_grid_meter"}
    assert result["description_placeholders"]["grid_meter"] != "-"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**other, "another_grid_meter": True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == other
