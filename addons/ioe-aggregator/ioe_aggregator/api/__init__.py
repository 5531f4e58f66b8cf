"""The aggregator's HTTP API."""
