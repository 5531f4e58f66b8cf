"""The grid meter: an Eastron SDM630 measuring what the home's physics leaves for the grid."""

from __future__ import annotations

from custom_components.ioe_community.devices.profile import available_profiles
from ioe_dev.modbus_server import Registers

from .home import Device, Home, write_values


class GridMeter(Device):
    """An Eastron SDM630 on the home's connection: it measures the physics' balance.

    Its registers are the integration's profile's (read-only, input registers), as the demo's
    meter always was: it is the ground truth a controller reads, not a device under control.
    """

    def __init__(self, unit: int = 1) -> None:
        """Serve at ``unit``."""
        super().__init__()
        self.units[unit] = Registers(on_read=self.check_read)
        self._table = self.units[unit].input

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Draw nothing: a meter only measures."""
        return 0.0

    def publish(self, home: Home) -> None:
        """Encode the grid's power and counters."""
        grid_w = home.grid_w
        write_values(
            available_profiles()["eastron_sdm630"],
            self._table,
            {
                "voltage_l1": 231.0, "voltage_l2": 229.8, "voltage_l3": 232.4,
                "current_l1": abs(grid_w) / 231.0, "current_l2": 0.4, "current_l3": 0.3,
                "power_l1": grid_w, "power_l2": 0.0, "power_l3": 0.0, "power": grid_w,
                "power_factor": 0.97, "frequency": 50.0,
                "import_energy": home.import_kwh, "export_energy": home.export_kwh,
            },
        )  # fmt: skip
