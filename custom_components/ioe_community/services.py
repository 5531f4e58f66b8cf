"""The integration's actions: readings sent again, history imported, one-off charges."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.service import async_get_config_entry
from homeassistant.util import dt as dt_util
import probatio

from .const import DOMAIN
from .controls.model import BatteryOverride
from .link.intervals import quarter_ceil, quarter_floor

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry
    from .control import ControlCoordinator

SERVICE_RESEND_READINGS: Final = "resend_readings"
SERVICE_IMPORT_DISTRIBUTOR_HISTORY: Final = "import_distributor_history"
SERVICE_CHARGE_BATTERY_UNTIL: Final = "charge_battery_until"
SERVICE_CHARGE_CAR_BY: Final = "charge_car_by"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_POWER: Final = "power"
ATTR_UNTIL: Final = "until"
ATTR_SOC: Final = "soc"
ATTR_ENERGY: Final = "energy"
ATTR_BY: Final = "by"
# Longer than the recorder keeps its history by default (10 days), bounded all the same.
MAX_RESEND_PERIOD: Final = timedelta(days=31)

RESEND_READINGS_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_START): cv.datetime,
        probatio.Required(ATTR_END): cv.datetime,
    }
)


IMPORT_HISTORY_SCHEMA: Final = probatio.Schema({probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string})
CHARGE_BATTERY_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_POWER): probatio.Coerce(float),
        probatio.Required(ATTR_UNTIL): cv.datetime,
        probatio.Optional(ATTR_SOC): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0, max=100)
        ),
    }
)
CHARGE_CAR_SCHEMA: Final = probatio.Schema(
    {
        probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_ENERGY): probatio.All(probatio.Coerce(float), probatio.Range(min=0)),
        probatio.Required(ATTR_BY): cv.datetime,
    }
)


async def _async_resend_readings(call: ServiceCall) -> ServiceResponse:
    """Send the home's readings of a past period again (the quarter hours it touches)."""
    entry: IoeCommunityConfigEntry = async_get_config_entry(
        call.hass, DOMAIN, call.data.get(ATTR_CONFIG_ENTRY_ID)
    )
    link = entry.runtime_data.community
    if link is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_joined",
            translation_placeholders={"home": entry.title},
        )
    # A time without its zone is the home's local time.
    start = quarter_floor(dt_util.as_utc(call.data[ATTR_START]))
    # The quarter hour going on now is not finished: the period stops before it.
    end = min(quarter_ceil(dt_util.as_utc(call.data[ATTR_END])), quarter_floor(dt_util.utcnow()))
    if not start < end or end - start > MAX_RESEND_PERIOD:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_resend_period",
            translation_placeholders={"days": str(MAX_RESEND_PERIOD.days)},
        )
    return await link.async_resend(start, end)


async def _async_import_distributor_history(call: ServiceCall) -> ServiceResponse:
    """Import the home's distributor history as statistics now; answer the hours written."""
    entry: IoeCommunityConfigEntry = async_get_config_entry(
        call.hass, DOMAIN, call.data.get(ATTR_CONFIG_ENTRY_ID)
    )
    history = entry.runtime_data.distributor
    if history is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_joined_history",
            translation_placeholders={"home": entry.title},
        )
    return await history.async_import()


def _control(call: ServiceCall, device: str) -> ControlCoordinator:
    """Return the control of the call's home; it must control a ``device`` (battery, charger)."""
    entry: IoeCommunityConfigEntry = async_get_config_entry(
        call.hass, DOMAIN, call.data.get(ATTR_CONFIG_ENTRY_ID)
    )
    control = entry.runtime_data.control
    owner = None
    if control is not None:
        owner = control.battery_owner if device == "battery" else control.charger_owner
    if control is None or owner is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_control",
            translation_placeholders={"home": entry.title, "device": device},
        )
    return control


async def _async_charge_battery_until(call: ServiceCall) -> None:
    """Charge (or discharge) the battery once, until a time or a state of charge."""
    control = _control(call, "battery")
    control.set_override(
        BatteryOverride(
            charge_w=call.data[ATTR_POWER],
            until=dt_util.as_local(call.data[ATTR_UNTIL]),
            until_soc=call.data.get(ATTR_SOC),
        )
    )


async def _async_charge_car_by(call: ServiceCall) -> None:
    """Charge the car with an energy by a time, once."""
    _control(call, "charger").plan_charge(
        call.data[ATTR_ENERGY], dt_util.as_local(call.data[ATTR_BY])
    )


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions (once, whatever entries there are)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_RESEND_READINGS,
        _async_resend_readings,
        schema=RESEND_READINGS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_IMPORT_DISTRIBUTOR_HISTORY,
        _async_import_distributor_history,
        schema=IMPORT_HISTORY_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_CHARGE_BATTERY_UNTIL,
        _async_charge_battery_until,
        schema=CHARGE_BATTERY_SCHEMA,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_CHARGE_CAR_BY, _async_charge_car_by, schema=CHARGE_CAR_SCHEMA
    )
