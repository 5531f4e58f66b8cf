"""A feed's quarter-hour figures as energy (kWh), and what could not be counted.

A power feed's quarter is its mean power over the quarter (emoncms' own average, of the samples
it holds) for a quarter hour; a negative mean (an inverter's standby draw at night, a meter
that reads export as negative power) counts as none of the measure. A cumulative counter's
quarter is its value as the next quarter begins less its value as this one begins: a value
missing at either end leaves the quarter out (``missing``), and so does a fall (the counter was
reset or replaced: ``resets``), rather than invent or lose energy across it. A feed logged
every half hour or hour is read at its own interval and each interval's energy shared equally
among its quarters: such readings are estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import itertools

from ioe_aggregator.distributor.timeline import HOUR, QUARTER_HOUR as QUARTER
from ioe_aggregator.emoncms.feeds import Kind


@dataclass(kw_only=True)
class Energies:
    """Each quarter's kWh (by its start), and the quarters left out and why."""

    kwh: dict[datetime, float] = field(default_factory=dict)
    missing: int = 0
    resets: int = 0


def energies(
    kind: Kind, start: datetime, values: Sequence[float | None], *, step: timedelta = QUARTER
) -> Energies:
    """Return the energy of the quarters from ``start`` given each ``step``'s figure.

    A counter's figures run one past the last step (its end's value). A step of several
    quarters (a feed logged every half hour or hour) gives each of them an equal part.
    """
    found = Energies()
    parts = int(step / QUARTER)

    def spread(n: int, kwh: float) -> None:
        for part in range(parts):
            found.kwh[start + n * step + part * QUARTER] = kwh / parts

    if not kind.cumulative:
        for n, value in enumerate(values):
            if value is None:
                found.missing += parts
            else:
                spread(n, max(value, 0.0) * kind.to_kwh * step / HOUR)
        return found
    for n, (begins, ends) in enumerate(itertools.pairwise(values)):
        if begins is None or ends is None:
            found.missing += parts
        elif ends < begins:
            found.resets += parts
        else:
            spread(n, (ends - begins) * kind.to_kwh)
    return found
