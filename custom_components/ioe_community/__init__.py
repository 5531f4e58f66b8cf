"""The IoE Community integration: a home's energy devices and its link to the energy community."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.typing import ConfigType
from homeassistant.loader import async_get_integration

from . import dashboard
from .community import CommunityLink
from .const import (
    CONF_COMMUNITY,
    CONF_CUPS,
    CONF_LINK_CLIENT_SUFFIX,
    DOMAIN,
    LOGGER,
    SUBENTRY_MODBUS,
    SUBENTRY_MQTT,
)
from .coordinator import (
    IoeDeviceCoordinator,
    ModbusDeviceCoordinator,
    MqttMeterCoordinator,
    endpoint_from,
    meter_store,
    profile_for,
)
from .devices.energy_model import EnergyModel
from .devices.modbus import Endpoint, ModbusBus
from .devices.profile import Profile
from .devices.sunspec import preload as preload_profiles
from .distributor_history import DistributorHistory
from .energy_model import build_energy_model
from .link.client import new_client_suffix
from .link.join_code import JoinCode
from .membership import async_forget_membership
from .repairs import async_offer_statistics_removal
from .services import async_setup_services

PLATFORMS: list[Platform] = [Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


@dataclass(kw_only=True)
class IoeHome:
    """What a loaded home entry holds at run time."""

    cups: str
    device_id: str
    buses: dict[Endpoint, ModbusBus] = field(default_factory=dict)
    devices: dict[str, IoeDeviceCoordinator] = field(default_factory=dict)
    # Known once every device's entities are registered (see signal_energy_model).
    energy_model: EnergyModel | None = None
    # The link to the community, once the home joined one, and its distributor history.
    community: CommunityLink | None = None
    distributor: DistributorHistory | None = None

    def close(self) -> None:
        """Close every device connection."""
        for bus in self.buses.values():
            bus.close()


type IoeCommunityConfigEntry = ConfigEntry[IoeHome]


def signal_energy_model(entry_id: str) -> str:
    """Return the dispatcher signal sent when a home's energy model is (re)built."""
    return f"{DOMAIN}_{entry_id}_energy_model"


def _enabled_keys(hass: HomeAssistant, subentry_id: str, profile: Profile) -> set[str]:
    """Return the registers whose entities are enabled: only those are read."""
    registry = er.async_get(hass)
    keys = set()
    for register in profile.registers:
        entity_id = registry.async_get_entity_id(
            Platform.SENSOR, DOMAIN, f"{subentry_id}_{register.key}"
        )
        entry = registry.async_get(entity_id) if entity_id else None
        if (entry is None and register.enabled_by_default) or (entry and not entry.disabled):
            keys.add(register.key)
    return keys


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Bring an entry saved by an older version up to date (False: saved by a newer one).

    1.2: a joined home gets the random end of its MQTT client id; until then its id was made
    of the community's and the member's ids alone, which any member could guess.
    """
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        if CONF_COMMUNITY in data:
            data.setdefault(CONF_LINK_CLIENT_SUFFIX, new_client_suffix())
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        LOGGER.debug("Migrated %s to version 1.2", entry.entry_id)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Set up a home: its supply point as a device, its devices' coordinators, the platforms."""
    cups: str = entry.data[CONF_CUPS]
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, cups)},
        manufacturer="IoE Community",
        name=entry.title,
        serial_number=cups,
    )
    # First of all: a device added while the home is starting must reload it, not be missed.
    entry.async_on_unload(entry.add_update_listener(_async_reload))
    # Profiles are files: read them off the event loop (they are cached afterwards).
    await hass.async_add_executor_job(preload_profiles)
    home = IoeHome(cups=cups, device_id=device.id)
    entry.runtime_data = home
    entry.async_on_unload(home.close)
    if CONF_COMMUNITY in entry.data:
        code = JoinCode(**entry.data[CONF_COMMUNITY])
        home.community = CommunityLink(hass, entry, code)
        home.distributor = DistributorHistory(hass, entry, code)
        entry.async_on_unload(home.distributor.async_stop)
    else:  # it left its community (or never joined one): nothing of a link is kept
        await async_forget_membership(hass, entry.entry_id)
    for subentry in entry.get_subentries_of_type(SUBENTRY_MODBUS):
        endpoint = endpoint_from(dict(subentry.data))
        bus = home.buses.setdefault(endpoint, ModbusBus(endpoint))
        coordinator = ModbusDeviceCoordinator(
            hass,
            entry,
            subentry,
            bus,
            _enabled_keys(hass, subentry.subentry_id, profile_for(subentry.data)),
        )
        # A device that is off at start makes its entities unavailable, not the whole home.
        await coordinator.async_refresh()
        home.devices[subentry.subentry_id] = coordinator
    for subentry in entry.get_subentries_of_type(SUBENTRY_MQTT):
        meter = MqttMeterCoordinator(hass, entry, subentry)
        entry.async_on_unload(await meter.async_start())
        home.devices[subentry.subentry_id] = meter
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # The model names entities: build it once the platforms have registered them.
    home.energy_model = build_energy_model(hass, entry, home.devices)
    async_dispatcher_send(hass, signal_energy_model(entry.entry_id))
    if home.community is not None:
        integration = await async_get_integration(hass, DOMAIN)
        await home.community.async_start(home.energy_model, str(integration.version))
        dashboard.async_show(hass, entry)
        if (kept := entry.options.get(dashboard.CONF_DASHBOARD)) is not None:
            entry.async_on_unload(lambda: dashboard.async_hide(hass, kept["url_path"]))
    if home.distributor is not None:
        home.distributor.async_start()
    return True


async def _async_reload(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Reload after a change (a device added, reconfigured or removed)."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Unload a home entry: its link says offline and its meters keep their state first."""
    if (link := entry.runtime_data.community) is not None:
        await link.async_stop()
    for device in entry.runtime_data.devices.values():
        if isinstance(device, MqttMeterCoordinator):
            await device.async_stop()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Forget what the home kept: its meters' counts, its link's outbox; ask about statistics.

    The statistics of the home's sensors and its distributor history stay in the recorder
    until the household answers the repair issue that offers to delete them.
    """
    for subentry in entry.get_subentries_of_type(SUBENTRY_MQTT):
        await meter_store(hass, entry, subentry).async_remove()
    await async_forget_membership(hass, entry.entry_id)
    await dashboard.async_delete(hass, entry, entry.options.get(dashboard.CONF_DASHBOARD))
    async_offer_statistics_removal(hass, entry)
