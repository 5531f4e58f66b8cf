"""Energy charged since a car was plugged in, counted on the charger's own total counter.

A charger's session counter may not start again when a car is plugged in: a KEBA's register
1502 keeps the last session's energy until the car starts charging again, so it shows the
previous session for a while. The session is counted here instead: the charger's total (kWh)
when a car was plugged in is kept, and the session's energy is the total now minus that. The
last session's energy stays until the next car is plugged in.

Pure data: ``as_dict`` / ``from_dict`` keep what a restart must not lose (the total at plug-in),
so a session goes on across a restart of whatever runs this.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

# The counters' resolution is at best 0.1 Wh: differences are rounded well below it, so that
# 20003.5 - 20000.0 reads 3.5, not 3.4999999999985448.
_DIGITS: Final = 6


@dataclass(frozen=True, kw_only=True)
class PlugInSession:
    """What is known of the current (or last) session: all energies in kWh.

    ``connected``: a car was plugged in at the last reading; ``start_kwh``: the total counter
    when it was plugged in (None before any car was seen plugged in); ``energy_kwh``: energy
    charged since then, kept after the car is unplugged.
    """

    connected: bool = False
    start_kwh: float | None = None
    energy_kwh: float | None = None

    def follow(self, *, connected: bool | None, total_kwh: float | None) -> PlugInSession:
        """Return the session after one reading of the charger; an unknown reading changes nothing.

        A car seen plugged in for the first time (no session kept from before) starts a
        session at that reading: what it charged before that is not counted.
        """
        if connected is None or total_kwh is None:
            return self
        if not connected:
            return replace(self, connected=False)
        if not self.connected or self.start_kwh is None or total_kwh < self.start_kwh:
            # Plugged in now; or the counter went back (a replaced or reset charger): start again.
            return PlugInSession(connected=True, start_kwh=total_kwh, energy_kwh=0.0)
        return replace(self, energy_kwh=round(total_kwh - self.start_kwh, _DIGITS))

    def as_dict(self) -> dict[str, Any]:
        """Return the session as JSON-able data."""
        return {
            "connected": self.connected,
            "start_kwh": self.start_kwh,
            "energy_kwh": self.energy_kwh,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlugInSession:
        """Return the session ``as_dict`` gave; anything unreadable is no session."""
        try:
            connected = data["connected"]
            start, energy = data["start_kwh"], data["energy_kwh"]
        except KeyError, TypeError:
            return cls()
        numbers = all(v is None or isinstance(v, int | float) for v in (start, energy))
        if not isinstance(connected, bool) or not numbers:
            return cls()
        return cls(
            connected=connected,
            start_kwh=None if start is None else float(start),
            energy_kwh=None if energy is None else float(energy),
        )
