"""Simulated devices that behave physically: a home whose batteries and charger obey setpoints.

A ``Home`` moves a simulated clock forward with ``advance(seconds)`` (never the wall clock):
its PV and house load (fixed values, or callables of the local time) meet the devices added to
it, in the order they were added, and what is left flows through the grid meter. Each device
serves its registers as a real one does (``units``, for ``ModbusTestServer``), checks writes as
the vendor documents them, and reports what it actually does, so that a controller reading the
meter sees the consequence of its commands.

The register addresses come from the vendors' documents as collected in the research notes for
issue 23 (``.scratch/issue23/batteries.md`` and ``chargers.md``), not from the integration's
profiles, so a wrong profile is caught; only measurements the integration reads already and
the notes do not cover are laid out through its profiles (``write_values``). Tags in comments:
[doc] vendor document, [impl] two or more implementations agree, [field] one user report,
[assumed] no source found, chosen here.

Powers are in W, positive when a device draws from the home (a battery charging, a car);
``Home.grid_w`` is positive while importing.
"""

from .home import Cells, Device, Home, Power, write_values
from .huawei import HuaweiBattery
from .keba import Car, KebaCharger
from .meter import GridMeter
from .sunspec import SunSpecStorage
from .victron import VictronEss

__all__ = [
    "Car",
    "Cells",
    "Device",
    "GridMeter",
    "Home",
    "HuaweiBattery",
    "KebaCharger",
    "Power",
    "SunSpecStorage",
    "VictronEss",
    "write_values",
]
