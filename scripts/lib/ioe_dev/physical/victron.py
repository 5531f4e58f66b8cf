"""A Victron GX with a Multi and its battery in ESS (notes §2)."""

from __future__ import annotations

from typing import Final

from .home import Cells, Device, Home, Setting, clamp, get, put

# Victron GX (notes §2.2): unit 100 (system and settings) and the VE.Bus unit of the Multi.
VIC_GRID_L1: Final = 820  # S16 W, > 0 imports [doc]
VIC_CONSUMPTION_L1: Final = 817  # U16 W [doc]
VIC_BATTERY_VOLTAGE: Final = 840  # U16 V x10 [doc]
VIC_BATTERY_CURRENT: Final = 841  # S16 A x10 [doc]
VIC_BATTERY_POWER: Final = 842  # S16 W, > 0 charging [impl]
VIC_SOC: Final = 843  # U16 % [impl]
VIC_BATTERY_STATE: Final = 844  # 0 idle, 1 charging, 2 discharging [doc]
VIC_SETPOINT: Final = 2700  # S16 W, > 0 imports; persistent [doc]
VIC_MAX_CHARGE_PCT: Final = 2701  # U16 % [doc]
VIC_MAX_DISCHARGE_PCT: Final = 2702  # U16 % [doc]
VIC_OVERRIDE: Final = 2716  # S32 W, volatile setpoint; 0 clears it [impl]
VIC_MIN_SOC: Final = 2901  # U16 % x10 [doc]
VIC_HUB4_MODE: Final = 2902  # 1/2 ESS, 3 external control [doc]
VEBUS_SOC: Final = 30  # U16 % x10 [doc]
VEBUS_STATE: Final = 31  # 8 passthru, 9 inverting, 3 bulk [doc]
VEBUS_SETPOINT: Final = 37  # S16 W from AC-in (> 0 charges), mode 3 [doc]
VEBUS_DISABLE_CHARGE: Final = 38  # 0/1 [doc]
VEBUS_DISABLE_FEED_IN: Final = 39  # 0/1 [doc]
PASSTHRU, INVERTING, BULK = 8, 9, 3
EXTERNAL_CONTROL: Final = 3


class VictronEss(Device):
    """A Victron GX with a Multi and its battery in ESS.

    In Hub4Mode 1 or 2 the Multi makes the grid's power meet the setpoint (the volatile 2716
    while it is set and fresh, else 2700) within the battery's limits (2701/2702 as % of its
    rating, the minimum SoC 2901), and the GX rewrites the VE.Bus setpoint 37 itself, so writes
    there do not stick [doc-ish: node-red-contrib-victron#101]. 2716 falls back to 2700 when not
    written again within ``override_timeout_s`` (60 s by default: the sources disagree between
    60 and ~180 s [unconfirmed]) and then reads 0 [assumed]. In Hub4Mode 3 the Multi takes 37 as
    its AC-in power (38 forbids charging, 39 feeding in) and drops to passthru (state 8, battery
    idle) when 37 is not written again within ``setpoint_timeout_s`` (documented 60 s, ~10 s
    seen in the field [field]).
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 100,
        vebus_unit: int = 227,  # a Cerbo GX's [field]; 246 on a CCGX [doc]
        rated_charge_w: int = 5000,
        rated_discharge_w: int = 5000,
        min_soc: float = 0.10,
        override_timeout_s: float = 60.0,
        setpoint_timeout_s: float = 60.0,
    ) -> None:
        """Rate an ESS on ``cells``."""
        super().__init__()
        self.cells = cells
        self.rated_charge_w, self.rated_discharge_w = rated_charge_w, rated_discharge_w
        self.override_timeout_s, self.setpoint_timeout_s = override_timeout_s, setpoint_timeout_s
        self._override_at: float | None = None
        self._setpoint_at: float | None = None
        # Out-of-range values are refused [assumed].
        system = {
            VIC_SETPOINT: Setting(-0x8000, 0x7FFF, signed=True),
            VIC_MAX_CHARGE_PCT: Setting(0, 100),
            VIC_MAX_DISCHARGE_PCT: Setting(0, 100),
            VIC_OVERRIDE: Setting(-0x80000000, 0x7FFFFFFF, words=2, signed=True),
            VIC_MIN_SOC: Setting(0, 1000),
            VIC_HUB4_MODE: Setting(1, 3),
        }
        vebus = {
            VEBUS_SETPOINT: Setting(-0x8000, 0x7FFF, signed=True),
            VEBUS_DISABLE_CHARGE: Setting(0, 1),
            VEBUS_DISABLE_FEED_IN: Setting(0, 1),
        }
        self.units[unit] = self._unit(system, self._written)
        self.units[vebus_unit] = self._unit(vebus, self._written_vebus)
        self._system, self._vebus = self.units[unit], self.units[vebus_unit]
        self.system, self.vebus = self._system.holding, self._vebus.holding
        self.system.update({VIC_MAX_CHARGE_PCT: 100, VIC_MAX_DISCHARGE_PCT: 100, VIC_HUB4_MODE: 1})
        put(self.system, VIC_MIN_SOC, min_soc * 1000)
        for address in (VIC_SETPOINT, VIC_OVERRIDE, VIC_OVERRIDE + 1):
            self.system[address] = 0
        self.vebus.update({VEBUS_SETPOINT: 0, VEBUS_DISABLE_CHARGE: 0, VEBUS_DISABLE_FEED_IN: 0})

    def _written(self, values: dict[int, int]) -> None:
        if VIC_OVERRIDE in values:
            self._override_at = self.elapsed_s

    def _written_vebus(self, values: dict[int, int]) -> None:
        if VEBUS_SETPOINT in values:
            self._setpoint_at = self.elapsed_s

    def _fresh(self, since: float | None, timeout_s: float, elapsed_s: float) -> bool:
        return since is not None and elapsed_s - since <= timeout_s

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Meet the grid setpoint (ESS), or follow the VE.Bus setpoint (mode 3)."""
        s, v = self.system, self.vebus
        if s[VIC_HUB4_MODE] == EXTERNAL_CONTROL:
            if self._fresh(self._setpoint_at, self.setpoint_timeout_s, home.elapsed_s):
                target_w = float(get(v, VEBUS_SETPOINT, signed=True))
                if v[VEBUS_DISABLE_CHARGE]:
                    target_w = min(target_w, 0.0)
                if v[VEBUS_DISABLE_FEED_IN]:  # discharging no more than the home takes
                    target_w = max(target_w, -max(before_w, 0.0))
            else:
                target_w = None  # passthru
        else:
            if not self._fresh(self._override_at, self.override_timeout_s, home.elapsed_s):
                put(s, VIC_OVERRIDE, 0, 2)
            override = get(s, VIC_OVERRIDE, 2, signed=True)
            setpoint = override or get(s, VIC_SETPOINT, signed=True)
            target_w = setpoint - before_w
        if target_w is None:
            power_w, state = 0.0, PASSTHRU
        else:
            limit_c = self.rated_charge_w * s[VIC_MAX_CHARGE_PCT] / 100
            limit_d = self.rated_discharge_w * s[VIC_MAX_DISCHARGE_PCT] / 100
            target_w = clamp(target_w, -limit_d, limit_c)
            power_w = self.cells.run(target_w, seconds, s[VIC_MIN_SOC] / 1000, 1.0)
            state = BULK if power_w > 0 else INVERTING if power_w < 0 else PASSTHRU
        if s[VIC_HUB4_MODE] != EXTERNAL_CONTROL:
            put(v, VEBUS_SETPOINT, clamp(power_w, -0x8000, 0x7FFF))
        v[VEBUS_STATE] = state
        return power_w

    def publish(self, home: Home) -> None:
        """Report the battery, the grid and the consumption, as both input and holding."""
        power_w, soc = self.power_w, self.cells.soc
        voltage_v = 48.0 + 6.0 * soc  # a 48 V LFP pack's rough curve [assumed]
        state = 1 if power_w > 0 else 2 if power_w < 0 else 0
        for table in (self._system.input, self.system):
            put(table, VIC_GRID_L1, clamp(home.grid_w, -0x8000, 0x7FFF))
            # What the AC loads take: the grid and the PV, less what the battery stores.
            consumption_w = home.grid_w + home.pv_now_w - power_w
            put(table, VIC_CONSUMPTION_L1, clamp(consumption_w, 0, 0xFFFF))
            put(table, VIC_BATTERY_VOLTAGE, voltage_v * 10)
            put(table, VIC_BATTERY_CURRENT, power_w / voltage_v * 10)
            put(table, VIC_BATTERY_POWER, clamp(power_w, -0x8000, 0x7FFF))
            put(table, VIC_SOC, soc * 100)
            table[VIC_BATTERY_STATE] = state
        for table in (self._vebus.input, self.vebus):
            put(table, VEBUS_SOC, soc * 1000)
            table[VEBUS_STATE] = self.vebus.get(VEBUS_STATE, PASSTHRU)
