"""Import and export counters made from a net energy counter, balanced across phases.

A Spanish distributor's meter, like Tasmota's ``TodaySumImport``/``TodaySumExport``, balances
its phases: one phase exporting what another imports at the same moment is neither import nor
export. Meters that count each phase on its own (a Shelly Pro 3EM's ``total_act`` and
``total_act_ret``, a Shelly 3EM Gen1's per-phase totals) inflate both for a three-phase home
with single-phase PV, yet their net (import − export) is the balanced meter's. Counting each
change of the net between two messages as import when it grows and as export when it falls
gives balanced counters, to the resolution of the messages (a minute for a Shelly's energy
data, Tasmota's TelePeriod).

Tasmota's ``Total`` is such a net counter already wherever Tasmota integrates the power itself
(a Shelly EM or 3EM running Tasmota, a PZEM): it runs back while the home exports.

The counters start at zero and go on across restarts of Home Assistant (``as_dict``,
``from_dict``): the net's change while it was down is counted at the first message after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(kw_only=True)
class BalancedCounters:
    """Balanced import and export (kWh) counted from a net counter's changes."""

    import_kwh: float = 0.0
    export_kwh: float = 0.0
    net: float | None = None  # the net counter's last value: what its next change counts from
    daily: tuple[float, float] | None = None  # the daily counters' last import and export

    def add_net(self, net: float, *, restarted: bool = False) -> None:
        """Count the net counter's change since its last value.

        ``restarted``: the counter was reset (Tasmota's ``TotalStartTime`` changed, a gross
        counter went down); its new value is only the baseline.
        """
        if self.net is not None and not restarted:
            self._count(net - self.net)
        self.net, self.daily = net, None

    def add_daily(
        self,
        imported: float,
        exported: float,
        net: float | None,
        *,
        restarted: bool = False,
        new_day: bool = False,
    ) -> None:
        """Count the growth of daily balanced counters (Tasmota's ``TodaySum*``).

        They restart at midnight (``new_day``: the message is of another day than the last)
        and whenever the device does (they go down): that interval counts the net counter's
        change instead, unless the net counter was reset too (``restarted``).
        """
        if (
            self.daily is not None
            and not new_day
            and imported >= self.daily[0]
            and exported >= self.daily[1]
        ):
            self.import_kwh += imported - self.daily[0]
            self.export_kwh += exported - self.daily[1]
        elif self.net is not None and net is not None and not restarted:
            self._count(net - self.net)
        self.daily, self.net = (imported, exported), net

    def _count(self, change: float) -> None:
        if change >= 0:
            self.import_kwh += change
        else:
            self.export_kwh -= change

    def values(self) -> dict[str, float]:
        """Return the counters as a meter's import and export energies (kWh)."""
        return {
            "import_energy": round(self.import_kwh, 6),
            "export_energy": round(self.export_kwh, 6),
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as stored (JSON-ready)."""
        return {
            "import_kwh": self.import_kwh,
            "export_kwh": self.export_kwh,
            "net": self.net,
            "daily": list(self.daily) if self.daily is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BalancedCounters:
        """Return the counters ``as_dict`` stored."""
        daily = data.get("daily")
        return cls(
            import_kwh=float(data["import_kwh"]),
            export_kwh=float(data["export_kwh"]),
            net=None if data.get("net") is None else float(data["net"]),
            daily=(float(daily[0]), float(daily[1])) if daily else None,
        )
