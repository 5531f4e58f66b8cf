"""Each member's month as a bill needs it: per 2.0TD period, with the surplus compensation.

A billing platform charges each member for a local month per energy period of the 2.0TD toll
(P1, P2, P3: ``sharing.calendar``) and compensates the surplus of its share (RD 244/2019 art. 14,
``sharing.economics``). Per member, month and period this gives the results' figures
(``ResultsEngine.shares``): consumption C, energy from the grid (C − S), allocated A = β·G,
self-consumed S = min(A, C) and surplus A − S; the coefficient applied (β weighted by the
plant's generation: the share of the plant's energy the member was given); the hours counted
and which source measured them (the member's own meter, or the distributor's data — the one
its bill is settled on). With prices: the surplus' value and the imports' energy term per
period and, for the month, the compensation: the surplus' value, at most the energy term,
never below 0 — a monthly figure, never one of a period. A period without a known hour has no
figures (null, empty in the file), not zeros.

kWh have three decimals, EUR two, β six. A month's figure is the sum of its periods' as
written, and ``import = consumption − self-consumed``, ``surplus = allocated − self-consumed``
hold exactly as written, so that a platform that checks them finds them true.

``csv_text`` writes the month as a Spanish spreadsheet reads it: ``;`` between fields, decimal
commas, UTF-8 with a byte order mark, CRLF; one line per member and period, then the month's
(period ``total``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import csv
from dataclasses import dataclass
from datetime import date, datetime
import io
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator.config import ResultsConfig
from ioe_aggregator.history.hourly import measured_by
from ioe_aggregator.members.data import MEASURED_BY
from ioe_aggregator.members.registry import Member, Registry
from ioe_aggregator.prices import PERIODS, PriceBook, Used
from ioe_aggregator.results.engine import ResultsEngine, Shares
from ioe_aggregator.results.member_energy import Period
from ioe_aggregator.sharing.calendar import energy_period_20td
from ioe_aggregator.sharing.economics import compensation
from ioe_aggregator.store import Store

FORMAT: Final = "ioe.billing.v1"
# What a spreadsheet would take a cell starting with for a formula.
FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
KWH: Final = 3
EUR: Final = 2
BETA: Final = 6
# How the API and the files name a source: the member data export's names.
SOURCES: Final = MEASURED_BY
ENERGIES: Final = (
    "consumption_kwh",
    "import_kwh",
    "allocated_kwh",
    "self_consumed_kwh",
    "surplus_kwh",
)
MONEY: Final = ("surplus_value_eur", "import_energy_eur")

Language = Literal["en", "es"]
# The file's columns, in order, with each language's heading.
COLUMNS: Final[Mapping[str, Mapping[Language, str]]] = {
    "month": {"en": "month", "es": "mes"},
    "member": {"en": "member", "es": "miembro"},
    "name": {"en": "name", "es": "nombre"},
    "cups": {"en": "cups", "es": "cups"},
    "period": {"en": "period", "es": "periodo"},
    "consumption_kwh": {"en": "consumption_kwh", "es": "consumo_kwh"},
    "import_kwh": {"en": "from_grid_kwh", "es": "de_la_red_kwh"},
    "allocated_kwh": {"en": "allocated_kwh", "es": "asignada_kwh"},
    "self_consumed_kwh": {"en": "self_consumed_kwh", "es": "autoconsumida_kwh"},
    "surplus_kwh": {"en": "surplus_kwh", "es": "excedente_kwh"},
    "coefficient": {"en": "coefficient", "es": "coeficiente"},
    "surplus_value_eur": {"en": "surplus_value_eur", "es": "valor_excedente_eur"},
    "import_energy_eur": {"en": "import_energy_term_eur", "es": "termino_energia_red_eur"},
    "compensation_eur": {"en": "compensation_eur", "es": "compensacion_eur"},
    "measured_by": {"en": "measured_by", "es": "medido_por"},
    "hours": {"en": "hours", "es": "horas"},
    "hours_known": {"en": "hours_known", "es": "horas_conocidas"},
}
WORDS: Final[Mapping[Language, Mapping[str, str]]] = {
    "en": {"own_meter": "own meter", "distributor": "distributor", "both": "both"},
    "es": {
        "own_meter": "contador propio",
        "distributor": "distribuidora",
        "both": "ambos",
    },
}


@dataclass(frozen=True, kw_only=True)
class Month:
    """What a month's bill is made from: the shares, each hour's source, the members, prices."""

    month: str
    shares: Shares
    # (member, UTC hour) → the source the hour's consumption was taken from.
    measured: Mapping[tuple[str, datetime], str]
    members: Sequence[Member]
    prices: Used | None
    timezone: str


async def read_month(
    first: date,
    now: datetime,
    *,
    engine: ResultsEngine,
    store: Store,
    registry: Registry,
    config: ResultsConfig,
) -> Month:
    """Read what the local month starting on ``first`` is billed from, as known at ``now``."""
    hours = Period.containing("month", first).hours(config.zone)
    shares = await engine.shares(hours, now)
    end = (hours[-1] + pd.Timedelta(hours=1)).to_pydatetime()
    return Month(
        month=f"{first:%Y-%m}",
        shares=shares,
        measured=await measured_by(store, hours[0].to_pydatetime(), end),
        members=await registry.members(),
        prices=await PriceBook(store, config).used(hours),
        timezone=config.timezone,
    )


def _round(value: float, digits: int) -> float:
    # + 0.0: never a "-0.0" in a bill.
    return round(float(value), digits) + 0.0


def _energies(
    consumption: NDArray[np.float64], allocated: NDArray[np.float64], self_used: NDArray[np.float64]
) -> dict[str, float]:
    """Return some hours' energies, rounded so that the two identities hold as written."""
    used = _round(np.nansum(self_used), KWH)
    consumed = _round(np.nansum(consumption), KWH)
    given = _round(np.nansum(allocated), KWH)
    return {
        "consumption_kwh": consumed,
        "import_kwh": _round(consumed - used, KWH),
        "allocated_kwh": given,
        "self_consumed_kwh": used,
        "surplus_kwh": _round(given - used, KWH),
    }


def _sum(values: Sequence[float | None], digits: int) -> float | None:
    """Return the sum of the known values as written (None when none is known)."""
    known = [value for value in values if value is not None]
    return _round(sum(known), digits) if known else None


def _coefficient(beta: NDArray[np.float64], generation: NDArray[np.float64]) -> float | None:
    """Return β weighted by the plant's generation (the plain mean when the plant made nothing)."""
    if len(beta) == 0:
        return None
    made = float(generation.sum())
    mean = float(beta @ generation) / made if made > 0 else float(beta.mean())
    return _round(mean, BETA)


def _measured_by(counts: Mapping[str, int]) -> str | None:
    used = [name for name, count in counts.items() if count]
    if not used:
        return None
    return used[0] if len(used) == 1 else "both"


def _member(month: Month, member: Member, period: NDArray[np.int8]) -> dict[str, Any]:
    allocation = month.shares.allocation
    index = allocation.consumption_kwh.index
    consumption = allocation.consumption_kwh[member.id].to_numpy(dtype=float)
    allocated = allocation.allocated_kwh[member.id].to_numpy(dtype=float)
    self_used = allocation.self_consumed_kwh[member.id].to_numpy(dtype=float)
    beta = (
        month.shares.beta[member.id].to_numpy(dtype=float)
        if member.id in month.shares.beta
        else np.zeros(len(index))
    )
    generation = allocation.generation_kwh.to_numpy(dtype=float)
    known = ~np.isnan(consumption)
    source = np.array(
        [month.measured.get((member.id, hour), "") for hour in index.to_pydatetime()], dtype=object
    )
    money = None
    # Hours counted with no price make their period's money, and the month's, unknown.
    unpriced = known.copy()
    if month.prices is not None:
        whole = month.prices.whole()
        unpriced &= ~month.prices.priced
        surplus = np.nan_to_num(allocation.surplus_kwh[member.id].to_numpy(dtype=float))
        imported = np.nan_to_num(allocation.import_kwh[member.id].to_numpy(dtype=float))
        cap = whole.import_energy_eur_kwh
        money = {
            "surplus_value_eur": surplus * whole.surplus_eur_kwh.to_numpy(),
            "import_energy_eur": imported
            * (whole.import_eur_kwh if cap is None else cap).to_numpy(),
        }
    periods: dict[str, dict[str, Any]] = {}
    for number, name in enumerate(PERIODS, start=1):
        rows = period == number
        counts = {
            label: int(np.count_nonzero(known & rows & (source == stored)))
            for stored, label in SOURCES.items()
        }
        counted = bool((known & rows).any())
        figures: dict[str, Any] = (
            _energies(consumption[rows], allocated[rows], self_used[rows])
            if counted
            else dict.fromkeys(ENERGIES)
        )
        valued = money is not None and counted and not unpriced[rows].any()
        for key in MONEY:
            figures[key] = _round(money[key][rows].sum(), EUR) if money and valued else None
        periods[name] = figures | {
            "coefficient": _coefficient(beta[rows], generation[rows]),
            "measured_by": _measured_by(counts),
            "hours": int(np.count_nonzero(rows)),
            "hours_known": int(np.count_nonzero(known & rows)),
            "hours_by_source": counts,
        }
    parts = periods.values()
    total: dict[str, Any] = {key: _sum([p[key] for p in parts], KWH) for key in ENERGIES}
    total |= {key: None if unpriced.any() else _sum([p[key] for p in parts], EUR) for key in MONEY}
    counts = {label: sum(p["hours_by_source"][label] for p in parts) for label in SOURCES.values()}
    value, cap = total["surplus_value_eur"], total["import_energy_eur"]
    total |= {
        "coefficient": _coefficient(beta, generation),
        "compensation_eur": None if value is None else _round(compensation(value, cap), EUR),
        "measured_by": _measured_by(counts),
        "hours": len(index),
        "hours_known": int(np.count_nonzero(known)),
        "hours_by_source": counts,
    }
    agreements = sorted({a.id for a in month.shares.in_force if a is not None})
    return {
        "member": member.id,
        "name": member.name,
        "cups": member.cups,
        "month": month.month,
        "complete": total["hours_known"] == total["hours"],
        "agreements": agreements,
        "periods": periods,
        "total": total,
    }


def members(month: Month) -> list[dict[str, Any]]:
    """Return each member's month (see the module), by member id.

    The members in it are those active now and those with a known hour in the month.
    """
    allocation = month.shares.allocation
    index = allocation.consumption_kwh.index
    period = energy_period_20td(index, month.timezone)
    counted = allocation.consumption_kwh.notna().any()
    return [
        _member(month, member, period)
        for member in sorted(month.members, key=lambda m: m.id)
        if member.id in allocation.consumption_kwh.columns
        and (member.active or bool(counted.get(member.id, False)))
    ]


def _text(value: str) -> str:
    """Return text a spreadsheet shows as text: never a formula (OWASP's CSV injection)."""
    return f"'{value}" if value[:1] in FORMULA else value


def _number(value: float | None, digits: int) -> str:
    """Return a number as a Spanish spreadsheet reads it (decimal comma); empty when unknown."""
    return "" if value is None else f"{value:.{digits}f}".replace(".", ",")


def _line(
    bill: Mapping[str, Any], period: str, figures: Mapping[str, Any], language: Language
) -> list[str]:
    words = WORDS[language]
    digits = {"coefficient": BETA, **dict.fromkeys(ENERGIES, KWH)}
    digits |= dict.fromkeys((*MONEY, "compensation_eur"), EUR)
    line = [bill["month"], _text(bill["member"]), _text(bill["name"]), _text(bill["cups"]), period]
    line += [_number(figures.get(key), digits[key]) for key in list(COLUMNS)[5:-3]]
    measured = figures["measured_by"]
    line += [
        "" if measured is None else words[measured],
        str(figures["hours"]),
        str(figures["hours_known"]),
    ]
    return line


def csv_text(bills: Sequence[Mapping[str, Any]], language: Language) -> str:
    """Return the members' months as CSV (see the module), headed in ``language``."""
    text = io.StringIO()
    text.write("\ufeff")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow([heading[language] for heading in COLUMNS.values()])
    for bill in bills:
        for name, figures in bill["periods"].items():
            writer.writerow(_line(bill, name, figures, language))
        writer.writerow(_line(bill, "total", bill["total"], language))
    return text.getvalue()
