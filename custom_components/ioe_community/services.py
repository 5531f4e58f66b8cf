"""The integration's actions: a past period sent again, the distributor's history imported."""

from __future__ import annotations

from datetime import datetime, timedelta
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
from .link.intervals import QUARTER, quarter_ceil

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

SERVICE_RESEND_READINGS: Final = "resend_readings"
SERVICE_IMPORT_DISTRIBUTOR_HISTORY: Final = "import_distributor_history"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
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


def _quarter_floor(moment: datetime) -> datetime:
    ceiling = quarter_ceil(moment)
    return ceiling if ceiling == moment else ceiling - QUARTER


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
    start = _quarter_floor(dt_util.as_utc(call.data[ATTR_START]))
    # The quarter hour going on now is not finished: the period stops before it.
    end = min(quarter_ceil(dt_util.as_utc(call.data[ATTR_END])), _quarter_floor(dt_util.utcnow()))
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
