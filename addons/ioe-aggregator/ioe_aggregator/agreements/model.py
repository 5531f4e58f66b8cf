"""A sharing agreement as recorded: its name, scheme and the days it holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ioe_aggregator.protocol.messages import utc_text

# The last day a date can be: an open-ended agreement's end, for comparisons.
FOREVER = date.max


@dataclass(frozen=True, kw_only=True)
class Agreement:
    """A recorded agreement (its shares are read when needed)."""

    id: str
    name: str
    scheme: str
    hourly: bool
    year: int | None
    valid_from: date
    valid_to: date | None
    created: datetime
    # Who recorded it (None: before that was kept), and the comparison it was adopted from.
    created_by: str | None = None
    comparison: str | None = None

    @property
    def last_day(self) -> date:
        """The last day in force (``date.max`` while open-ended)."""
        return self.valid_to or FOREVER

    def covers(self, days: NDArray[np.datetime64]) -> NDArray[np.bool_]:
        """Return whether the agreement is in force on each of some local days (datetime64[D])."""
        return (days >= np.datetime64(self.valid_from)) & (days <= np.datetime64(self.last_day))

    def as_dict(self) -> dict[str, Any]:
        """Return the agreement as the API and ``agreements show --json`` give it."""
        return {
            "id": self.id,
            "name": self.name,
            "scheme": self.scheme,
            "kind": "hourly" if self.hourly else "static",
            "year": self.year,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "created": utc_text(self.created),
            "created_by": self.created_by,
            "comparison": self.comparison,
        }
