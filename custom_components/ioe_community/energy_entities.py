"""The home's energy model in Home Assistant's terms: the entities that measure each flow.

The community link and the consumption sensor read the home's grid, PV, battery, EV and
consumption flows from these entities; ``devices.energy_model`` holds the rules, this module
only finds the entities and reads their states in the model's units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util.unit_conversion import BaseUnitConverter, EnergyConverter, PowerConverter

from .const import CONF_ROLE, DOMAIN, SUBENTRY_ENTITIES
from .coordinator import IoeDeviceCoordinator
from .devices.energy_model import (
    ENERGY_QUANTITIES,
    Contribution,
    EnergyModel,
    Term,
    combine,
    home_quantity,
    is_plain_meter,
)
from .entity import entity_unique_id

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry


def energy_model_of_entities(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, devices: dict[str, IoeDeviceCoordinator]
) -> EnergyModel:
    """Return the home's model: each quantity as the entities that measure it.

    Devices contribute the values their role and profile say they measure (enabled entities
    only: a disabled one is not read); existing sensors chosen by the household count as
    they were chosen.
    """
    registry = er.async_get(hass)
    contributions: list[Contribution] = []
    for subentry_id, coordinator in devices.items():
        role = coordinator.subentry.data[CONF_ROLE]
        plain = is_plain_meter(q.role for q in coordinator.quantities)
        for value in coordinator.quantities:
            found = home_quantity(role, value.role, plain_meter=plain)
            entity_id = registry.async_get_entity_id(
                Platform.SENSOR, DOMAIN, entity_unique_id(subentry_id, value.key)
            )
            entity = registry.async_get(entity_id) if entity_id else None
            if found is None or entity is None or entity.disabled:
                continue
            quantity, sign = found
            term = Term(source=entity.entity_id, sign=sign)
            contributions.append(Contribution(device_role=role, quantity=quantity, term=term))
    # Sensors the household chose are its word for what they measure: they count as the
    # grid meter's when they are grid values.
    for subentry in entry.get_subentries_of_type(SUBENTRY_ENTITIES):
        contributions.extend(
            Contribution(device_role="grid_meter", quantity=quantity, term=Term(source=entity_id))
            for quantity, entity_id in subentry.data.items()
        )
    return combine(contributions)


def state_in_model_unit(state: State | None, quantity: str) -> float | None:
    """Return an entity's state in the model's unit (kWh or W), or None when it has none."""
    if state is None:
        return None
    try:
        value = float(state.state)
    except ValueError:
        return None
    unit = state.attributes.get("unit_of_measurement")
    converter: type[BaseUnitConverter]
    if quantity in ENERGY_QUANTITIES:
        converter, target = EnergyConverter, "kWh"
    else:
        converter, target = PowerConverter, "W"
    if unit not in converter.VALID_UNITS:
        return None
    return converter.convert(value, unit, target)
