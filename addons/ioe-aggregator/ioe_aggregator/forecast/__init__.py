"""The plant's generation and each member's allocation for the coming hours.

Pure functions over pandas/numpy data (pvlib for the clear sky); no I/O, no store: the results
engine reads the history and the agreements and publishes what these return.
"""

from ioe_aggregator.forecast.allocation import allocated_forecast
from ioe_aggregator.forecast.generation import HISTORY_DAYS, HORIZON_HOURS, forecast_generation
from ioe_aggregator.forecast.model import GenerationForecast, Site, WeatherForecast

__all__ = [
    "HISTORY_DAYS",
    "HORIZON_HOURS",
    "GenerationForecast",
    "Site",
    "WeatherForecast",
    "allocated_forecast",
    "forecast_generation",
]
