"""The base entities: of every device the home's entry polls, and of its local control."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import IoeDeviceCoordinator

if TYPE_CHECKING:
    from .control import ControlCoordinator


def entity_unique_id(owner_id: str, key: str) -> str:
    """Return the unique id of the entity of ``key`` on a device or on the home itself.

    ``owner_id`` is the device's subentry id, or the home's entry id for the home's own
    entities. Never change it: the entity registry knows entities (their ids, names and
    history) by it.
    """
    return f"{owner_id}_{key}"


class IoeDeviceEntity(CoordinatorEntity[IoeDeviceCoordinator]):
    """An entity of one configured device (a config subentry)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: IoeDeviceCoordinator, key: str, home_device_id: str) -> None:
        """Name the entity after ``key``; its device is the subentry, under the home."""
        super().__init__(coordinator)
        subentry_id = coordinator.subentry.subentry_id
        self._attr_unique_id = entity_unique_id(subentry_id, key)
        serial = (coordinator.data or {}).get(coordinator.serial_key or "")
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, subentry_id)},
            manufacturer=coordinator.manufacturer,
            model=coordinator.model,
            name=coordinator.subentry.title,
            serial_number=serial if isinstance(serial, str) else None,
            via_device_id=home_device_id,
        )


class IoeControlEntity(CoordinatorEntity["ControlCoordinator"]):
    """An entity of the home's local control, under the device it controls (or the home)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: ControlCoordinator, key: str, owner: str) -> None:
        """Name the entity after ``key`` on ``owner``'s device: a device subentry, or the home.

        ``owner`` is a device's subentry id, or the home's entry id for the home's device.
        """
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self._attr_unique_id = entity_unique_id(owner, key)
        self._attr_translation_key = key
        on_home = owner == entry.entry_id
        # The device's subentry holds the device: its entities are added with it.
        self.device_subentry_id = None if on_home else owner
        home = entry.runtime_data
        if on_home:
            self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, home.cups)})
        else:  # named as its sensors name it, should the control's platform come first
            self._attr_device_info = DeviceInfo(
                identifiers={(DOMAIN, owner)},
                name=entry.subentries[owner].title,
                via_device_id=home.device_id,
            )
        coordinator.unique_ids.add(self._attr_unique_id)


def add_control_entities(
    async_add_entities: AddConfigEntryEntitiesCallback, entities: Iterable[IoeControlEntity]
) -> None:
    """Add control entities, each with the subentry of the device it sits on (the home's: none)."""
    by_subentry: defaultdict[str | None, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_subentry[entity.device_subentry_id].append(entity)
    for subentry_id, group in by_subentry.items():
        async_add_entities(group, config_subentry_id=subentry_id)
