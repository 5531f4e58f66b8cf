"""Sensor descriptions and classes: meters, inverters, batteries, chargers, community results."""
