"""Community members without Home Assistant, running the integration's own ``link/`` library.

A simulated member has energy counters (kWh, as its meters would count them) that follow hourly
energies. Sampled every minute, they go through what a real home runs: ``HomeReadings`` makes
the quarter hours, each finished quarter goes into the member's ``Outbox`` with the counters'
checkpoint, and a ``LinkClient`` sends the outbox to the community's broker and the live power
every 10 seconds. The demo runs the community's other members this way
(``python -m ioe_dev.simulated_member``), each sending its month so far when it starts;
``scripts/bench link`` drains a day's backlog with it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
import json
import logging
import math
from pathlib import Path
import signal
import sys
import time
from types import FrameType
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from custom_components.ioe_community.devices.energy_model import EnergyModel, Term
from custom_components.ioe_community.link.client import LinkClient, LinkSettings, new_client_suffix
from custom_components.ioe_community.link.intervals import QUARTER, quarter_ceil
from custom_components.ioe_community.link.join_code import JoinCode, decode
from custom_components.ioe_community.link.outbox import Outbox
from custom_components.ioe_community.link.protocol import live_batch, reading_batches
from custom_components.ioe_community.link.readings import HomeReadings, live_report
from ioe_aggregator.forecast import HISTORY_DAYS
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_dev.synthetic import make_community

_LOGGER = logging.getLogger(__name__)
MINUTE: Final = timedelta(minutes=1)
LIVE_EVERY: Final = timedelta(seconds=10)
# Each energy quantity's power quantity, with the sign the energy model gives it.
POWER_OF: Final[Mapping[str, tuple[str, int]]] = {
    "grid_import_energy": ("grid_power", 1),
    "grid_export_energy": ("grid_power", -1),
    "pv_energy": ("pv_power", 1),
    "battery_charge_energy": ("battery_power", 1),
    "battery_discharge_energy": ("battery_power", -1),
    "ev_energy": ("ev_power", 1),
    "plant_energy": ("plant_power", 1),
}
# When the demo starts, each member's month so far goes a day a batch.
HISTORY_BATCH: Final = timedelta(days=1)
# Whole weeks: a profile moved by them keeps its weekdays.
_YEAR_OF_WEEKS: Final = timedelta(weeks=52)


class Counters:
    """Energy counters following hourly energies (kWh): linear within each hour.

    ``hourly`` has one column per energy quantity of the energy model, on whole UTC hours; a
    counter reads the energy from the first hour on.
    """

    def __init__(self, hourly: pd.DataFrame) -> None:
        """Count the hourly energies of each column."""
        self.quantities = tuple(str(column) for column in hourly.columns)
        self._start = hourly.index[0].to_pydatetime()
        self._kwh = hourly.to_numpy(dtype=float)
        self._total = np.vstack([np.zeros(len(self.quantities)), np.cumsum(self._kwh, axis=0)])

    def _hour(self, at: datetime) -> tuple[int, float]:
        hours = (at - self._start).total_seconds() / 3600
        hour = min(max(math.floor(hours), 0), len(self._kwh) - 1)
        return hour, min(max(hours - hour, 0.0), 1.0)

    def energy(self, at: datetime) -> dict[str, float]:
        """Return each counter's value (kWh) at ``at``."""
        hour, fraction = self._hour(at)
        values = self._total[hour] + fraction * self._kwh[hour]
        return dict(zip(self.quantities, values.tolist(), strict=True))

    def power(self, at: datetime) -> dict[str, float]:
        """Return each power quantity (W) at ``at``: its hour's mean, signed as the model does."""
        hour, _ = self._hour(at)
        powers: dict[str, float] = {}
        for quantity, kwh in zip(self.quantities, self._kwh[hour].tolist(), strict=True):
            power, sign = POWER_OF[quantity]
            powers[power] = powers.get(power, 0.0) + sign * kwh * 1000
        return powers

    def model(self) -> EnergyModel:
        """Return the energy model of a home measuring these counters and their powers."""
        powers = {POWER_OF[quantity][0] for quantity in self.quantities}
        return EnergyModel(
            terms={name: (Term(source=name),) for name in (*self.quantities, *sorted(powers))}
        )


def moved_to(hourly: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Return a year of hourly energies moved by whole weeks so that it covers ``now``."""
    years = (now - hourly.index[0].to_pydatetime()) // _YEAR_OF_WEEKS
    return hourly.set_axis(hourly.index + years * _YEAR_OF_WEEKS)


class SimulatedMember:
    """One member's home: counters → quarter hours → outbox → the community's broker."""

    def __init__(
        self, code: JoinCode, directory: Path, counters: Counters, *, version: str = "simulated"
    ) -> None:
        """Open the member's outbox in ``directory``, going on from its checkpoint."""
        self.member = code.member
        self.counters = counters
        self.model = counters.model()
        directory.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(directory / f"{code.member}.outbox.db")
        checkpoint = self.outbox.checkpoint()
        self.readings = HomeReadings(self.model, json.loads(checkpoint) if checkpoint else None)
        settings = LinkSettings.from_join_code(code, version, new_client_suffix())
        self.client = LinkClient(settings, self.outbox)

    def sample(self, at: datetime) -> None:
        """Read every counter at ``at`` (a time the counters have passed is ignored)."""
        for quantity, value in self.counters.energy(at).items():
            self.readings.add(quantity, at, value)

    def keep(self, now: datetime) -> int:
        """Put the quarters finished so far in the outbox; return how many readings."""
        finished = self.readings.finished()
        batches = reading_batches(self.member, finished, now)
        checkpoint = json.dumps(self.readings.as_dict())
        for number, (batch, payload) in enumerate(batches):
            last = number == len(batches) - 1
            self.outbox.put(batch, payload, now, checkpoint=checkpoint if last else None)
        return len(finished)

    def catch_up(self, since: datetime, until: datetime, *, keep_every: timedelta = QUARTER) -> int:
        """Sample every minute from ``since`` to ``until``, keeping the quarters that ended.

        Kept every quarter hour, it is what a home that was cut off meanwhile has in its
        outbox: a batch per quarter hour. Kept every day, it is a history sent when the home
        joined, a batch a day (a month of quarters would overflow the outbox). Whatever ended
        by ``until`` is kept. Return the number of readings kept.
        """
        kept = 0
        at = since.replace(second=0, microsecond=0)
        boundary = quarter_ceil(at)
        while at <= until:
            self.sample(at)
            if at >= boundary:
                kept += self.keep(at)
                boundary += keep_every
            at += MINUTE
        return kept + self.keep(until)

    def send_live(self, at: datetime) -> None:
        """Send the power now (not kept: a live report is worth nothing later)."""
        if (report := live_report(self.model, self.counters.power(at), at)) is not None:
            self.client.send_live(*live_batch(self.member, report, at))


def demo_members(
    credentials: Path, directory: Path, skip: Iterable[str], plant_at: str, now: datetime
) -> list[SimulatedMember]:
    """Return the demo community's members but ``skip``, on the synthetic community's year.

    Each one imports its synthetic consumption; ``plant_at`` also meters the plant.
    """
    codes = {
        member: decode(text)
        for member, text in json.loads(credentials.read_text())["join_codes"].items()
    }
    synthetic = make_community(len(codes))
    members = []
    for member in sorted(set(codes) - set(skip)):
        hourly = pd.DataFrame({"grid_import_energy": synthetic.consumption_kwh[member]})
        if member == plant_at:
            hourly["plant_energy"] = synthetic.generation_kwh
        members.append(SimulatedMember(codes[member], directory, Counters(moved_to(hourly, now))))
    return members


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the demo community's other members until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m ioe_dev.simulated_member")
    parser.add_argument("--credentials", type=Path, required=True, help="the demo's join codes")
    parser.add_argument("--state", type=Path, required=True, help="where the outboxes live")
    parser.add_argument("--skip", action="append", default=[], help="a member run elsewhere")
    parser.add_argument("--plant-at", required=True, help="the member whose site has the plant")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    now = datetime.now(UTC)
    members = demo_members(args.credentials, args.state, args.skip, args.plant_at, now)
    # As if the homes had been sending since the month began (the results count the month,
    # and the plant's output with it, at any hour), and for the days the forecast of the
    # members' shares learns from: what they have not sent yet goes now.
    local = now.astimezone(ZoneInfo(DEFAULT_TZ))
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = min(month_start.astimezone(UTC), now - timedelta(days=HISTORY_DAYS))
    for member in members:
        kept = member.catch_up(since, now, keep_every=HISTORY_BATCH)
        member.client.start()
        _LOGGER.info("%s: %d readings of this month kept to send", member.member, kept)
    try:
        while True:
            time.sleep(LIVE_EVERY.total_seconds() - datetime.now(UTC).second % 10)
            now = datetime.now(UTC)
            for member in members:
                member.send_live(now)
                if now.second < LIVE_EVERY.total_seconds():  # once a minute
                    member.sample(now.replace(second=0, microsecond=0))
                    if member.keep(now):
                        member.client.drain()
    except KeyboardInterrupt:
        pass
    finally:
        for member in members:
            member.client.stop()
            member.outbox.save_checkpoint(json.dumps(member.readings.as_dict()))
            member.outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
