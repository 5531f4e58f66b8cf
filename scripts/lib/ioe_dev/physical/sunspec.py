"""A hybrid inverter with a battery under SunSpec 124 controls, as a Fronius GEN24 (notes §3)."""

from __future__ import annotations

from typing import Final

from custom_components.ioe_community.devices.sunspec import image, model_layout, point_layout

from .home import FOLLOWS, Cells, Device, Home, Power, Setting, clamp, get, put, value_at

# SunSpec model 124, basic storage controls (notes §3.1, from SunSpec's model_124.json [doc]).
STORAGE: Final = 124
INVERTER: Final = 103
CHARGE_LIMIT, DISCHARGE_LIMIT = 1, 2  # StorCtl_Mod's bits: apply InWRte, apply OutWRte
RATE_SF: Final = -2  # InOutWRte_SF on a GEN24: ±10000 is ±100 % [impl: evcc#16008, #16209]
SOC_SF: Final = -2
CHA_ST: Final = {"empty": 2, "discharging": 3, "charging": 4, "full": 5, "holding": 6}


def model_addresses(models: list[int], base: int = 40000) -> dict[int, int]:
    """Where each model's ID register sits in a chain of ``models`` laid out by ``image``."""
    addresses, address = {}, base + 2
    for model_id in models:
        addresses[model_id] = address
        address += sum(point.size for point in model_layout(model_id).values())
    return addresses


class SunSpecStorage(Device):
    """A Fronius GEN24-like hybrid inverter with a battery, controlled through SunSpec 124.

    The chain is common (1), inverter (103) and storage (124) at 40000: a client walks it, as it
    must on a GEN24, whose register map moves with its float/int setting [doc]. Its own
    behaviour covers ``FOLLOWS`` of the surplus or deficit within WChaMax and MinRsvPct.
    StorCtl_Mod bit 0 caps charging at InWRte, bit 1 discharging at OutWRte, both in % of
    WChaMax (OutWRte too [assumed: 124 has no discharge maximum of its own]) with the scale
    factor -2; a negative OutWRte forces charging at that rate and a negative InWRte forces
    discharging (the GEN24's behaviour evcc's "charge" mode relies on [impl]). Charging beyond
    the PV surplus needs ChaGriSet = 1 and the inverter's "charge from the grid" option
    (``grid_charging``), which are AND-linked [doc via quote, openhab#16086]. With
    InOutWRte_RvrtTms > 0, the limits revert that many seconds after the last write of
    StorCtl_Mod, InWRte or OutWRte: StorCtl_Mod back to 0 and both rates to 100 % [assumed:
    whether the GEN24 reverts StorCtl_Mod itself is unconfirmed]; RvrtTms itself stays
    (it persists on a GEN24 [field: evcc#33037]).
    """

    def __init__(
        self,
        cells: Cells,
        *,
        unit: int = 1,  # a GEN24's inverter [impl]
        rated_charge_w: int = 5000,
        min_soc: float = 0.05,
        grid_charging: bool = True,
        pv_w: Power | None = None,
    ) -> None:
        """Rate a battery of ``cells``; ``pv_w`` is the inverter's strings' (None: the home's)."""
        super().__init__()
        self.cells = cells
        self.rated_charge_w = rated_charge_w
        self.grid_charging = grid_charging
        self.pv_w = pv_w
        self._pv_now_w = 0.0
        self._rates_at = 0.0
        chain = model_addresses([1, INVERTER, STORAGE])
        self.storage, self.inverter = chain[STORAGE], chain[INVERTER]
        rate = Setting(-10000, 10000, signed=True)  # ±100 % [assumed: beyond it is refused]
        settings = {
            self.at("WChaMax"): Setting(0, rated_charge_w),
            self.at("StorCtl_Mod"): Setting(0, 3),
            self.at("MinRsvPct"): Setting(0, 10000),
            self.at("OutWRte"): rate,
            self.at("InWRte"): rate,
            self.at("InOutWRte_WinTms"): Setting(0, 0xFFFF),
            self.at("InOutWRte_RvrtTms"): Setting(0, 0xFFFF),
            self.at("InOutWRte_RmpTms"): Setting(0, 0xFFFF),
            self.at("ChaGriSet"): Setting(0, 1),
        }
        self.units[unit] = self._unit(settings, self._written)
        self.holding = self.units[unit].holding
        self.holding.update(
            image(
                [
                    (1, {"Mn": "Fronius", "Md": "Primo GEN24 5.0 Plus", "SN": "34110000"}),
                    (INVERTER, {"W": 0, "W_SF": 0, "Hz": 5000, "Hz_SF": -2, "St": 4}),
                    (
                        STORAGE,
                        {
                            "WChaMax": rated_charge_w, "WChaMax_SF": 0, "StorCtl_Mod": 0,
                            "MinRsvPct": round(min_soc * 10000), "MinRsvPct_SF": -2,
                            "ChaState_SF": SOC_SF, "InBatV_SF": -1, "ChaSt": CHA_ST["holding"],
                            "OutWRte": 10000, "InWRte": 10000, "InOutWRte_SF": RATE_SF,
                            "InOutWRte_WinTms": 0, "InOutWRte_RvrtTms": 0,
                            "InOutWRte_RmpTms": 0, "ChaGriSet": 1,
                        },
                    ),
                ]
            )
        )  # fmt: skip

    def at(self, point: str) -> int:
        """Return the address of a point of model 124."""
        return self.storage + point_layout(STORAGE, point).offset

    def _written(self, values: dict[int, int]) -> None:
        if {self.at(p) for p in ("StorCtl_Mod", "InWRte", "OutWRte")} & values.keys():
            self._rates_at = self.elapsed_s

    def _point(self, point: str) -> int:
        signed = point_layout(STORAGE, point).type == "int16"
        return get(self.holding, self.at(point), signed=signed)

    def step(self, home: Home, seconds: float, before_w: float) -> float:
        """Follow the home, within (or forced by) the storage controls."""
        revert_s = self._point("InOutWRte_RvrtTms")
        if revert_s and home.elapsed_s - self._rates_at > revert_s:
            self.holding[self.at("StorCtl_Mod")] = 0
            self.holding[self.at("InWRte")] = self.holding[self.at("OutWRte")] = 10000
        mode = self._point("StorCtl_Mod")
        full_w = float(self._point("WChaMax"))
        high_w = (
            full_w * self._point("InWRte") * 10**RATE_SF / 100 if mode & CHARGE_LIMIT else full_w
        )
        low_w = (
            -full_w * self._point("OutWRte") * 10**RATE_SF / 100
            if mode & DISCHARGE_LIMIT
            else -full_w
        )
        target_w = clamp(clamp(-FOLLOWS * before_w, low_w, high_w), -full_w, full_w)
        if target_w > 0 and not (self._point("ChaGriSet") and self.grid_charging):
            target_w = min(target_w, max(-before_w, 0.0))  # from the PV's surplus only
        min_soc = self._point("MinRsvPct") * 10**SOC_SF / 100
        self._pv_now_w = home.pv_now_w if self.pv_w is None else value_at(self.pv_w, home.now)
        return self.cells.run(target_w, seconds, min_soc, 1.0)

    def publish(self, home: Home) -> None:
        """Report the state of charge, the battery's state and the inverter's AC power."""
        h, power_w, soc = self.holding, self.power_w, self.cells.soc
        if power_w > 0:
            state = "charging"
        elif power_w < 0:
            state = "discharging"
        elif soc >= 1.0 - 1e-6:
            state = "full"
        elif soc <= self._point("MinRsvPct") * 10**SOC_SF / 100 + 1e-6:
            state = "empty"
        else:
            state = "holding"
        put(h, self.at("ChaState"), soc * 100 / 10**SOC_SF)
        put(h, self.at("InBatV"), (48.0 + 6.0 * soc) * 10)
        h[self.at("ChaSt")] = CHA_ST[state]
        put(h, self.inverter + point_layout(INVERTER, "W").offset, self._pv_now_w - power_w)
