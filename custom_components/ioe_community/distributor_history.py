"""The home's distributor history as long-term statistics, for the Energy dashboard.

What the member's distributor measured (the community syncs it from Datadis or imports it from
the distributor's files) is read from the community's API with the join code's token and
written as external statistics, one per quantity: energy from the grid, surplus to the grid,
and, in a collective self-consumption, the allocated generation and the part of it used at
once. The Energy dashboard can show them next to the home's own meters; they are what the
distributor bills with.

The first import reaches two years back; later ones (every few hours, or on request) read the
last two months again, since the distributor publishes days late and corrects its estimates,
and rewrite those hours on top of the running sum before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import ssl
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder import DOMAIN as RECORDER_DOMAIN, get_instance
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import EnergyConverter

from .const import CONF_CUPS, DOMAIN, LOGGER
from .link.api import ApiError, distributor_energy
from .link.client import tls_context
from .link.join_code import JoinCode

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

FIRST_IMPORT: Final = timedelta(days=730)
REFRESH_WINDOW: Final = timedelta(days=62)
REFRESH_INTERVAL: Final = timedelta(hours=6)
FIRST_DELAY: Final = timedelta(minutes=2)
# How far before a refresh window the running sum is looked for (all that was imported).
SUM_LOOKBACK: Final = FIRST_IMPORT + REFRESH_WINDOW
# The distributor's quantities and the translation keys of their statistics' names.
QUANTITIES: Final[Mapping[str, str]] = {
    "import_kwh": "distributor_import",
    "export_kwh": "distributor_export",
    "generation_kwh": "distributor_generation",
    "self_consumption_kwh": "distributor_self_consumption",
}


def statistic_id(cups: str, quantity: str) -> str:
    """Return the external statistic of one of a home's distributor quantities."""
    return f"{DOMAIN}:{cups.lower()}_{QUANTITIES[quantity]}"


class DistributorHistory:
    """Keeps a joined home's distributor statistics up to date while its entry is loaded."""

    def __init__(self, hass: HomeAssistant, entry: IoeCommunityConfigEntry, code: JoinCode) -> None:
        """Prepare; ``async_start`` schedules the imports."""
        self.hass = hass
        self.entry = entry
        self.code = code
        self._tls: ssl.SSLContext | None = None
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def available(self) -> bool:
        """Whether the join code names the community's API (older codes may not)."""
        return bool(self.code.api_url)

    def async_start(self) -> None:
        """Import soon after start, then every few hours (errors are logged, not raised).

        Not without the recorder, which keeps the statistics.
        """
        if not self.available or RECORDER_DOMAIN not in self.hass.config.components:
            return
        self._unsubscribe += [
            async_call_later(self.hass, FIRST_DELAY, self._async_scheduled),
            async_track_time_interval(self.hass, self._async_scheduled, REFRESH_INTERVAL),
        ]

    def async_stop(self) -> None:
        """Cancel the scheduled imports."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    async def _async_scheduled(self, _now: datetime) -> None:
        try:
            await self.async_import()
        except HomeAssistantError as err:
            LOGGER.warning("The distributor's history could not be imported: %s", err)

    async def async_import(self) -> dict[str, Any]:
        """Read the distributor's data and write its hours as statistics; return what it did.

        Raises HomeAssistantError (translated) when the API cannot be read.
        """
        if RECORDER_DOMAIN not in self.hass.config.components:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="statistics_need_recorder"
            )
        now = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
        cups = str(self.entry.data[CONF_CUPS])
        recorder = get_instance(self.hass)
        last = await recorder.async_add_executor_job(
            get_last_statistics, self.hass, 1, statistic_id(cups, "import_kwh"), True, set()
        )
        start = now - (REFRESH_WINDOW if last else FIRST_IMPORT)
        if self._tls is None:
            # Loading the CA (and the system's certificates) reads files: not on the event loop.
            self._tls = await self.hass.async_add_executor_job(
                tls_context, self.code.ca_certificate
            )
        try:
            energy = await distributor_energy(
                async_get_clientsession(self.hass), self.code, start, now, self._tls
            )
        except ApiError as err:
            LOGGER.warning("Reading the distributor's history from the community failed: %s", err)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=err.problem.value,
                translation_placeholders={"reason": str(err)},
            ) from err
        names = await async_get_translations(
            self.hass, self.hass.config.language, "entity", {DOMAIN}
        )
        written: dict[str, int] = {}
        for quantity, hours in sorted(energy.items()):
            if quantity not in QUANTITIES or not hours:
                continue
            # Counted in hours, named as a person reads them (not by the data's kWh keys).
            name = QUANTITIES[quantity].removeprefix("distributor_")
            written[name] = await self._async_write(cups, quantity, hours, start, names)
        LOGGER.debug("Distributor statistics written: %s", written)
        return {
            "start": dt_util.as_local(start).isoformat(),
            "end": dt_util.as_local(now).isoformat(),
            "hours_written": written,
        }

    async def _async_write(
        self,
        cups: str,
        quantity: str,
        hours: Mapping[datetime, float],
        start: datetime,
        names: Mapping[str, str],
    ) -> int:
        """Write one quantity's hours on top of the running sum before ``start``."""
        identifier = statistic_id(cups, quantity)
        total = await self._sum_before(identifier, start)
        statistics = []
        for hour in sorted(hours):
            total += hours[hour]
            statistics.append(StatisticData(start=hour, state=hours[hour], sum=total))
        label = names.get(f"component.{DOMAIN}.entity.sensor.{QUANTITIES[quantity]}.name")
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=f"{self.entry.title} {label or QUANTITIES[quantity]}",
            source=DOMAIN,
            statistic_id=identifier,
            unit_class=EnergyConverter.UNIT_CLASS,
            unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        )
        async_add_external_statistics(self.hass, metadata, statistics)
        return len(statistics)

    async def _sum_before(self, identifier: str, start: datetime) -> float:
        """Return the statistic's running sum at the last hour before ``start`` (0 if none).

        Months, not hours, are asked for: each carries the sum at its last hour, so the last
        one holds the sum wanted however long ago the hour before ``start`` was.
        """
        recorder = get_instance(self.hass)
        rows = await recorder.async_add_executor_job(
            statistics_during_period,
            self.hass,
            start - SUM_LOOKBACK,
            start,
            {identifier},
            "month",
            None,
            {"sum"},
        )
        found = rows.get(identifier)
        return float(found[-1].get("sum") or 0.0) if found else 0.0
