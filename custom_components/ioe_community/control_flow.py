"""The flow that sets up the home's local control: its limits, its battery, its charger.

One control per home. First the home's limits (the contracted power above all) and which
battery and which charger it controls; then the battery's limits; then the charger: one of the
home's Modbus chargers, or one that another integration already controls through a ``number``
for its current and a ``switch`` to start and pause it.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .const import (
    CHARGER_ENTITIES,
    CONF_BATTERY,
    CONF_CAPACITY_KWH,
    CONF_CHARGER,
    CONF_CHARGER_CONNECTED,
    CONF_CHARGER_CURRENT,
    CONF_CHARGER_POWER,
    CONF_CHARGER_SWITCH,
    CONF_CONTRACTED_POWER,
    CONF_HEADROOM,
    CONF_MAX_CHARGE_POWER,
    CONF_MAX_CURRENT,
    CONF_MAX_DISCHARGE_POWER,
    CONF_METER_MAX_AGE,
    CONF_MIN_CURRENT,
    CONF_PHASES,
    CONF_SAFE_PAUSED,
    CONF_SOC_MAX,
    CONF_SOC_MIN,
    CONF_START_DELAY,
    CONF_STOP_DELAY,
    SUBENTRY_CONTROL,
    SUBENTRY_MODBUS,
)
from .coordinator import profile_for
from .devices.actuators import can_control

NONE: Final = "none"
# The translations of the device choices' fixed options (none, another integration's charger).
DEVICE_CHOICE: Final = "control_device"


def _number(low: float, high: float, step: float, unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=low, max=high, step=step, unit_of_measurement=unit, mode=NumberSelectorMode.BOX
        )
    )


BATTERY_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_MAX_CHARGE_POWER, default=2500): _number(0, 30000, 50, "W"),
        probatio.Required(CONF_MAX_DISCHARGE_POWER, default=2500): _number(0, 30000, 50, "W"),
        probatio.Required(CONF_SOC_MIN, default=10): _number(0, 100, 1, "%"),
        probatio.Required(CONF_SOC_MAX, default=100): _number(0, 100, 1, "%"),
        probatio.Required(CONF_CAPACITY_KWH, default=10): _number(0, 200, 0.1, "kWh"),
    }
)
CHARGER_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_MIN_CURRENT, default=6): _number(1, 32, 1, "A"),
        probatio.Required(CONF_MAX_CURRENT, default=16): _number(1, 80, 1, "A"),
        probatio.Required(CONF_PHASES, default="1"): SelectSelector(
            SelectSelectorConfig(options=["1", "3"], mode=SelectSelectorMode.LIST)
        ),
        probatio.Required(CONF_SAFE_PAUSED, default=True): BooleanSelector(),
        probatio.Required(CONF_START_DELAY, default=60): _number(0, 3600, 1, "s"),
        probatio.Required(CONF_STOP_DELAY, default=180): _number(0, 3600, 1, "s"),
    }
)
CHARGER_ENTITIES_SCHEMA: Final = probatio.Schema(
    {
        probatio.Required(CONF_CHARGER_CURRENT): EntitySelector(
            EntitySelectorConfig(domain=["number", "input_number"])
        ),
        probatio.Required(CONF_CHARGER_SWITCH): EntitySelector(
            EntitySelectorConfig(domain=["switch", "input_boolean"])
        ),
        probatio.Optional(CONF_CHARGER_CONNECTED): EntitySelector(
            EntitySelectorConfig(domain="binary_sensor")
        ),
        probatio.Optional(CONF_CHARGER_POWER): EntitySelector(
            EntitySelectorConfig(domain="sensor", device_class="power")
        ),
    }
)


class ControlSubentryFlow(ConfigSubentryFlow):
    """Set up, or change, the home's local control."""

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._data: dict[str, Any] = {}

    @property
    def _reconfiguring(self) -> bool:
        return self.source == SOURCE_RECONFIGURE

    def _saved(self) -> dict[str, Any]:
        return dict(self._get_reconfigure_subentry().data) if self._reconfiguring else {}

    def _devices(self, *, battery: bool) -> list[SelectOptionDict]:
        """Return the home's Modbus devices whose profile can be commanded as such."""
        return [
            SelectOptionDict(value=subentry.subentry_id, label=subentry.title)
            for subentry in self._get_entry().get_subentries_of_type(SUBENTRY_MODBUS)
            if can_control(profile_for(subentry.data), battery=battery)
        ]

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the home's limits and which battery and charger to control."""
        if not self._reconfiguring and self._get_entry().get_subentries_of_type(SUBENTRY_CONTROL):
            return self.async_abort(reason="already_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_BATTERY] == NONE and user_input[CONF_CHARGER] == NONE:
                errors["base"] = "nothing_to_control"
            else:
                self._data = {
                    CONF_CONTRACTED_POWER: round(user_input[CONF_CONTRACTED_POWER] * 1000),
                    CONF_HEADROOM: user_input[CONF_HEADROOM],
                    CONF_METER_MAX_AGE: user_input[CONF_METER_MAX_AGE],
                    CONF_BATTERY: None
                    if user_input[CONF_BATTERY] == NONE
                    else user_input[CONF_BATTERY],
                    CONF_CHARGER: None
                    if user_input[CONF_CHARGER] == NONE
                    else user_input[CONF_CHARGER],
                }
                return await self._next()
        saved = self._saved()
        batteries = self._devices(battery=True)
        chargers = [
            *self._devices(battery=False),
            SelectOptionDict(value=CHARGER_ENTITIES, label=CHARGER_ENTITIES),
        ]
        schema = probatio.Schema(
            {
                probatio.Required(CONF_CONTRACTED_POWER): _number(1, 50, 0.05, "kW"),
                probatio.Required(CONF_HEADROOM, default=300): _number(0, 5000, 50, "W"),
                probatio.Required(CONF_METER_MAX_AGE, default=30): _number(5, 600, 1, "s"),
                probatio.Required(CONF_BATTERY, default=NONE): _choice(batteries),
                probatio.Required(CONF_CHARGER, default=NONE): _choice(chargers),
            }
        )
        suggested = user_input or (
            {
                **saved,
                CONF_CONTRACTED_POWER: saved[CONF_CONTRACTED_POWER] / 1000,
                CONF_BATTERY: saved.get(CONF_BATTERY) or NONE,
                CONF_CHARGER: saved.get(CONF_CHARGER) or NONE,
            }
            if saved
            else {}
        )
        return self.async_show_form(
            step_id="reconfigure" if self._reconfiguring else "user",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change the control's limits or devices."""
        return await self.async_step_user(user_input)

    async def async_step_battery(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the battery's limits: the household's, within the device's own."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_SOC_MIN] >= user_input[CONF_SOC_MAX]:
                errors[CONF_SOC_MAX] = "soc_window"
            else:
                self._data.update(user_input)
                self._data[CONF_CAPACITY_KWH] = float(user_input[CONF_CAPACITY_KWH])
                return await self._next()
        return self._form("battery", BATTERY_SCHEMA, user_input, errors)

    async def async_step_charger_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask which entities of another integration drive the charger."""
        errors: dict[str, str] = {}
        if user_input is not None:
            for key in (CONF_CHARGER_CURRENT, CONF_CHARGER_SWITCH):
                if self.hass.states.get(user_input[key]) is None:
                    errors[key] = "entity_not_found"
            if not errors:
                self._data.update(user_input)
                return await self._next()
        return self._form("charger_entities", CHARGER_ENTITIES_SCHEMA, user_input, errors)

    async def async_step_charger(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the charger's currents, phases, safe state and delays."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if user_input[CONF_MIN_CURRENT] > user_input[CONF_MAX_CURRENT]:
                errors[CONF_MAX_CURRENT] = "current_window"
            else:
                self._data.update(user_input)
                self._data[CONF_PHASES] = int(user_input[CONF_PHASES])
                return await self._next()
        return self._form("charger", CHARGER_SCHEMA, user_input, errors)

    async def _next(self) -> SubentryFlowResult:
        """Go to the next step the choices need, or save."""
        data = self._data
        if data[CONF_BATTERY] and CONF_MAX_CHARGE_POWER not in data:
            return await self.async_step_battery()
        if data[CONF_CHARGER] == CHARGER_ENTITIES and CONF_CHARGER_CURRENT not in data:
            return await self.async_step_charger_entities()
        if data[CONF_CHARGER] and CONF_MIN_CURRENT not in data:
            return await self.async_step_charger()
        if self._reconfiguring:
            return self.async_update_and_abort(
                self._get_entry(), self._get_reconfigure_subentry(), data=data
            )
        entry = self._get_entry()
        names = [
            entry.subentries[device].title
            for device in (data[CONF_BATTERY], data[CONF_CHARGER])
            if device in entry.subentries
        ]
        return self.async_create_entry(title=", ".join(names) or "Charger", data=data)

    def _form(
        self,
        step_id: str,
        schema: probatio.Schema,
        user_input: dict[str, Any] | None,
        errors: dict[str, str],
    ) -> SubentryFlowResult:
        suggested = user_input or self._saved()
        if CONF_PHASES in suggested:
            suggested = {**suggested, CONF_PHASES: str(suggested[CONF_PHASES])}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
        )


def _choice(options: list[SelectOptionDict]) -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=NONE, label=NONE), *options],
            mode=SelectSelectorMode.DROPDOWN,
            translation_key=DEVICE_CHOICE,
        )
    )


def _chosen(value: str) -> str | None:
    return None if value == NONE else value
