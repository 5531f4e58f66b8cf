"""IoE Community aggregator: the energy community's own service."""

__version__ = "0.1.0"
