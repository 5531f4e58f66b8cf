"""The IoE Community integration: a home's energy devices and its link to the energy community."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
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
    CONF_BATTERY,
    CONF_CHARGER,
    CONF_COMMUNITY,
    CONF_COMMUNITY_NAME,
    CONF_CUPS,
    CONF_LINK_CLIENT_SUFFIX,
    DOMAIN,
    LOGGER,
    SUBENTRY_CONTROL,
    SUBENTRY_MODBUS,
    SUBENTRY_MQTT,
)
from .control import ControlCoordinator
from .coordinator import (
    METER_MAKERS,
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
from .energy_entities import energy_model_of_entities
from .entity import entity_unique_id
from .frontend import async_register_frontend
from .link.client import new_client_suffix
from .link.join_code import JoinCode
from .membership import async_forget_membership
from .naming import async_rename_devices
from .repairs import async_offer_statistics_removal
from .services import async_setup_services

if TYPE_CHECKING:
    from .sensors.device import DeviceSensors

# Platforms only the control has entities on, and the control's sensors (by their key).
_CONTROL_ONLY_PLATFORMS: Final = {Platform.NUMBER, Platform.SELECT, Platform.SWITCH, Platform.TIME}
_CONTROL_SENSORS: Final = ("_battery_decision", "_charger_decision")
PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
# The subentries that are devices, each with its coordinator (existing HA sensors have none).
DEVICE_SUBENTRIES = (SUBENTRY_MODBUS, SUBENTRY_MQTT)

type EntrySettings = tuple[str, dict[str, Any], dict[str, Any]]


def entry_settings(entry: IoeCommunityConfigEntry) -> EntrySettings:
    """Return what of the entry itself a home is set up from: its title, data and options.

    Not its dashboard (making one shows it, the home goes on) nor the community's name (the
    link keeps the name the community sends).
    """
    options = {key: v for key, v in entry.options.items() if key != dashboard.CONF_DASHBOARD}
    data = dict(entry.data)
    if CONF_COMMUNITY in data:
        data[CONF_COMMUNITY] = {
            key: v for key, v in data[CONF_COMMUNITY].items() if key != CONF_COMMUNITY_NAME
        }
    return entry.title, data, options


@dataclass(kw_only=True)
class IoeHome:
    """What a loaded home entry holds at run time."""

    cups: str
    device_id: str
    # The entry as the home was set up from it: a change of it reloads the home.
    settings: EntrySettings
    # The subentries the running devices and the energy model were made from (copies: Home
    # Assistant changes a subentry in place).
    subentries: dict[str, ConfigSubentry] = field(default_factory=dict)
    buses: dict[Endpoint, ModbusBus] = field(default_factory=dict)
    devices: dict[str, IoeDeviceCoordinator] = field(default_factory=dict)
    # Known once every device's entities are registered (see signal_energy_model).
    energy_model: EnergyModel | None = None
    # The link to the community, once the home joined one, and its distributor history.
    community: CommunityLink | None = None
    distributor: DistributorHistory | None = None
    # The devices' sensors, once the sensor platform is set up.
    sensors: DeviceSensors | None = None
    # The local control of a battery and a car, when the household configured it.
    control: ControlCoordinator | None = None
    # Held while the home starts, while it follows a change of its devices, and to unload.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: bool = False
    # The dashboard in the sidebar (its address, title and language), once shown.
    dashboard: dict[str, str] | None = None

    def close(self) -> None:
        """Stop listening to every meter and close every device connection."""
        for device in self.devices.values():
            if isinstance(device, MqttMeterCoordinator):
                device.stop_listening()
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
            Platform.SENSOR, DOMAIN, entity_unique_id(subentry_id, register.key)
        )
        entry = registry.async_get(entity_id) if entity_id else None
        if (entry is None and register.enabled_by_default) or (entry and not entry.disabled):
            keys.add(register.key)
    return keys


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions and its cards."""
    async_setup_services(hass)
    await async_register_frontend(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Bring an entry saved by an older version up to date (False: saved by a newer one).

    1.2: a joined home gets the random end of its MQTT client id; until then its id was made
    of the community's and the member's ids alone, which any member could guess.
    1.3: devices titled by their network address or MQTT topic are titled by model and role.
    """
    if entry.version > 1:
        return False
    if entry.minor_version < 2:
        data = dict(entry.data)
        if CONF_COMMUNITY in data:
            data.setdefault(CONF_LINK_CLIENT_SUFFIX, new_client_suffix())
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        LOGGER.debug("Migrated %s to version 1.2", entry.entry_id)
    if entry.minor_version < 3:
        await async_rename_devices(hass, entry, {f.value: m for f, m in METER_MAKERS.items()})
        hass.config_entries.async_update_entry(entry, minor_version=3)
        LOGGER.debug("Migrated %s to version 1.3", entry.entry_id)
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
    home = IoeHome(cups=cups, device_id=device.id, settings=entry_settings(entry))
    entry.runtime_data = home
    # First of all: a change made while the home is starting is followed once it started.
    entry.async_on_unload(entry.add_update_listener(_async_entry_changed))
    entry.async_on_unload(home.close)
    async with home.lock:
        await _async_start_home(hass, entry, home)
    return True


async def _async_start_home(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, home: IoeHome
) -> None:
    """Start the home's link, its devices and its platforms, then its energy model."""
    # Profiles are files: read them off the event loop (they are cached afterwards).
    await hass.async_add_executor_job(preload_profiles)
    if CONF_COMMUNITY in entry.data:
        code = JoinCode(**entry.data[CONF_COMMUNITY])
        home.community = CommunityLink(hass, entry, code)
        home.distributor = DistributorHistory(hass, entry, code)
        entry.async_on_unload(home.distributor.async_stop)
    else:  # it left its community (or never joined one): nothing of a link is kept
        await async_forget_membership(hass, entry.entry_id)
    home.subentries = _subentry_copies(entry)
    for subentry in list(entry.subentries.values()):
        if subentry.subentry_type in DEVICE_SUBENTRIES:
            await _async_start_device(hass, entry, subentry)
    for subentry in entry.get_subentries_of_type(SUBENTRY_CONTROL):
        home.control = ControlCoordinator(hass, entry, subentry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    _remove_stale_control_entities(hass, entry, home.control)
    # The model names entities: build it once the platforms have registered them.
    home.energy_model = energy_model_of_entities(hass, entry, home.devices)
    async_dispatcher_send(hass, signal_energy_model(entry.entry_id))
    if home.control is not None:
        await _async_start_control(hass, entry, home.control)
    if home.community is not None:
        integration = await async_get_integration(hass, DOMAIN)
        await home.community.async_start(home.energy_model, str(integration.version))
        _show_dashboard(hass, entry, home)
    if home.distributor is not None:
        home.distributor.async_start()
    home.started = True


def _remove_stale_control_entities(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, control: ControlCoordinator | None
) -> None:
    """Remove the control's entities that no control makes now.

    They sit on the devices they control, which belong to the devices' subentries: removing the
    control (or no longer controlling a device) does not remove them with it.
    """
    kept = control.unique_ids if control is not None else set()
    registry = er.async_get(hass)
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        of_control = registered.domain in _CONTROL_ONLY_PLATFORMS or (
            registered.unique_id.endswith(_CONTROL_SENSORS)
        )
        if of_control and registered.unique_id not in kept:
            registry.async_remove(registered.entity_id)


async def _async_start_control(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, control: ControlCoordinator
) -> None:
    """Start the home's control; Home Assistant stopping sends its devices to their safe state."""

    async def _release(_event: Event) -> None:
        await control.async_release()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _release))
    await control.async_start()


def _control_uses(entry: IoeCommunityConfigEntry, subentry_ids: Iterable[str]) -> bool:
    """Return whether any of ``subentry_ids`` is the control or a device it controls."""
    for control in entry.get_subentries_of_type(SUBENTRY_CONTROL):
        used = {control.subentry_id, control.data.get(CONF_BATTERY), control.data.get(CONF_CHARGER)}
        if used & set(subentry_ids):
            return True
    return False


def _subentry_copies(entry: IoeCommunityConfigEntry) -> dict[str, ConfigSubentry]:
    """Return copies of the entry's subentries, to tell later which of them changed."""
    return {subentry_id: replace(subentry) for subentry_id, subentry in entry.subentries.items()}


async def _async_start_device(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, subentry: ConfigSubentry
) -> IoeDeviceCoordinator:
    """Start reading a device subentry; its sensors are added by the sensor platform."""
    home = entry.runtime_data
    coordinator: IoeDeviceCoordinator
    if subentry.subentry_type == SUBENTRY_MODBUS:
        endpoint = endpoint_from(dict(subentry.data))
        bus = home.buses.setdefault(endpoint, ModbusBus(endpoint))
        coordinator = ModbusDeviceCoordinator(
            hass,
            entry,
            subentry,
            bus,
            _enabled_keys(hass, subentry.subentry_id, profile_for(subentry.data)),
        )
    else:
        coordinator = MqttMeterCoordinator(hass, entry, subentry)
    await coordinator.async_start()
    home.devices[subentry.subentry_id] = coordinator
    return coordinator


async def _async_stop_device(home: IoeHome, subentry_id: str) -> None:
    """Stop reading a device and remove its sensors; close its bus if no other device uses it."""
    coordinator = home.devices.pop(subentry_id)
    if home.sensors is not None:
        await home.sensors.async_remove(coordinator)
    await coordinator.async_stop()
    if isinstance(coordinator, ModbusDeviceCoordinator):
        bus = coordinator.reader.bus
        if not any(
            isinstance(other, ModbusDeviceCoordinator) and other.reader.bus is bus
            for other in home.devices.values()
        ):
            bus.close()
            home.buses.pop(bus.endpoint, None)


@callback
def _show_dashboard(hass: HomeAssistant, entry: IoeCommunityConfigEntry, home: IoeHome) -> None:
    """Put the home's dashboard in the sidebar (a joined home's, once made), until it unloads."""
    kept = entry.options.get(dashboard.CONF_DASHBOARD)
    if kept is None or home.community is None or home.dashboard == kept:
        return
    dashboard.async_show(hass, entry)  # again when made anew: in another language, say
    if home.dashboard is None:
        path = kept["url_path"]  # the home's name makes it: another name reloads the home
        entry.async_on_unload(lambda: dashboard.async_hide(hass, path))
    home.dashboard = dict(kept)


async def _async_entry_changed(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Follow a change of the entry (Home Assistant calls this for its subentries' too).

    A change of the home itself (its name, CUPS, membership, options) reloads it. A device
    added, changed or removed is started, restarted or stopped alone: the other devices and
    the community link go on, the link with the home's new energy model.
    """
    home = entry.runtime_data
    if entry_settings(entry) != home.settings:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    _show_dashboard(hass, entry, home)
    async with home.lock:  # a change made while the home starts waits for it
        if home.started:
            await _async_follow_subentries(hass, entry, home)


async def _async_follow_subentries(
    hass: HomeAssistant, entry: IoeCommunityConfigEntry, home: IoeHome
) -> None:
    """Stop the devices removed or changed since last time, start those added or changed.

    Then the home's energy model is made again: the consumption sensor and the link follow it.
    """
    known, now = home.subentries, _subentry_copies(entry)
    gone = [subentry_id for subentry_id, copy in known.items() if now.get(subentry_id) != copy]
    new = [subentry_id for subentry_id, copy in now.items() if known.get(subentry_id) != copy]
    if not gone and not new:
        return
    if (
        (home.control is not None and {*gone, *new} & set(home.subentries))
        and _control_uses(entry, [*gone, *new])
    ) or any(
        s.subentry_type == SUBENTRY_CONTROL
        for s in (*known.values(), *now.values())
        if s.subentry_id in {*gone, *new}
    ):
        # The control follows its devices: it starts again with the home.
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    LOGGER.debug("%s: subentries stopped %s, started %s", entry.title, gone, new)
    for subentry_id in gone:
        if subentry_id in home.devices:
            await _async_stop_device(home, subentry_id)
    for subentry_id in new:
        subentry = entry.subentries.get(subentry_id)
        if subentry is None or subentry.subentry_type not in DEVICE_SUBENTRIES:
            continue
        coordinator = await _async_start_device(hass, entry, subentry)
        if home.sensors is not None:
            await home.sensors.async_add(coordinator)
    home.subentries = now
    home.energy_model = energy_model_of_entities(hass, entry, home.devices)
    async_dispatcher_send(hass, signal_energy_model(entry.entry_id))
    if home.community is not None:
        home.community.async_follow(home.energy_model)


async def async_unload_entry(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> bool:
    """Unload a home entry: its link says offline and its meters keep their state first."""
    home = entry.runtime_data
    async with home.lock:  # not while a device starts or stops
        home.started = False
        if (control := home.control) is not None:
            await control.async_release()
            await control.async_shutdown()
        if (link := home.community) is not None:
            await link.async_stop()
        for device in home.devices.values():
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
