"""Config flow of IoE Community: one entry per home, identified by its supply point (CUPS)."""

from __future__ import annotations

from typing import Any, override

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import TextSelector
import probatio

from .const import CONF_CUPS, DOMAIN, LOGGER
from .supply_point import InvalidCups, normalize_cups

STEP_HOME_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_CUPS): TextSelector(),
    }
)


class IoeCommunityConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create and reconfigure a home entry."""

    VERSION = 1

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the home's name and the CUPS printed on its electricity bill."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                cups = normalize_cups(user_input[CONF_CUPS])
            except InvalidCups as err:
                LOGGER.debug("Rejected CUPS %r: %s", user_input[CONF_CUPS], err)
                errors[CONF_CUPS] = "invalid_cups"
            else:
                await self.async_set_unique_id(cups)
                data = {CONF_NAME: user_input[CONF_NAME].strip(), CONF_CUPS: cups}
                if self.source == SOURCE_RECONFIGURE:
                    self._abort_if_unique_id_mismatch(reason="cups_mismatch")
                    return self.async_update_reload_and_abort(
                        self._get_reconfigure_entry(), title=data[CONF_NAME], data=data
                    )
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=data[CONF_NAME], data=data)

        suggested = user_input or {}
        if self.source == SOURCE_RECONFIGURE and user_input is None:
            suggested = dict(self._get_reconfigure_entry().data)
        return self.async_show_form(
            step_id="reconfigure" if self.source == SOURCE_RECONFIGURE else "user",
            data_schema=self.add_suggested_values_to_schema(STEP_HOME_SCHEMA, suggested),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the home's name; the CUPS must stay the one the entry was made for."""
        return await self.async_step_user(user_input)
