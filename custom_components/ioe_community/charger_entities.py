"""A charger another integration already controls (OCPP, Wallbox, Easee, go-e…), by its entities.

The household picks a ``number`` (or ``input_number``) for the charging current and a
``switch`` (or ``input_boolean``) that starts and pauses charging; optionally a binary sensor
that says a car is plugged in and a sensor of the charger's power. Each command is a service
call on those entities, and is read back from their state: cloud chargers take a few seconds to
show a change, so the state is waited for (``READ_BACK_TIMEOUT``) before it counts as refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .const import (
    CONF_CHARGER_CONNECTED,
    CONF_CHARGER_CURRENT,
    CONF_CHARGER_POWER,
    CONF_CHARGER_SWITCH,
    CONF_PHASES,
    DOMAIN,
)
from .energy_entities import state_in_model_unit

READ_BACK_TIMEOUT: Final = 10.0
_READ_BACK_POLL: Final = 0.25
# A current reads back as set within this (A): chargers round to their own steps.
_CURRENT_TOLERANCE_A: Final = 0.5


class EntityChargerError(HomeAssistantError):
    """The charger's entities did not take a command; the message is translated."""


class EntityCharger:
    """Sets a charger's current and pauses it through another integration's entities."""

    # Another integration's charger has no revert timeout we know of: refreshed on change only.
    revert_s: int | None = None

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        current: str,
        switch: str,
        connected: str | None,
        power: str | None,
        phases: int,
    ) -> None:
        """Drive the charger through ``current`` (number) and ``switch``."""
        self.hass = hass
        self.current_entity = current
        self.switch_entity = switch
        self.connected_entity = connected
        self.power_entity = power
        self.phases = phases

    @classmethod
    def from_config(cls, hass: HomeAssistant, data: Mapping[str, Any]) -> EntityCharger:
        """Return the charger the control subentry's ``data`` names."""
        return cls(
            hass,
            current=data[CONF_CHARGER_CURRENT],
            switch=data[CONF_CHARGER_SWITCH],
            connected=data.get(CONF_CHARGER_CONNECTED),
            power=data.get(CONF_CHARGER_POWER),
            phases=data[CONF_PHASES],
        )

    @property
    def min_current_a(self) -> float:
        """Return the least current the number takes (A)."""
        return self._bound("min", 6.0)

    @property
    def max_current_a(self) -> float:
        """Return the most current the number takes (A)."""
        return self._bound("max", 32.0)

    def _bound(self, attribute: str, default: float) -> float:
        state = self.hass.states.get(self.current_entity)
        value = state.attributes.get(attribute) if state is not None else None
        return float(value) if isinstance(value, int | float) else default

    def car_connected(self) -> bool | None:
        """Return whether a car is plugged in (None: not known)."""
        if self.connected_entity is None:
            return None
        state = self.hass.states.get(self.connected_entity)
        return {STATE_ON: True, STATE_OFF: False}.get(state.state if state else "")

    def power_w(self) -> float | None:
        """Return the charger's power (W), when the household named a sensor of it."""
        if self.power_entity is None:
            return None
        return state_in_model_unit(self.hass.states.get(self.power_entity), "ev_power")

    async def set_current(self, amps: float, hold_s: int) -> None:
        """Charge at ``amps`` (0: pause); raise EntityChargerError when it does not take."""
        del hold_s  # the other integration keeps what it is told
        if amps > 0:
            await self._call(self.current_entity, "set_value", {"value": amps})
            await self._read_back(self.current_entity, lambda s: _near(s, amps), f"{amps:g} A")
        await self._call(self.switch_entity, "turn_on" if amps > 0 else "turn_off", {})
        wanted = STATE_ON if amps > 0 else STATE_OFF
        await self._read_back(self.switch_entity, lambda s: s == wanted, wanted)

    async def release(self, paused: bool) -> None:
        """Leave the charger in the household's safe state: paused, or its minimum current."""
        await self.set_current(0.0 if paused else self.min_current_a, 0)

    async def _call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        domain = entity_id.split(".", 1)[0]
        try:
            await self.hass.services.async_call(
                domain, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
            )
        except HomeAssistantError as err:
            raise EntityChargerError(
                translation_domain=DOMAIN,
                translation_key="charger_entity_refused",
                translation_placeholders={"entity": entity_id, "error": str(err)},
            ) from err

    async def _read_back(self, entity_id: str, took: Any, wanted: str) -> None:
        """Wait until ``entity_id``'s state shows the command; raise if it does not in time."""
        for _ in range(int(READ_BACK_TIMEOUT / _READ_BACK_POLL)):
            state = self.hass.states.get(entity_id)
            if state is not None and took(state.state):
                return
            await asyncio.sleep(_READ_BACK_POLL)
        state = self.hass.states.get(entity_id)
        raise EntityChargerError(
            translation_domain=DOMAIN,
            translation_key="charger_entity_read_back",
            translation_placeholders={
                "entity": entity_id,
                "wanted": wanted,
                "state": state.state if state else "-",
            },
        )


def _near(state: str, amps: float) -> bool:
    try:
        return abs(float(state) - amps) <= _CURRENT_TOLERANCE_A
    except ValueError:
        return False
