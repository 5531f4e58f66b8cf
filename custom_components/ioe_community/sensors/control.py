"""What the home's control decided for each device, and why.

The state says why; the attributes say what was written, what the mode asked for, which limits
changed it and the last error.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity

from ..control import ControlCoordinator
from ..controls.model import Clip, Reason
from ..entity import IoeControlEntity


class DecisionSensor(IoeControlEntity, SensorEntity):
    """The last decision for the battery (``battery=True``) or for the charger."""

    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, coordinator: ControlCoordinator, owner: str, *, battery: bool) -> None:
        """Show the decisions for the battery or the charger ``owner`` is."""
        super().__init__(coordinator, "battery_decision" if battery else "charger_decision", owner)
        self._attr_options = [reason.value for reason in Reason]
        self._battery = battery

    @property
    def native_value(self) -> str | None:
        """Return why the device does what it does."""
        if (state := self.coordinator.data) is None:
            return None
        decisions = state.decisions
        decision = decisions.battery if self._battery else decisions.charger
        return decision.reason.value if decision is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the setpoint, what the mode asked for, the limits that changed it, the error."""
        state = self.coordinator.data
        if state is None:
            return None
        decisions = state.decisions
        clips: tuple[Clip, ...]
        if self._battery:
            if (battery := decisions.battery) is None:
                return None
            written: dict[str, Any] = {"setpoint_w": battery.charge_w, "asked_w": battery.asked_w}
            clips, error = battery.clips, state.battery_error
        else:
            if (charger := decisions.charger) is None:
                return None
            written = {"setpoint_a": charger.current_a, "asked_a": charger.asked_a}
            clips, error = charger.clips, state.charger_error
        return {
            **written,
            "limited_by": [clip.value for clip in clips],
            "target_grid_w": decisions.target_grid_w,
            "expected_grid_w": decisions.expected_grid_w,
            "error": error,
        }
