"""The demo community: a broker, the aggregator and a home's Home Assistant on this machine."""
