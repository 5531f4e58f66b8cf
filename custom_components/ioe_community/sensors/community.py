"""Sensors of the home's membership: its share of the community's energy, and the link.

They show what the community last sent (results, community state, signal) and how the link
stands, as the link's coordinator holds it (``CommunityData``). The day's and month's energies
count up from local midnight and the first of the month and start again from zero:
``total_increasing`` lets the Energy dashboard and long-term statistics take them (a drop is a
new cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from ..community import CommunityCoordinator, CommunityData, CommunityLink, membership_identifier
from ..link.client import LinkState
from ..link.messages import CommunityState, Energies, Results, SignalKind

if TYPE_CHECKING:
    from .. import IoeCommunityConfigEntry

type Value = float | int | str | datetime | None


@dataclass(frozen=True, kw_only=True)
class CommunitySensorDescription(SensorEntityDescription):
    """A community sensor: where its value comes from in what the link's coordinator holds.

    ``reason_fn`` says why a figure has no value (the sensor's ``reason`` attribute), for the
    figures a household would otherwise take for broken.
    """

    value_fn: Callable[[CommunityData], Value]
    reason_fn: Callable[[CommunityData], str | None] | None = None


def _results(figure: Callable[[Results], Value]) -> Callable[[CommunityData], Value]:
    """Return a figure of the member's results (None until the community sent them)."""
    return lambda data: None if data.results is None else figure(data.results)


def _community(figure: Callable[[CommunityState], Value]) -> Callable[[CommunityData], Value]:
    """Return a figure of the community's state (None until the community sent it)."""
    return lambda data: None if data.community_state is None else figure(data.community_state)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(float(share) * 100, 2)


# The member's energies, by sensor key: each period's figure.
_PERIODS: Final[Mapping[str, Callable[[Results], Energies]]] = {
    "today": lambda results: results.today,
    "month": lambda results: results.month,
}
_ENERGIES: Final[Mapping[str, Callable[[Energies], float]]] = {
    "allocated": lambda energies: energies.allocated_kwh,
    "self_consumed": lambda energies: energies.self_consumed_kwh,
    "surplus": lambda energies: energies.surplus_kwh,
    "import": lambda energies: energies.import_kwh,
}


def _energy(
    period: str, key: str, energy: Callable[[Energies], float]
) -> CommunitySensorDescription:
    of_period = _PERIODS[period]
    return CommunitySensorDescription(
        key=f"{key}_{period}",
        translation_key=f"{key}_{period}",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_results(lambda results: energy(of_period(results))),
    )


def _community_power(
    key: str, power: Callable[[CommunityState], float]
) -> CommunitySensorDescription:
    return CommunitySensorDescription(
        key=f"community_{key}",
        translation_key=f"community_{key}",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=_community(power),
    )


def _month_energy(data: CommunityData, *keys: str) -> float:
    if data.results is None:
        return 0.0
    return sum(_ENERGIES[key](data.results.month) for key in keys)


def _no_results(data: CommunityData) -> str | None:
    """Return why nothing is known yet, when the community has sent no results."""
    if data.results is not None:
        return None
    return "not_joined" if data.state is LinkState.DISPLACED else "waiting_for_results"


def _why_no(
    counted: tuple[str, ...], none_counted: str, otherwise: str
) -> Callable[[CommunityData], str | None]:
    """Return why a month's figure made of the ``counted`` energies has no value."""

    def why(data: CommunityData) -> str | None:
        if (waiting := _no_results(data)) is not None:
            return waiting
        return none_counted if _month_energy(data, *counted) == 0 else otherwise

    return why


# Self-sufficiency is the share of the home's consumption (imported plus self-consumed) the
# community covered; self-consumption, the share of its allocated energy the home used.
_why_no_self_sufficiency = _why_no(
    ("import", "self_consumed"), "no_consumption_counted", "not_computed"
)
_why_no_self_consumption = _why_no(("allocated",), "no_generation_allocated", "not_computed")
_why_no_savings = _why_no(("import", "self_consumed"), "no_consumption_counted", "no_prices")


def _backlog(data: CommunityData) -> int | None:
    return None if data.outbox is None else data.outbox.batches


def _last_ack(data: CommunityData) -> datetime | None:
    return None if data.outbox is None else data.outbox.last_ack


SENSORS: tuple[CommunitySensorDescription, ...] = (
    CommunitySensorDescription(
        key="coefficient_now",
        translation_key="coefficient_now",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        value_fn=_results(lambda results: _percent(results.coefficient_now)),
    ),
    *(_energy(period, key, energy) for period in _PERIODS for key, energy in _ENERGIES.items()),
    CommunitySensorDescription(
        key="savings_month",
        translation_key="savings_month",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement="EUR",
        suggested_display_precision=2,
        value_fn=_results(lambda results: results.month.savings_eur),
        reason_fn=_why_no_savings,
    ),
    CommunitySensorDescription(
        key="self_sufficiency",
        translation_key="self_sufficiency",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_results(lambda results: _percent(results.kpis.self_sufficiency)),
        reason_fn=_why_no_self_sufficiency,
    ),
    CommunitySensorDescription(
        key="self_consumption",
        translation_key="self_consumption",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_results(lambda results: _percent(results.kpis.self_consumption)),
        reason_fn=_why_no_self_consumption,
    ),
    _community_power("generation", lambda state: state.generation_w),
    _community_power("consumption", lambda state: state.consumption_w),
    CommunitySensorDescription(
        key="members_online",
        translation_key="members_online",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_community(lambda state: state.members_online),
    ),
    CommunitySensorDescription(
        key="signal",
        translation_key="signal",
        device_class=SensorDeviceClass.ENUM,
        options=[kind.value for kind in SignalKind],
        value_fn=lambda data: None if data.signal is None else data.signal.kind,
    ),
    CommunitySensorDescription(
        key="link_status",
        translation_key="link_status",
        device_class=SensorDeviceClass.ENUM,
        entity_category=EntityCategory.DIAGNOSTIC,
        options=[state.value for state in LinkState],
        value_fn=lambda data: data.state.value,
    ),
    CommunitySensorDescription(
        key="backlog",
        translation_key="backlog",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_backlog,
    ),
    CommunitySensorDescription(
        key="last_ack",
        translation_key="last_ack",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_last_ack,
    ),
)


def membership_unique_id(entry: IoeCommunityConfigEntry, link: CommunityLink, key: str) -> str:
    """Return the unique id of the membership's entity ``key``."""
    return f"{entry.entry_id}_{link.code.community}_{key}"


def membership_device_info(
    entry: IoeCommunityConfigEntry, link: CommunityLink, home_device_id: str
) -> DeviceInfo:
    """Return the home's membership device, under the home, named after its community."""
    code = link.code
    info = DeviceInfo(
        identifiers={membership_identifier(entry.entry_id, code)},
        manufacturer="IoE Community",
        model=None,  # "Community membership" until 0.2: a word in one language only
        serial_number=code.member,
        via_device_id=home_device_id,
    )
    if code.community_name is not None:
        info["name"] = code.community_name
    else:  # a community its manager gave no name: "Community {id}", translated
        info["translation_key"] = "membership"
        info["translation_placeholders"] = {"community": code.community}
    return info


class CommunitySensor(CoordinatorEntity[CommunityCoordinator], SensorEntity):
    """One figure of the home's membership, updated when the community sends one."""

    _attr_has_entity_name = True
    entity_description: CommunitySensorDescription

    def __init__(
        self,
        entry: IoeCommunityConfigEntry,
        link: CommunityLink,
        description: CommunitySensorDescription,
        home_device_id: str,
    ) -> None:
        """Put the sensor on the home's membership device, under the home."""
        super().__init__(link.coordinator)
        self.entity_description = description
        self._attr_unique_id = membership_unique_id(entry, link, description.key)
        self._attr_device_info = membership_device_info(entry, link, home_device_id)

    @property
    def native_value(self) -> Value:
        """Return the figure from the last message that held it."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say why the figure has no value, for the figures that say it."""
        reason_fn = self.entity_description.reason_fn
        if reason_fn is None or self.native_value is not None:
            return None
        return {"reason": reason_fn(self.coordinator.data)}
