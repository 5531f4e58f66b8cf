"""A Huawei SUN2000 hybrid inverter with its LUNA2000 battery (notes §1)."""

from __future__ import annotations

from typing import Final

from custom_components.ioe_community.devices.profile import available_profiles

from .home import (
    FOLLOWS,
    Cells,
    Device,
    Home,
    Power,
    Setting,
    clamp,
    get,
    put,
    value_at,
    write_values,
)

# Huawei SUN2000 + LUNA2000 (notes §1.3, §1.4): holding registers, U32 high word first.
HW_POWER: Final = 37001  # I32 W, > 0 charging [impl]
HW_SOC: Final = 37004  # U16 ‰ [impl]
HW_RATED_CHARGE: Final = 37046  # U32 W [impl]
HW_RATED_DISCHARGE: Final = 37048  # U32 W [impl]
HW_CAPACITY: Final = 37758  # U32 Wh [impl]
HW_SOC_ALL: Final = 37760  # U16 ‰, all units [impl]
HW_POWER_ALL: Final = 37765  # I32 W, all units [impl]
HW_METER_POWER: Final = 37113  # I32 W, > 0 feeding the grid [impl]
HW_MAX_CHARGE: Final = 47075  # U32 W
HW_MAX_DISCHARGE: Final = 47077  # U32 W
HW_CHARGE_CUTOFF: Final = 47081  # U16 ‰, the highest SoC
HW_DISCHARGE_CUTOFF: Final = 47082  # U16 ‰, the lowest SoC
HW_FORCED_MINUTES: Final = 47083  # U16 min, 0-1440 [doc]
HW_WORKING_MODE: Final = 47086  # U16: 2 maximise self-consumption
HW_GRID_CHARGE: Final = 47087  # U16 0/1
HW_FORCED_COMMAND: Final = 47100  # U16: 0 stop, 1 charge, 2 discharge [impl]
HW_FORCED_TARGET_SOC: Final = 47101  # U16 ‰
HW_FORCED_SETTING: Final = 47246  # U16: 0 duration, 1 target SoC
HW_FORCED_CHARGE: Final = 47247  # U32 W
HW_FORCED_DISCHARGE: Final = 47249  # U32 W
HW_SELF_CONSUMPTION: Final = 2
HW_CHARGE, HW_DISCHARGE = 1, 2


class HuaweiBattery(Device):
    """A Huawei SUN2000 hybrid inverter with its LUNA2000 battery, at one Modbus unit.

    In its own mode (47086 = 2, maximise self-consumption) the battery covers ``FOLLOWS`` of the
    home's surplus or deficit. A forcible charge or discharge (47100 = 1/2) runs at 47247/47249
    regardless of the home: in setting mode 0 (47246) for 47083 minutes (and no longer: evcc
    relies on the end as its safety net [impl]; 0-1440 min [doc]) from the last write of
    47100 or 47083 (evcc refreshes a 1-minute period by rewriting both [impl]; that the period
    restarts then is [assumed]), in setting mode 1 until the SoC reaches 47101. It ends there,
    or at the cut-off SoC (a forced charge to 100 % ends at 100 % [field: evcc#17692]; at other
    cut-offs [assumed]); then 47100 reads 0 again [assumed: the notes could not confirm the
    value after expiry] and the working mode applies. Every power, forced ones too, stays within
    47075/47077 (evcc "holds" the battery with 47077 = 0 [impl]; that a forced power is capped
    too is [assumed]) and the SoC within 47082..47081. Working modes other than 2 are not
    modelled: the battery idles. Grid charging (47087) is kept, not modelled.
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 1,  # usually 1 behind an SDongle [field]
        rated_charge_w: int = 5000,  # the sample read in the notes §1.4
        rated_discharge_w: int = 5000,
        min_soc: float = 0.05,
        max_soc: float = 1.0,
        pv_w: Power | None = None,
        pv_kwh: float = 0.0,
    ) -> None:
        """Rate a battery of ``cells``; ``pv_w`` is its own strings' (None: the home's PV)."""
        super().__init__()
        self.cells = cells
        self.pv_w = pv_w
        self.pv_kwh = pv_kwh
        self._pv_now_w = 0.0
        self._forced_since = 0.0
        # Out-of-range values are refused [assumed: Huawei's answer to them is not documented;
        # the HA integration checks powers against 37046/37048 before writing, notes §1.5].
        # The SoC settings take 0-100 % here: the app's narrower ranges were not found.
        self.settings: dict[int, Setting] = {
            HW_MAX_CHARGE: Setting(0, rated_charge_w, words=2),
            HW_MAX_DISCHARGE: Setting(0, rated_discharge_w, words=2),
            HW_CHARGE_CUTOFF: Setting(0, 1000),
            HW_DISCHARGE_CUTOFF: Setting(0, 1000),
            HW_FORCED_MINUTES: Setting(0, 1440),
            HW_WORKING_MODE: Setting(0, 5),
            HW_GRID_CHARGE: Setting(0, 1),
            HW_FORCED_COMMAND: Setting(0, 2),
            HW_FORCED_TARGET_SOC: Setting(0, 1000),
            HW_FORCED_SETTING: Setting(0, 1),
            HW_FORCED_CHARGE: Setting(0, rated_charge_w, words=2),
            HW_FORCED_DISCHARGE: Setting(0, rated_discharge_w, words=2),
        }
        self.units[unit] = self._unit(self.settings, self._written)
        self.holding = self.units[unit].holding
        for address, value, words in (
            (HW_RATED_CHARGE, rated_charge_w, 2),
            (HW_RATED_DISCHARGE, rated_discharge_w, 2),
            (HW_CAPACITY, cells.capacity_kwh * 1000, 2),
            (HW_MAX_CHARGE, rated_charge_w, 2),
            (HW_MAX_DISCHARGE, rated_discharge_w, 2),
            (HW_CHARGE_CUTOFF, max_soc * 1000, 1),
            (HW_DISCHARGE_CUTOFF, min_soc * 1000, 1),
            (HW_WORKING_MODE, HW_SELF_CONSUMPTION, 1),
            (HW_GRID_CHARGE, 1, 1),
        ):
            put(self.holding, address, value, words)
        for address, setting in self.settings.items():  # the rest reads 0, as in the sample
            self.holding.setdefault(address, 0)
            if setting.words == 2:
                self.holding.setdefault(address + 1, 0)

    def _written(self, values: dict[int, int]) -> None:
        if HW_FORCED_COMMAND in values or HW_FORCED_MINUTES in values:
            self._forced_since = self.elapsed_s

    def _forced(self, elapsed_s: float) -> int:
        """Return the forced command still running (0: none), ending it when it is done."""
        h = self.holding
        command = h[HW_FORCED_COMMAND]
        soc = self.cells.soc
        if command == HW_CHARGE:
            done = soc >= h[HW_CHARGE_CUTOFF] / 1000
        elif command == HW_DISCHARGE:
            done = soc <= h[HW_DISCHARGE_CUTOFF] / 1000
        else:
            return 0
        if h[HW_FORCED_SETTING] == 0:
            done = done or elapsed_s - self._forced_since > h[HW_FORCED_MINUTES] * 60
        else:
            target = h[HW_FORCED_TARGET_SOC] / 1000
            done = done or (soc >= target if command == HW_CHARGE else soc <= target)
        if done:
            h[HW_FORCED_COMMAND] = 0
            return 0
        return command

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Charge or discharge as forced, or as its working mode makes it."""
        h = self.holding
        command = self._forced(home.elapsed_s)
        if command == HW_CHARGE:
            target_w = float(get(h, HW_FORCED_CHARGE, 2))
        elif command == HW_DISCHARGE:
            target_w = -float(get(h, HW_FORCED_DISCHARGE, 2))
        elif h[HW_WORKING_MODE] == HW_SELF_CONSUMPTION:
            target_w = -FOLLOWS * before_w
        else:
            target_w = 0.0
        target_w = clamp(target_w, -get(h, HW_MAX_DISCHARGE, 2), get(h, HW_MAX_CHARGE, 2))
        power_w = self.cells.run(
            target_w, seconds, h[HW_DISCHARGE_CUTOFF] / 1000, h[HW_CHARGE_CUTOFF] / 1000
        )
        self._pv_now_w = home.pv_now_w if self.pv_w is None else value_at(self.pv_w, home.now)
        self.pv_kwh += self._pv_now_w * seconds / 3_600_000
        return power_w

    def publish(self, home: Home) -> None:
        """Report the battery as it is, and the inverter's PV and the grid it meters."""
        h, power_w, soc = self.holding, self.power_w, self.cells.soc
        for address, value, words in (
            (HW_POWER, power_w, 2),
            (HW_POWER_ALL, power_w, 2),
            (HW_SOC, soc * 1000, 1),
            (HW_SOC_ALL, soc * 1000, 1),
            (HW_METER_POWER, -home.grid_w, 2),
        ):
            put(h, address, value, words)
        pv_w = self._pv_now_w
        write_values(
            available_profiles()["huawei_sun2000"],
            h,
            {
                "model_name": "SUN2000-4KTL-M1", "serial": "HV0000DEMO01",
                "pv_power": pv_w, "active_power": pv_w - power_w,
                "grid_frequency": 50.0, "internal_temperature": 31.5,
                "pv_energy": self.pv_kwh, "daily_pv_energy": 0.0, "meter_voltage_l1": 231.0,
                "grid_export_energy": home.export_kwh, "grid_import_energy": home.import_kwh,
                "battery_charge_energy": self.cells.charged_kwh,
                "battery_discharge_energy": self.cells.discharged_kwh,
            },
        )  # fmt: skip
