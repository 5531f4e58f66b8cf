"""The inputs of a comparison: members, and hourly energy series on one UTC index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# How far from 1 an hour's β may sum when it is used.
SUM_TOLERANCE = 1e-9


@dataclass(frozen=True, kw_only=True)
class Member:
    """A member of the community, as the sharing agreement knows it."""

    member_id: str
    cups: str
    contracted_power_kw: float
    investment_eur: float
    vulnerable: bool = False
    # The share of the plant the agreement guarantees and allows this member (its own rule).
    min_share: float = 0.0
    max_share: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Coefficients:
    """Sharing coefficients β: one per member (static) or one per member and hour.

    ``values`` is a Series indexed by member id (static) or a DataFrame indexed by the hours'
    UTC start with one column per member (hourly). Every hour sums to 1.
    """

    scheme: str
    values: pd.Series | pd.DataFrame
    # How a learning scheme chose among its own options (for the report); empty otherwise.
    fit: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_static(self) -> bool:
        """Whether one β per member holds for every hour."""
        return isinstance(self.values, pd.Series)

    def hourly(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Return β for each hour of ``index`` (members as columns)."""
        if isinstance(self.values, pd.Series):
            return pd.DataFrame(
                np.tile(self.values.to_numpy(), (len(index), 1)),
                index=index,
                columns=self.values.index,
            )
        return self.values.reindex(index)
