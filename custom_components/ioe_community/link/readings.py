"""The home's readings as the protocol sends them, from its energy model's counters and powers.

Each quantity of the energy model (``devices.energy_model``) is the signed sum of some
counters; each counter gives quarter hours (``intervals``); a quantity's quarter hour is ready
once every one of its counters has it. The protocol names them by meter and quantity:

=========================  ======================
energy model               protocol
=========================  ======================
grid import / export       ``grid`` ``import_kwh`` / ``export_kwh``
consumption                ``grid`` ``consumption_kwh`` (the home behind the supply point)
PV                         ``pv`` ``generation_kwh``
battery charge/discharge   ``battery`` ``charge_kwh`` / ``discharge_kwh``
EV                         ``ev`` ``consumption_kwh``
community plant            ``plant`` ``generation_kwh``
=========================  ======================

A consumption worked out from the balance can come out slightly negative over a quarter hour
(counters are not read at the same instant): it is sent as 0 and marked ``estimated``.

A quantity waits for all its counters, but not for ever: when one has kept it waiting for
``LATE_COUNTER`` while the others went on sampling (a PV inverter off the network, an export
counter that never reports), its quarters are made from those it has and marked
``estimated``. The wait starts when the quantity is first found waiting, so counters that
come back at slightly different times after Home Assistant was down are waited for. A
consumption always needs the grid's import; the others count as zero while they are missing.
A counter keeps at most ``MAX_KEPT`` quarters for quantities that cannot be made yet.

The live report leaves out a power that is not a number, is infinite or lies beyond the
protocol's ±100 MW (a misbehaving sensor), and what would be worked out from it: the
aggregator refuses a batch carrying one, and the next report would carry it again.

``replay`` makes a past period's readings again, the same way, from the counters' recorded
history (the household's "send this period again" after fixing a meter).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
import heapq
import logging
import math
from operator import itemgetter
from typing import Any, Final

from ..devices.energy_model import EnergyModel, Term
from .intervals import CounterIntervals, Interval
from .messages import Meter, Quality, Quantity
from .protocol import MAX_LIVE_W, Reading, utc_seconds_text

_LOGGER = logging.getLogger(__name__)

PROTOCOL_READINGS: Final[Mapping[str, tuple[Meter, Quantity]]] = {
    "grid_import_energy": (Meter.GRID, Quantity.IMPORT),
    "grid_export_energy": (Meter.GRID, Quantity.EXPORT),
    "consumption_energy": (Meter.GRID, Quantity.CONSUMPTION),
    "pv_energy": (Meter.PV, Quantity.GENERATION),
    "battery_charge_energy": (Meter.BATTERY, Quantity.CHARGE),
    "battery_discharge_energy": (Meter.BATTERY, Quantity.DISCHARGE),
    "ev_energy": (Meter.EV, Quantity.CONSUMPTION),
    "plant_energy": (Meter.PLANT, Quantity.GENERATION),
}
# The live report's fields, and the sign that turns the model's power into the protocol's
# (both count a battery positive while discharging, as Home Assistant's Energy dashboard).
LIVE_FIELDS: Final[Mapping[str, tuple[str, int]]] = {
    "grid_power": ("grid_w", 1),
    "pv_power": ("pv_w", 1),
    "battery_power": ("battery_w", 1),
    "ev_power": ("ev_w", 1),
    "consumption_power": ("consumption_w", 1),
    "plant_power": ("plant_w", 1),
}
_SIGNED_LIVE: Final = frozenset({"grid_w", "battery_w"})
# Samples taken between two looks for finished quarters when replaying history: the counters
# keep no more than this many samples in memory.
_REPLAY_CHUNK: Final = 5000

type Sample = tuple[datetime, float | None]


# How long a quantity waits for a counter that has no quarter while its others go on.
LATE_COUNTER: Final = timedelta(hours=1)
# The quarters a counter keeps for quantities that wait (four days).
MAX_KEPT: Final = 4 * 96


def _terms(model: EnergyModel, quantity: str) -> tuple[Term, ...]:
    if quantity == "consumption_energy":
        return model.consumption_terms(energy=True) or ()
    return model.terms.get(quantity, ())


def _needed(model: EnergyModel, quantity: str, terms: tuple[Term, ...]) -> frozenset[int]:
    """Return which of a quantity's terms it cannot be made without (by position)."""
    if quantity != "consumption_energy" or model.measured("consumption_energy"):
        return frozenset()
    grid = {term.source for term in model.terms.get("grid_import_energy", ())}
    return frozenset(n for n, term in enumerate(terms) if term.source in grid)


class HomeReadings:
    """Turns the counters' samples into the home's finished readings, oldest first."""

    def __init__(
        self,
        model: EnergyModel,
        state: Mapping[str, Any] | None = None,
        *,
        not_before: datetime | None = None,
    ) -> None:
        """Follow ``model``'s counters, going on from a stored ``state`` (``as_dict``).

        State of counters the model no longer has is dropped; new counters start afresh.
        Samples taken before ``not_before`` (when the home joined) are ignored: the clock is
        wrong (a computer without a battery-backed clock, before the network sets it).
        """
        self._not_before = not_before
        self._told_behind = False  # whether the log said the clock is behind
        self._quantities = {
            quantity: terms for quantity in PROTOCOL_READINGS if (terms := _terms(model, quantity))
        }
        self._needed = {
            quantity: _needed(model, quantity, terms)
            for quantity, terms in self._quantities.items()
        }
        self.sources = frozenset(
            term.source for terms in self._quantities.values() for term in terms
        )
        state = state or {}
        counters = state.get("counters", {})
        self._counters = {
            source: CounterIntervals.from_dict(counters[source])
            if source in counters
            else CounterIntervals()
            for source in self.sources
        }
        done = state.get("done", {})
        self._done: dict[str, dict[datetime, Interval]] = {
            source: {
                interval.start: interval
                for interval in (Interval.from_list(item) for item in done.get(source, ()))
            }
            for source in self.sources
        }
        # Since when (the counters' newest sample then) each quantity has waited for a counter.
        self._blocked: dict[str, datetime] = {
            quantity: datetime.fromisoformat(since)
            for quantity, since in state.get("blocked", {}).items()
            if quantity in self._quantities
        }
        self._jumped_at: datetime | None = None  # the last clock jump a counter found
        following = state.get("next", {})
        self._next: dict[str, datetime | None] = {
            quantity: datetime.fromisoformat(following[quantity])
            if following.get(quantity)
            else None
            for quantity in self._quantities
        }

    def add(self, source: str, at: datetime, value: float | None) -> None:
        """Take a counter's sample (kWh; None when it has none)."""
        if (counter := self._counters.get(source)) is None:
            return
        if self._not_before is not None and at < self._not_before:
            if not self._told_behind:
                _LOGGER.warning(
                    "The clock says %s, before this home joined its community (%s): the "
                    "readings wait until the clock is set",
                    utc_seconds_text(at),
                    utc_seconds_text(self._not_before),
                )
            self._told_behind = True
            return
        jump = counter.add(at, value)
        if jump is None or at == self._jumped_at:  # every counter finds the same jump
            return
        self._jumped_at = at
        if jump < timedelta(0):
            _LOGGER.warning(
                "The clock went back %s, to %s: the readings go on from there; the quarters "
                "made while it was ahead are not made again",
                -jump,
                utc_seconds_text(at),
            )
        else:
            _LOGGER.warning(
                "The counters were silent for %s, until %s (a clock the network set long after "
                "starting, or Home Assistant stopped that long): the readings go on from there, "
                "the time between is not spread over quarter hours",
                jump,
                utc_seconds_text(at),
            )

    def finished(self) -> list[Reading]:
        """Return the readings finished since the last call, oldest first."""
        for source, counter in self._counters.items():
            for interval in counter.finished():
                self._done[source][interval.start] = interval
        readings: list[Reading] = []
        for quantity, terms in self._quantities.items():
            readings.extend(self._ready(quantity, terms))
        self._prune()
        readings.sort(key=lambda reading: reading.start)
        return readings

    def _ready(self, quantity: str, terms: tuple[Term, ...]) -> list[Reading]:
        done = [self._done[term.source] for term in terms]
        needed = self._needed[quantity]
        newest = max(
            (at for term in terms if (at := self._counters[term.source].newest) is not None),
            default=None,
        )
        start = self._next[quantity]
        if start is None:
            if not any(done) or not all(done[n] for n in needed):
                return []
            # The first quarter every counter has: they may have started at different times.
            firsts = [min(intervals) for intervals in done if intervals]
            if len(firsts) < len(done):  # one has none yet: start without it once it is late
                if not self._late(quantity, newest):
                    return []
                firsts = [min(done[n]) for n in needed] or firsts
            start = max(firsts)
        elif all(start not in intervals for intervals in done):
            # Counters make their quarters in order: one that has only later ones skipped this
            # one for good (a long silence, a clock set back), and so does the quantity.
            later = [q for intervals in done for q in intervals if q > start]
            if later:
                start = min(later)
        meter, name = PROTOCOL_READINGS[quantity]
        ready = []
        while True:
            parts = [intervals.get(start) for intervals in done]
            present = [part for part in parts if part is not None]
            if not present:
                break
            if len(present) < len(parts):
                if any(parts[n] is None for n in needed) or not self._late(quantity, newest):
                    break
            else:
                self._blocked.pop(quantity, None)
            value = sum(
                term.sign * part.kwh for term, part in zip(terms, parts, strict=True) if part
            )
            # The protocol's qualities: a counter's, or "estimated" for what had to be made up.
            quality = max((part.quality for part in present), key=list(Quality).index)
            if value < 0 or len(present) < len(parts):
                value, quality = max(value, 0.0), Quality.ESTIMATED
            ready.append(
                Reading(
                    meter=meter,
                    quantity=name,
                    start=start,
                    end=present[0].end,
                    value=value,
                    quality=quality,
                )
            )
            start = present[0].end
        self._next[quantity] = start
        return ready

    def _late(self, quantity: str, newest: datetime | None) -> bool:
        """Return whether ``quantity`` has waited long enough for a counter; note since when."""
        if newest is None:
            return False
        since = self._blocked.setdefault(quantity, newest)
        return newest - since >= LATE_COUNTER

    def _prune(self) -> None:
        """Forget the quarters every quantity using a counter has taken."""
        for source, intervals in self._done.items():
            users = [
                self._next[quantity]
                for quantity, terms in self._quantities.items()
                if any(term.source == source for term in terms)
            ]
            if any(start is None for start in users):
                # A quantity not started yet may need them all, up to a bound.
                for start in sorted(intervals)[:-MAX_KEPT]:
                    del intervals[start]
                continue
            oldest = min(start for start in users if start is not None)
            for start in [start for start in intervals if start < oldest]:
                del intervals[start]
            for start in sorted(intervals)[:-MAX_KEPT]:
                del intervals[start]

    def as_dict(self) -> dict[str, Any]:
        """Return the state to store with the readings it produced (JSON-ready)."""
        return {
            "counters": {source: counter.as_dict() for source, counter in self._counters.items()},
            "done": {
                source: [interval.as_list() for interval in intervals.values()]
                for source, intervals in self._done.items()
            },
            "next": {
                quantity: start.isoformat()
                for quantity, start in self._next.items()
                if start is not None
            },
            "blocked": {quantity: since.isoformat() for quantity, since in self._blocked.items()},
        }


def live_report(
    model: EnergyModel, powers: Mapping[str, float | None], at: datetime
) -> dict[str, Any] | None:
    """Return the ``live`` part of a batch from powers (W) by source; None when none is known.

    A power the protocol cannot carry is left out, with every figure worked out from it.
    """
    plausible = dict(powers)
    for source, power in powers.items():
        if power is not None and not _plausible_w(power):
            _LOGGER.debug("Live report: %s reads %s W, left out", source, power)
            plausible[source] = None
    report: dict[str, Any] = {}
    for quantity, (field, sign) in LIVE_FIELDS.items():
        # The live report cannot say a figure is estimated: only complete ones go.
        if (estimate := model.estimate(quantity, plausible)) is None or not estimate.complete:
            continue
        value = estimate.value * sign
        if not _plausible_w(value):  # a sum of large powers
            _LOGGER.debug("Live report: %s would be %s W, left out", field, value)
            continue
        report[field] = round(value if field in _SIGNED_LIVE else max(value, 0.0), 1)
    if not report:
        return None
    return {"ts": utc_seconds_text(at), **report}


def _plausible_w(power_w: float) -> bool:
    """Whether a power (W) is a finite number within the protocol's live bounds."""
    return math.isfinite(power_w) and abs(power_w) <= MAX_LIVE_W


def _tagged(source: str, samples: Iterable[Sample]) -> Iterator[tuple[datetime, str, float | None]]:
    for at, value in samples:
        yield at, source, value


def replay(
    model: EnergyModel,
    samples: Mapping[str, Iterable[Sample]],
    start: datetime,
    end: datetime,
) -> list[Reading]:
    """Return the readings of the quarter hours within [start, end), made from past samples.

    ``samples`` holds each counter's values (kWh, None while it had none), oldest first; they
    should begin before ``start`` and go on past ``end``, or the quarters at the edges cannot
    be made. The rules are the live readings' (resets, gaps and their quality).
    """
    readings = HomeReadings(model)
    merged = heapq.merge(
        *(_tagged(source, values) for source, values in samples.items()), key=itemgetter(0)
    )
    made: list[Reading] = []
    for count, (at, source, value) in enumerate(merged, 1):
        readings.add(source, at, value)
        if count % _REPLAY_CHUNK == 0:
            made += readings.finished()
    made += readings.finished()
    return sorted(
        (reading for reading in made if start <= reading.start and reading.end <= end),
        key=lambda reading: reading.start,
    )
