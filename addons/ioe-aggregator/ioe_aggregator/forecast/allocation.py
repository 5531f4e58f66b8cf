"""Each member's share of the plant's forecast, by the agreement in force each hour."""

from __future__ import annotations

import pandas as pd

from ioe_aggregator.forecast.model import GenerationForecast


def allocated_forecast(generation: GenerationForecast, beta: pd.DataFrame) -> pd.DataFrame:
    """Return each member's allocated energy for the forecast's hours: β × the plant's (kWh).

    Parameters
    ----------
    generation : GenerationForecast
        The plant's forecast.
    beta : pd.DataFrame
        β per hour (rows: UTC hour starts) and member (columns), as the agreements give it. An
        hour that is missing or NaN shares nothing (no agreement in force), as in the results;
        a member who joins later has β = 0 before.

    Returns
    -------
    pd.DataFrame
        Rows: the forecast's hours; columns: (member, ``kwh`` | ``kwh_p10`` | ``kwh_p90``), so
        that ``frame[member]`` is the member's hours as the forecast topic lists them. β ≥ 0
        scales quantiles: a member's P10 is β × the plant's P10.

    """
    shares = beta.reindex(generation.hours).fillna(0.0)
    if (shares.to_numpy() < 0).any():
        raise ValueError("β must be ≥ 0")
    plant = generation.frame()
    values = shares.to_numpy()[:, :, None] * plant.to_numpy()[:, None, :]
    return pd.DataFrame(
        values.reshape(len(plant), -1),
        index=plant.index,
        columns=pd.MultiIndex.from_product([shares.columns, plant.columns], names=["member", None]),
    )
