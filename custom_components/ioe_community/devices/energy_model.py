"""The home's energy balance: which measured values are its grid, PV, battery and EV flows.

Each configured device has a role in the home (grid meter, PV, battery, EV charger, community
plant) and each of its values a role in its profile (``grid_import_energy``, ``pv_power``…).
``home_quantity`` combines the two into one of the home's quantities, with a sign; a home's
consumption, when no meter measures it, follows from the balance:

    consumption = grid import − grid export + PV + battery discharge − battery charge

Counters are kWh, powers W. Power signs as Home Assistant's Energy dashboard has them: grid
positive when importing, battery positive when discharging; PV and EV positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

ENERGY_QUANTITIES: Final = (
    "grid_import_energy",
    "grid_export_energy",
    "pv_energy",
    "battery_charge_energy",
    "battery_discharge_energy",
    "ev_energy",
    "consumption_energy",
    "plant_energy",
)
POWER_QUANTITIES: Final = (
    "grid_power",
    "pv_power",
    "battery_power",
    "ev_power",
    "consumption_power",
    "plant_power",
)
# consumption = Σ sign × quantity, when it is not measured.
CONSUMPTION_ENERGY_BALANCE: Final = (
    ("grid_import_energy", 1),
    ("grid_export_energy", -1),
    ("pv_energy", 1),
    ("battery_discharge_energy", 1),
    ("battery_charge_energy", -1),
)
CONSUMPTION_POWER_BALANCE: Final = (("grid_power", 1), ("pv_power", 1), ("battery_power", 1))
# What a plain meter's own import/export/power mean, by the role of what it measures. A meter
# on an inverter has the inverter on its load side: generation is what it exports.
_METER_ROLES: Final[Mapping[str, Mapping[str, tuple[str, int]]]] = {
    "grid_meter": {
        "grid_import_energy": ("grid_import_energy", 1),
        "grid_export_energy": ("grid_export_energy", 1),
        "grid_power": ("grid_power", 1),
    },
    "pv": {"grid_export_energy": ("pv_energy", 1), "grid_power": ("pv_power", -1)},
    "plant": {"grid_export_energy": ("plant_energy", 1), "grid_power": ("plant_power", -1)},
    "battery": {
        "grid_import_energy": ("battery_charge_energy", 1),
        "grid_export_energy": ("battery_discharge_energy", 1),
        "grid_power": ("battery_power", -1),
    },
    "ev_charger": {"grid_import_energy": ("ev_energy", 1), "grid_power": ("ev_power", 1)},
    # A load inside the home: its consumption is already in the balance.
    "load": {},
}
_GRID_ROLES: Final = frozenset({"grid_import_energy", "grid_export_energy", "grid_power"})
# A device's values that say which way power flows through its meter, and its counters of
# each way: what the household reverses for a meter that sees the flow the other way round (a
# clamp turned round, a meter that counts export as positive).
SIGNED_POWER_ROLES: Final = frozenset({"grid_power"})
_OTHER_WAY: Final = {
    "grid_import_energy": "grid_export_energy",
    "grid_export_energy": "grid_import_energy",
}


def reverse_power(
    values: Mapping[str, float | str | None], roles: Mapping[str, str | None]
) -> dict[str, float | str | None]:
    """Return a device's values with its flows the other way round.

    Powers whose role (by key) says a direction are negated, and the import counter's value
    goes to the export counter and back (when the device has both).
    """
    keys_by_role: dict[str | None, str] = {}
    for key, role in roles.items():
        keys_by_role.setdefault(role, key)
    reversed_values: dict[str, float | str | None] = {}
    for key, value in values.items():
        role = roles.get(key)
        if role in SIGNED_POWER_ROLES and isinstance(value, float | int):
            reversed_values[key] = -value
        elif role in _OTHER_WAY and (other := keys_by_role.get(_OTHER_WAY[role])) is not None:
            reversed_values[other] = value
        else:
            reversed_values[key] = value
    return reversed_values


def home_quantity(
    device_role: str, value_role: str | None, *, plain_meter: bool
) -> tuple[str, int] | None:
    """Return the home quantity (and sign) a device's value measures, or None if none.

    ``plain_meter`` is true for a device whose values are all its own grid-side
    import/export/power (an energy meter): their meaning comes from what the meter is on.
    An inverter's values name their flow themselves (its ``grid_*`` values come from the grid
    meter it reads), except in a community plant, whose flows are not the home's.
    """
    if value_role is None or device_role == "load":
        return None
    if plain_meter:
        return _METER_ROLES[device_role].get(value_role)
    if device_role == "plant":
        return {"pv_energy": ("plant_energy", 1), "pv_power": ("plant_power", 1)}.get(value_role)
    if value_role in ENERGY_QUANTITIES or value_role in POWER_QUANTITIES:
        return value_role, 1
    return None


def is_plain_meter(value_roles: Iterable[str | None]) -> bool:
    """Return whether a device's values are all grid-side meter values (an energy meter)."""
    roles = {role for role in value_roles if role is not None}
    return bool(roles) and roles <= _GRID_ROLES


@dataclass(frozen=True, kw_only=True)
class Term:
    """One measured value in a home quantity: where it comes from and its sign."""

    source: str
    sign: int = 1


_GRID_QUANTITIES: Final = frozenset({"grid_import_energy", "grid_export_energy", "grid_power"})


@dataclass(frozen=True, kw_only=True)
class Contribution:
    """A measured value of a device: the home quantity it is, from a device of ``device_role``."""

    device_role: str
    quantity: str
    term: Term


def combine(contributions: Iterable[Contribution]) -> EnergyModel:
    """Return the model the home's devices measure together.

    The grid is measured once: when a device is the home's grid meter, the grid values other
    devices also report (an inverter's own meter on the same supply point) are left out.
    """
    found = list(contributions)
    has_grid_meter = any(
        c.device_role == "grid_meter" and c.quantity in _GRID_QUANTITIES for c in found
    )
    terms: dict[str, list[Term]] = {}
    for c in found:
        if has_grid_meter and c.quantity in _GRID_QUANTITIES and c.device_role != "grid_meter":
            continue
        terms.setdefault(c.quantity, []).append(c.term)
    return EnergyModel(terms={quantity: tuple(found) for quantity, found in terms.items()})


@dataclass(frozen=True, kw_only=True)
class EnergyModel:
    """The home's quantities, each the signed sum of measured values.

    ``source`` is opaque here (the integration uses entity ids).
    """

    terms: Mapping[str, tuple[Term, ...]]

    def measured(self, quantity: str) -> bool:
        """Return whether some value measures ``quantity`` directly."""
        return bool(self.terms.get(quantity))

    def consumption_terms(self, *, energy: bool) -> tuple[Term, ...] | None:
        """Return the consumption's terms: measured, else from the balance; None if unknown.

        The balance needs at least the grid; every other flow the home lacks counts as zero.
        """
        quantity = "consumption_energy" if energy else "consumption_power"
        if self.measured(quantity):
            return self.terms[quantity]
        balance = CONSUMPTION_ENERGY_BALANCE if energy else CONSUMPTION_POWER_BALANCE
        grid = ("grid_import_energy",) if energy else ("grid_power",)
        if not all(self.measured(q) for q in grid):
            return None
        return tuple(
            Term(source=term.source, sign=term.sign * sign)
            for quantity_, sign in balance
            for term in self.terms.get(quantity_, ())
        )

    def estimate(self, quantity: str, readings: Mapping[str, float | None]) -> Estimate | None:
        """Return a quantity from readings by source, with what it has.

        A value without a reading counts as zero and makes the result incomplete; None when
        none of its values has one, or, for a consumption from the balance, the grid has not.
        """
        consumption = quantity in ("consumption_energy", "consumption_power")
        if consumption:
            terms = self.consumption_terms(energy=quantity == "consumption_energy")
        else:
            terms = self.terms.get(quantity)
        if not terms:
            return None
        needed: set[str] = set()
        if consumption and not self.measured(quantity):
            grid = "grid_import_energy" if quantity == "consumption_energy" else "grid_power"
            needed = {term.source for term in self.terms[grid]}
        read = [(term, readings.get(term.source)) for term in terms]
        if all(value is None for _, value in read) or any(
            value is None for term, value in read if term.source in needed
        ):
            return None
        return Estimate(
            value=sum(term.sign * value for term, value in read if value is not None),
            complete=all(value is not None for _, value in read),
        )


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """A quantity made from readings: incomplete when some of its values had none."""

    value: float
    complete: bool
