"""The grid's CO2 emission factor in Spain, per year, to value the energy the community used.

Location-based (the GHG Protocol's Scope 2 method): REE's national factor, CO2-eq (CO2 and
N2O, AR5 potentials) of the thermal plants over all generation at the plants' busbars,
peninsula and islands together. A supplier's CNMC label (market-based) is its own claim, not
the community's. The factor of a year multiplies the energy the members used from the plant
in it (self-consumed); a year without its own factor yet takes the latest one, and says so.

Sources: REE, "Emisiones de CO2 asociadas a la generación eléctrica en España" (2015 and
2019 factors as REE states them); 2023 and 2024 from REE's emissions and generation of the
year as its annual "Informe del sistema eléctrico español" reports them (emissions ÷ generation;
REData ``generacion/no-renovables-detalle-emisiones-CO2`` over ``estructura-generacion``
gives the same quotient). The manager may enter another factor (``display_emission_factor``).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "Red Eléctrica (REE), national generation mix, CO2-eq"
# kg CO2-eq per kWh (= t per MWh), by year.
FACTORS: dict[int, float] = {
    2015: 0.26,
    2019: 0.19,
    2023: 0.12,  # 31.99 Mt over about 266 TWh
    2024: 0.098,  # 25.66 Mt over about 262 TWh (148,999 GWh renewable, 56.8 %)
}
MANAGER_SOURCE = "the community's manager"


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    """A factor (kg CO2-eq/kWh), the year it is of, and who states it."""

    kg_per_kwh: float
    year: int | None
    source: str

    def as_dict(self) -> dict[str, object]:
        """Return the factor as the public JSON gives it."""
        return {
            "value": self.kg_per_kwh,
            "unit": "kg CO2-eq/kWh",
            "year": self.year,
            "source": self.source,
            "method": "location-based (grid average)",
            "applies_to": "self_consumed_kwh",
        }


def factor_for(year: int, override: float | None = None) -> EmissionFactor:
    """Return the factor for ``year``: the manager's, else REE's of that year or the latest."""
    if override is not None:
        return EmissionFactor(override, None, MANAGER_SOURCE)
    known = max((y for y in FACTORS if y <= year), default=min(FACTORS))
    return EmissionFactor(FACTORS[known], known, SOURCE)
