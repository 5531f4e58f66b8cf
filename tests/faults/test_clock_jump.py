"""A home's clock jumping: every quarter the home made stored once, none refused, none stuck.

Homes here are the integration's own readings (``HomeReadings`` on a grid import counter
sampled each minute, as Home Assistant does), outbox keeper and link client, on the real TLS
broker and aggregator; only their clock is made up:

- one runs two hours ahead for an hour, then the network's time sets it back: the quarters it
  made while ahead stay (once), none holds the hours the clock caught up (a lump the
  aggregator would leave out as more than the contract lets through), and the readings go on
  once the clock is past them;
- one starts in 1970 (a computer without a battery-backed clock, before the network sets it):
  nothing is made until the clock is right, so nothing the aggregator must refuse for ever
  sits in its outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

from custom_components.ioe_community.devices.energy_model import EnergyModel, Term
from custom_components.ioe_community.link.client import LinkClient
from custom_components.ioe_community.link.keeper import OutboxKeeper
from custom_components.ioe_community.link.outbox import Outbox
from custom_components.ioe_community.link.protocol import Reading
from custom_components.ioe_community.link.readings import HomeReadings
from tests.community import Community, StartAggregator, home_settings, start_service, stored_rows

from .platform import DAY, wait

MINUTE = timedelta(minutes=1)
HOURS = 12
IMPORT = EnergyModel(terms={"grid_import_energy": (Term(source="sensor.import"),)})
# The homes joined a month before the day they send.
JOINED = DAY - timedelta(days=30)


def home_day(outbox: Outbox, member: str, clock: Callable[[datetime], datetime]) -> list[Reading]:
    """Sample a 1 kW import counter each minute of ``HOURS`` of the day by ``clock``.

    Keep what is finished in the outbox each minute, as the integration does; return it.
    """
    readings = HomeReadings(IMPORT, not_before=JOINED)
    keeper = OutboxKeeper(outbox, member)
    made: list[Reading] = []
    for minute in range(-30, HOURS * 60 + 1):
        real = DAY + minute * MINUTE
        at = clock(real)
        readings.add("sensor.import", at, 100.0 + minute / 60)
        finished = readings.finished()
        made += finished
        keeper.keep(finished, json.dumps(readings.as_dict()), at)
    return made


def ahead_for_an_hour(real: datetime) -> datetime:
    """Two hours ahead from 06:00 to 07:00, then set back by the network's time."""
    wrong = DAY + timedelta(hours=6) <= real < DAY + timedelta(hours=7)
    return real + timedelta(hours=2) if wrong else real


def from_1970(real: datetime) -> datetime:
    """Return the time of a clock that starts in 1970 until the network sets it, at midnight."""
    return datetime(1970, 1, 1, tzinfo=UTC) + (real - DAY) if real < DAY else real


def test_a_homes_clock_jumping_loses_no_quarter_it_made(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    codes = {member: community.add_member(member) for member in ("m-0001", "m-0002")}
    outboxes = {member: Outbox(tmp_path / f"{member}.db") for member in codes}
    made = {
        "m-0001": home_day(outboxes["m-0001"], "m-0001", ahead_for_an_hour),
        "m-0002": home_day(outboxes["m-0002"], "m-0002", from_1970),
    }
    service, _port = start_service(community, start_aggregator)
    links = [
        LinkClient(home_settings(codes[member]), outbox, resend_after_s=3)
        for member, outbox in outboxes.items()
    ]
    for link in links:
        link.start()
    try:
        wait(
            lambda: all(outbox.state().batches == 0 for outbox in outboxes.values()),
            60,
            "every batch acknowledged",
        )
    finally:
        for link in links:
            link.stop()

    stored: dict[str, dict[tuple[str, int], float]] = {member: {} for member in made}
    for member, _meter, quantity, start_s, value, _changes in stored_rows(community):
        assert (quantity, start_s) not in stored[member]
        stored[member][quantity, start_s] = value
    for member, readings in made.items():
        assert stored[member] == {
            (str(r.quantity), int(r.start.timestamp())): round(r.value, 6) for r in readings
        }, member  # (the protocol carries watt-hour thousandths)
    log = service.log_file.read_text()
    assert "Refused" not in log
    assert "Left" not in log  # nothing left out as more than a meter can measure

    imports = {
        member: {
            datetime.fromtimestamp(start_s, UTC): value
            for (quantity, start_s), value in rows.items()
            if quantity == "import_kwh"
        }
        for member, rows in stored.items()
    }
    quarters = [DAY + n * 15 * MINUTE for n in range(-2, HOURS * 4)]  # from 23:30
    # Ahead: every quarter once; the hour it ran ahead in the quarters it claimed.
    assert sorted(imports["m-0001"]) == quarters
    assert max(imports["m-0001"].values()) < 0.25 + 1e-9
    assert abs(sum(imports["m-0001"][q] for q in quarters[34:38]) - 1.0) < 1e-6  # 08:00-09:00
    # From 1970: nothing before midnight, every quarter after it.
    assert sorted(imports["m-0002"]) == quarters[2:]
    assert all(abs(value - 0.25) < 1e-9 for value in imports["m-0002"].values())
