"""Small communities whose every figure can be checked by hand."""

from __future__ import annotations

import pandas as pd

from ioe_aggregator.sharing.model import Member


def hours(count: int, start: str = "2025-06-02 10:00") -> pd.DatetimeIndex:
    """Return ``count`` hourly UTC starts from ``start`` (UTC)."""
    return pd.date_range(pd.Timestamp(start, tz="UTC"), periods=count, freq="h", name="start")


def member(
    member_id: str, *, power: float = 3.45, investment: float = 1000.0, vulnerable: bool = False
) -> Member:
    """Return a member with a valid CUPS derived from its id."""
    from stdnum.es import cups  # noqa: PLC0415 - test helper

    base = f"ES0021{sum(map(ord, member_id)):012d}"[:18]
    return Member(
        member_id=member_id,
        cups=base + cups.calc_check_digits(base),
        contracted_power_kw=power,
        investment_eur=investment,
        vulnerable=vulnerable,
    )
