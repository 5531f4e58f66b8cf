"""The community's energy prices: posted by 2.0TD period from a day on, else the add-on's.

A billing platform posts, from a local day on, the price of a kWh in each 2.0TD period (P1,
P2, P3): what a kWh from the grid costs a member (``import_eur_kwh``: energy, tolls and
charges), its energy term alone (``import_energy_eur_kwh``, optional: the surplus
compensation's cap, RD 244/2019 art. 14) and what its surplus is worth (``surplus_eur_kwh``).
Each posting holds until the next one's first day; posting the same day again replaces it,
and posting what is already there changes nothing (``PriceBook.post`` says which). Hours before
the first posting take the add-on's flat options (``import_price_eur_kwh``,
``surplus_price_eur_kwh``), without an energy term: the cap is then the whole import price,
which overstates it.

``PriceBook.used`` gives every hour its prices (``sharing.economics.Prices``, what the members'
savings and the billing export value energy at) and describes them as the API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
import json
import time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
import pandas as pd

from ioe_aggregator import audit
from ioe_aggregator.config import ResultsConfig
from ioe_aggregator.refusals import Kind, Refused
from ioe_aggregator.sharing.calendar import energy_period_20td
from ioe_aggregator.sharing.economics import Prices
from ioe_aggregator.store import Store

PERIODS: Final = ("P1", "P2", "P3")
KINDS: Final = ("import_eur_kwh", "import_energy_eur_kwh", "surplus_eur_kwh")
SELECT_ALL = "SELECT valid_from, figures, reference, created_s, created_by FROM prices"
DELETE = "DELETE FROM prices WHERE valid_from = ?"
INSERT = """INSERT INTO prices (valid_from, figures, reference, created_s, created_by)
    VALUES (?, ?, ?, ?, ?)"""

type ByPeriod = Mapping[str, float]
Cap = Literal["energy_term", "import_price", "mixed"]


@dataclass(frozen=True, kw_only=True)
class Posted:
    """Prices posted from ``valid_from`` on, EUR/kWh by period (P1, P2, P3)."""

    valid_from: date
    import_eur_kwh: ByPeriod
    surplus_eur_kwh: ByPeriod
    import_energy_eur_kwh: ByPeriod | None = None
    # The posting's name in the system it came from (a tariff, a price list): for people.
    reference: str | None = None
    created: datetime | None = None
    created_by: str | None = None

    def figures(self) -> dict[str, ByPeriod | None]:
        """Return the prices themselves, by kind."""
        return {kind: getattr(self, kind) for kind in KINDS}

    def as_dict(self) -> dict[str, Any]:
        """Return the posting as the API gives it."""
        return {
            "valid_from": self.valid_from.isoformat(),
            **self.figures(),
            "reference": self.reference,
            "created": None if self.created is None else self.created.isoformat(),
            "created_by": self.created_by,
        }


def _by_period(value: float | Mapping[str, float]) -> dict[str, float]:
    """Return a price for each period from one number or ``{P1, P2, P3}``."""
    if isinstance(value, Mapping):
        return {period: float(value[period]) for period in PERIODS}
    return dict.fromkeys(PERIODS, float(value))


def posted(body: Mapping[str, Any], valid_from: date) -> Posted:
    """Return the prices a posted body gives from ``valid_from``; raise Refused saying why not.

    The API's document has checked each price (EUR/kWh, 0 to 10, one number or
    one per period); here, that the energy term is at most the whole price it is part of.
    """
    bought = _by_period(body["import_eur_kwh"])
    term = body.get("import_energy_eur_kwh")
    term = None if term is None else _by_period(term)
    if term is not None and (
        problems := [
            f"import_energy_eur_kwh.{p}: the energy term cannot exceed the whole price "
            f"({term[p]:g} > {bought[p]:g})"
            for p in PERIODS
            if term[p] > bought[p]
        ]
    ):
        raise Refused(Kind.INVALID, "; ".join(problems), code="bad_prices")
    return Posted(
        valid_from=valid_from,
        import_eur_kwh=bought,
        surplus_eur_kwh=_by_period(body["surplus_eur_kwh"]),
        import_energy_eur_kwh=term,
        reference=body.get("reference"),
    )


@dataclass(frozen=True, kw_only=True)
class Used:
    """Some hours' prices (NaN where an hour has none), and how the API describes them."""

    prices: Prices
    # Whether each hour has its prices.
    priced: NDArray[np.bool_]
    description: dict[str, Any]

    def whole(self) -> Prices:
        """Return the prices with the unpriced hours' at 0 (for sums whose months are priced)."""
        return Prices(
            import_eur_kwh=self.prices.import_eur_kwh.fillna(0.0),
            surplus_eur_kwh=self.prices.surplus_eur_kwh.fillna(0.0),
            import_energy_eur_kwh=None
            if self.prices.import_energy_eur_kwh is None
            else self.prices.import_energy_eur_kwh.fillna(0.0),
        )

    def priced_months(self, zone: ZoneInfo) -> set[str]:
        """Return the local months (YYYY-MM) all of whose hours have prices."""
        local = self.prices.import_eur_kwh.index.tz_convert(zone)
        months = pd.Series(self.priced, index=local.strftime("%Y-%m"))
        return {str(month) for month, every in months.groupby(level=0).all().items() if every}


class PriceBook:
    """The prices of one community, in its store, over the add-on's flat ones."""

    def __init__(self, store: Store, config: ResultsConfig) -> None:
        """Work on a store, with the add-on's flat prices (or none) and its time zone."""
        self._store = store
        self._options = config.prices
        self._timezone = config.timezone
        self._zone = ZoneInfo(config.timezone)

    async def all(self) -> list[Posted]:
        """Return every posting, by first day."""
        async with self._store.transaction() as tx:
            rows = await tx.execute(SELECT_ALL)
        return sorted((_posting(row) for row in rows), key=lambda p: p.valid_from)

    async def post(self, new: Posted, *, actor: str) -> tuple[Posted, bool]:
        """Record prices from their day on (replacing that day's); return them and whether new.

        The same prices (and reference) posted again for the same day change nothing, and are
        not audited again.
        """
        async with self._store.transaction() as tx:
            held = [_posting(row) for row in await tx.execute(SELECT_ALL)]
            same = next((p for p in held if p.valid_from == new.valid_from), None)
            if (
                same is not None
                and same.figures() == new.figures()
                and same.reference == new.reference
            ):
                return same, False
            created = datetime.fromtimestamp(int(time.time()), UTC)
            await tx.execute(DELETE, (new.valid_from.isoformat(),))
            await tx.execute(
                INSERT,
                (
                    new.valid_from.isoformat(),
                    json.dumps(new.figures(), sort_keys=True),
                    new.reference,
                    int(created.timestamp()),
                    actor,
                ),
            )
            await audit.record(
                tx,
                actor,
                audit.Action.PRICES_POSTED,
                new.valid_from.isoformat(),
                {**new.figures(), "reference": new.reference, "replaced": same is not None},
            )
        return replace(new, created=created, created_by=actor), True

    async def remove(self, valid_from: date, *, actor: str) -> Posted:
        """Delete the prices posted from a day; raise Refused (not_found) when there are none."""
        async with self._store.transaction() as tx:
            held = [_posting(row) for row in await tx.execute(SELECT_ALL)]
            found = next((p for p in held if p.valid_from == valid_from), None)
            if found is None:
                raise Refused(Kind.NOT_FOUND, f"no prices posted from {valid_from}")
            await tx.execute(DELETE, (valid_from.isoformat(),))
            await audit.record(tx, actor, audit.Action.PRICES_REMOVED, valid_from.isoformat())
        return found

    async def used(self, hours: pd.DatetimeIndex) -> Used | None:
        """Return the prices of ``hours`` (UTC); None when no hour has any."""
        return _used(await self.all(), self._options, hours, self._timezone, self._zone)


def _posting(row: Sequence[Any]) -> Posted:
    valid_from, figures, reference, created_s, created_by = row
    return Posted(
        valid_from=date.fromisoformat(valid_from),
        **json.loads(figures),
        reference=reference,
        created=datetime.fromtimestamp(int(created_s), UTC),
        created_by=created_by,
    )


def _used(
    postings: Sequence[Posted],
    options: tuple[float, float] | None,
    hours: pd.DatetimeIndex,
    timezone: str,
    zone: ZoneInfo,
) -> Used | None:
    """Give each hour the posting in force on its local day, else the options (see ``used``)."""
    postings = sorted(postings, key=lambda p: p.valid_from)
    days = np.array(hours.tz_convert(zone).date)
    starts = np.array([p.valid_from for p in postings], dtype=object)
    # Which posting holds each hour: the last one begun by its day (-1: none, the options).
    which = np.searchsorted(starts, days, side="right") - 1 if postings else np.full(len(days), -1)
    priced = (which >= 0) | (options is not None)
    if not priced.any():
        return None
    period = energy_period_20td(hours, timezone)
    columns: dict[str, np.ndarray] = {}
    for kind in KINDS:
        values = np.full(len(hours), np.nan)
        for number, name in enumerate(PERIODS, start=1):
            for index, posting in enumerate(postings):
                held = posting.figures()[kind]
                if held is not None:
                    values[(which == index) & (period == number)] = held[name]
        columns[kind] = values
    if options is not None:
        flat = {"import_eur_kwh": options[0], "surplus_eur_kwh": options[1]}
        for kind, price in flat.items():
            columns[kind][which < 0] = price
    with_term = ~np.isnan(columns["import_energy_eur_kwh"])
    cap: Cap = (
        "energy_term"
        if with_term[priced].all()
        else "import_price"
        if not with_term.any()
        else "mixed"
    )
    term = np.where(with_term, columns["import_energy_eur_kwh"], columns["import_eur_kwh"])
    prices = Prices(
        import_eur_kwh=pd.Series(columns["import_eur_kwh"], index=hours),
        surplus_eur_kwh=pd.Series(columns["surplus_eur_kwh"], index=hours),
        import_energy_eur_kwh=pd.Series(term, index=hours),
    )
    in_force = []
    for index in dict.fromkeys(which[priced].tolist()):
        held = days[priced & (which == index)]
        described: dict[str, Any] = (
            {"source": "posted", **postings[index].figures()}
            if index >= 0
            else {
                "source": "options",
                "import_eur_kwh": dict.fromkeys(PERIODS, options[0]),
                "import_energy_eur_kwh": None,
                "surplus_eur_kwh": dict.fromkeys(PERIODS, options[1]),
            }
            if options is not None
            else {}
        )
        in_force.append({"from": min(held).isoformat(), "to": max(held).isoformat(), **described})
    return Used(
        prices=prices,
        priced=priced,
        description={"compensation_cap": cap, "in_force": in_force},
    )
