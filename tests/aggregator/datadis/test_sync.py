"""The Datadis sync against the fake: backfill, daily refresh, the ledger's 24-hour rule, errors.

Each run is given the time it runs at; the fake's clock moves with it, so days are replayed
without waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import time as time_module
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from ioe_aggregator.datadis.client import DatadisClient
from ioe_aggregator.datadis.ledger import Ledger
from ioe_aggregator.datadis.sync import MAX_ATTEMPTS, DatadisSync, SyncReport
from ioe_aggregator.distributor.model import SOURCE
from ioe_aggregator.members.registry import Member
from ioe_aggregator.store import Store
from ioe_dev.fake_datadis import FakeDatadis, FakeSupply, curve_rows, energy_kwh

from ..conftest import make_cups, register_members
from .conftest import MANAGER, NOW, OWNER, OWNER_QUARTERS, PASSWORD, STRANGER, Clock

MADRID = ZoneInfo("Europe/Madrid")
HOUR = timedelta(hours=1)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), MADRID).astimezone(UTC)


@dataclass
class Community:
    """Four linked members in the store, the fake, and the time both live in."""

    store: Store
    fake: FakeDatadis
    clock: Clock
    session: aiohttp.ClientSession
    server: TestServer
    members: list[Member]

    def client(self, password: str = PASSWORD) -> DatadisClient:
        """Return a client of the fake, logging in with ``password``."""
        return DatadisClient(
            self.session, MANAGER, password, base_url=str(self.server.make_url("/"))
        )

    async def run(
        self,
        at: datetime,
        *,
        wait_s: float = 0.0,
        on_stored: Callable[[], None] | None = None,
        **options: Any,
    ) -> SyncReport:
        """Sync at ``at`` (the fake's clock too, unless the test set it ahead)."""
        self.clock.now = max(self.clock.now, at.timestamp())
        sync = DatadisSync(
            self.store,
            self.client(),
            MADRID,
            pause_s=0,
            wait_s=wait_s,
            clock=lambda: at,
            on_stored=on_stored,
        )
        return await sync.run(self.members, **options)


@pytest.fixture
async def community(
    store: Store,
    fake: FakeDatadis,
    clock: Clock,
    session: aiohttp.ClientSession,
    server: TestServer,
) -> Community:
    """Return m-1 … m-4 registered and linked: m-2's owner has not authorised the manager."""
    members = await register_members(store, {f"m-{n}": make_cups(n) for n in range(1, 5)})
    ledger = Ledger(store)
    for member, nif in (("m-1", OWNER), ("m-2", STRANGER), ("m-3", None), ("m-4", OWNER_QUARTERS)):
        await ledger.link(member, nif, NOW)
    return Community(store, fake, clock, session, server, members)


def consumption_months(fake: FakeDatadis, since: int = 0) -> set[tuple[str, str]]:
    """Return (CUPS, month) of the consumption queries logged from ``since`` on."""
    return {
        (dict(q.parameters)["cups"], dict(q.parameters)["startDate"])
        for q in fake.log[since:]
        if q.endpoint == "get-consumption-data-v2"
    }


async def test_first_sync_backfills_every_available_month(community: Community) -> None:
    report = await community.run(NOW)

    by_member = {m.member: m for m in report.members}
    # m-1: March 2025 (the contract's first month) fails as Datadis does; April 2025 to now stored.
    assert by_member["m-1"].status == "ok"
    assert len(by_member["m-1"].months) == 20
    assert any("2025-03" in problem for problem in by_member["m-1"].problems)
    assert by_member["m-2"].status == "not_authorized"
    assert len(by_member["m-3"].months) == 24  # the last two years
    assert community.fake.repeated_within_a_day() == []
    # Every hour Datadis had (published two days late) is stored once, DST days included.
    first, end = local_midnight(date(2025, 4, 1)), local_midnight(date(2026, 11, 19))
    stored = await community.store.readings("m-1", first, end, source=SOURCE)
    imports = [s.reading for s in stored if s.reading.quantity == "import_kwh"]
    assert len(imports) == (end - first) // HOUR
    assert {r.end - r.start for r in imports} == {HOUR}
    supply = community.fake.supplies[0]
    assert sum(r.value for r in imports) == pytest.approx(
        sum(energy_kwh(supply, r.start, HOUR) for r in imports)
    )
    assert {r.quality for r in imports} == {"measured", "estimated"}
    # No self-consumption values were stored for a supply whose answers carry only zeros.
    assert {s.reading.quantity for s in stored} == {"import_kwh"}


async def test_quarter_hours_where_the_point_type_has_them(community: Community) -> None:
    await community.run(NOW, only="m-4")

    october = await community.store.readings(
        "m-4", local_midnight(date(2026, 10, 1)), local_midnight(date(2026, 11, 1)), source=SOURCE
    )
    assert len(october) == (31 * 24 + 1) * 4  # 25 October 2026 has 25 hours
    assert {s.reading.end - s.reading.start for s in october} == {timedelta(minutes=15)}
    assert all(
        dict(q.parameters).get("measurementType") == "1"
        for q in community.fake.log[1:]
        if q.endpoint == "get-consumption-data-v2"
    )


async def test_daily_runs_refresh_recent_months_and_never_repeat_a_query_within_a_day(
    community: Community,
) -> None:
    await community.run(NOW)
    asked = len(community.fake.log)

    await community.run(NOW + timedelta(hours=3))
    assert len(community.fake.log) == asked  # everything due was asked less than 24 hours ago

    tomorrow = NOW + timedelta(days=1, minutes=1)
    await community.run(tomorrow)

    assert consumption_months(community.fake, asked) == {
        (make_cups(1), "2026/11"),
        (make_cups(1), "2026/10"),
        (make_cups(1), "2025/03"),  # failed yesterday: asked again
        (make_cups(3), "2026/11"),
        (make_cups(3), "2026/10"),
        (make_cups(4), "2026/11"),
        (make_cups(4), "2026/10"),
        (make_cups(4), "2026/09"),
    }
    assert {q.endpoint for q in community.fake.log[asked:]} == {
        "get-consumption-data-v2",
        "get-supplies-v2",  # m-2's owner may have authorised the manager since
    }
    assert community.fake.repeated_within_a_day() == []
    # The new day's data (19 November) arrived.
    day = await community.store.readings(
        "m-3", local_midnight(date(2026, 11, 19)), local_midnight(date(2026, 11, 20)), source=SOURCE
    )
    assert len(day) == 24


async def test_each_member_whose_data_changed_is_announced(community: Community) -> None:
    """The service publishes the results when told (``on_stored``): only for new data."""
    announced: list[str] = []

    first = await community.run(NOW, on_stored=lambda: announced.append("first"))
    again = await community.run(NOW + timedelta(hours=3), on_stored=lambda: announced.append("x"))
    # A month asked again a day later whose values are the same: nothing new to publish.
    june = (date(2025, 6, 1), date(2025, 6, 1))
    same = await community.run(
        NOW + timedelta(days=1, minutes=1),
        only="m-3",
        months=june,
        on_stored=lambda: announced.append("same"),
    )

    assert {m.member: m.stored > 0 for m in first.members} == {
        "m-1": True,
        "m-2": False,  # not authorised: nothing stored
        "m-3": True,
        "m-4": True,
    }
    assert announced == ["first"] * 3
    assert [m.queries for m in again.members] == [0, 0, 0, 0]
    assert [(m.member, m.queries, m.stored) for m in same.members] == [("m-3", 1, 0)]


async def test_a_month_that_keeps_failing_is_left_after_its_attempts(community: Community) -> None:
    for day in range(MAX_ATTEMPTS + 1):
        at = NOW + timedelta(days=day, minutes=day)
        since = len(community.fake.log)
        await community.run(at, only="m-1")
        asked_march = (make_cups(1), "2025/03") in consumption_months(community.fake, since)
        assert asked_march == (day < MAX_ATTEMPTS)

    months = await Ledger(community.store).months("m-1")
    assert months["2025-03"].attempts == MAX_ATTEMPTS
    assert months["2025-03"].outcome == "temporary"

    # The manager asks for it anyway: asked again (a day after the last time).
    at = NOW + timedelta(days=MAX_ATTEMPTS + 1, hours=1)
    since = len(community.fake.log)
    await community.run(at, only="m-1", months=(date(2025, 3, 1), date(2025, 3, 1)))
    assert consumption_months(community.fake, since) == {(make_cups(1), "2025/03")}


async def test_a_random_failure_is_retried_the_next_day(community: Community) -> None:
    community.fake.failures.add((make_cups(3), "2025/06"))

    await community.run(NOW, only="m-3")
    june = (local_midnight(date(2025, 6, 1)), local_midnight(date(2025, 7, 1)))
    assert await community.store.readings("m-3", *june, source=SOURCE) == []
    tomorrow = NOW + timedelta(days=1, minutes=1)
    await community.run(tomorrow, only="m-3")

    assert len(await community.store.readings("m-3", *june, source=SOURCE)) == 30 * 24
    assert (await Ledger(community.store).months("m-3"))["2025-06"].complete


async def test_a_refused_login_stops_the_sync_and_is_recorded(community: Community) -> None:
    client = community.client(password="wrong")

    report = await DatadisSync(community.store, client, MADRID, clock=lambda: NOW).run(
        community.members
    )

    assert report.login_refused is not None
    assert "wrong NIF or password" in report.login_refused
    assert community.fake.log == []
    login = await Ledger(community.store).login_state()
    assert login is not None
    assert login[1] == "refused"


async def test_contract_detail_is_kept(community: Community) -> None:
    await community.run(NOW, only="m-1")

    link = next(link for link in await Ledger(community.store).links() if link.member == "m-1")
    assert link.contract is not None
    assert link.contract["cau"] == make_cups(1) + "A001"
    assert link.contract["partition_coefficient"] == pytest.approx(0.125)
    assert link.supply is not None
    assert (link.supply.cups, link.supply.distributor_code) == (make_cups(1), "2")


async def test_a_query_whose_day_is_nearly_up_is_waited_for(community: Community) -> None:
    await community.run(NOW, only="m-3")
    # A second short of 24 hours since each month was asked; the fake is already past them.
    at = NOW + timedelta(days=1) - timedelta(seconds=1)
    community.clock.now = (at + timedelta(seconds=2)).timestamp()
    since = len(community.fake.log)
    started = time_module.monotonic()

    await community.run(at, wait_s=5, only="m-3")

    assert consumption_months(community.fake, since) == {
        (make_cups(3), "2026/11"),
        (make_cups(3), "2026/10"),
    }
    assert time_module.monotonic() - started >= 1
    assert community.fake.repeated_within_a_day() == []


async def add_member(community: Community, member: str, number: int, nif: str) -> None:
    """Register and link one more member, of the supply point ``make_cups(number)``."""
    await register_members(community.store, {member: make_cups(number)})
    community.members = await register_members(community.store, {})
    await Ledger(community.store).link(member, nif, NOW)


async def add_i_de_member(community: Community, **quirks: bool) -> FakeSupply:
    """Link member m-5, whose supply (i-DE's, distributor 8) answers with ``quirks``."""
    supply = FakeSupply(
        owner=OWNER,
        cups=make_cups(5),
        contract_start=date(2025, 3, 10),
        distributor_code="8",
        **quirks,
    )
    community.fake.supplies.append(supply)
    await add_member(community, "m-5", 5, OWNER)
    return supply


async def test_hours_labelled_by_their_start_as_i_de_answers(community: Community) -> None:
    supply = await add_i_de_member(community, hour_starting=True)

    report = await community.run(NOW, only="m-5")

    assert report.members[0].status == "ok"
    # Only the contract's first month failed (as Datadis does): no row was left unread.
    assert [p[:8] for p in report.members[0].problems] == ["2025-03:"]
    for first, end, hours in (
        (date(2025, 10, 1), date(2025, 11, 1), 31 * 24 + 1),  # 26 October: "02:00" twice
        (date(2026, 3, 1), date(2026, 4, 1), 31 * 24 - 1),  # 29 March: no "02:00"
    ):
        stored = await community.store.readings(
            "m-5", local_midnight(first), local_midnight(end), source=SOURCE
        )
        imports = [s.reading for s in stored]
        assert len(imports) == hours
        assert imports[0].start == local_midnight(first)  # "00:00" starts the day
        assert all(r.value == pytest.approx(energy_kwh(supply, r.start, HOUR)) for r in imports)


async def test_october_in_24_rows_keeps_the_day_whole(community: Community) -> None:
    # i-DE answered 29 October 2023 in 24 rows, "02:00" holding both of the hours that end at
    # two o'clock (eddie-energy/eddie's real answer): the month completes and keeps its energy.
    supply = await add_i_de_member(community, october_in_24_rows=True)
    answered = curve_rows(supply, date(2025, 10, 26))
    assert [row["time"] for row in answered[:3]] == ["01:00", "02:00", "03:00"]
    assert len(answered) == 24

    report = await community.run(NOW, only="m-5")

    assert report.members[0].status == "ok"
    first, end = local_midnight(date(2025, 10, 26)), local_midnight(date(2025, 10, 27))
    stored = [s.reading for s in await community.store.readings("m-5", first, end, source=SOURCE)]
    assert [r.start for r in stored] == [first + n * HOUR for n in range(25)]
    assert sum(r.value for r in stored) == pytest.approx(
        sum(row["consumptionKWh"] for row in answered)
    )
    shared = [r for r in stored if first + HOUR <= r.start < first + 3 * HOUR]
    assert [r.value for r in shared] == pytest.approx([answered[1]["consumptionKWh"] / 2] * 2)
    assert {r.quality for r in shared} == {"estimated"}


@pytest.mark.parametrize(
    ("status", "body", "member_status", "reason"),
    [
        (403, {"status": 403, "message": "No authorized supplies"}, "not_authorized", "403"),
        (404, {"status": 404, "message": "No supplies"}, "not_found", "no supply"),
        (
            400,
            {"status": 400, "message": "Parámetro requerido en estado vacío, con formato erróneo"},
            "refused",
            "HTTP 400",
        ),
        (429, "Consulta ya realizada en las últimas 24 horas.", "already_asked", "24 hours"),
    ],
)
async def test_one_members_refusal_does_not_stop_the_others(
    community: Community, status: int, body: Any, member_status: str, reason: str
) -> None:
    community.fake.refusals[OWNER] = (status, body)

    report = await community.run(NOW)

    by_member = {m.member: m for m in report.members}
    assert by_member["m-1"].status == member_status
    assert any(reason in problem for problem in by_member["m-1"].problems)
    assert by_member["m-1"].months == []
    # The members after it were synced.
    assert by_member["m-3"].status == "ok"
    assert len(by_member["m-3"].months) == 24
    assert by_member["m-4"].status == "ok"
    link = next(link for link in await Ledger(community.store).links() if link.member == "m-1")
    assert link.status == member_status
    assert reason in link.detail


async def test_members_of_one_nif_are_placed_from_one_supply_list(community: Community) -> None:
    community.fake.supplies.append(
        FakeSupply(owner=OWNER, cups=make_cups(5), contract_start=date(2025, 3, 10))
    )
    await add_member(community, "m-5", 5, OWNER)
    # m-0's supply is not among those OWNER authorised, and it comes first.
    await add_member(community, "m-0", 9, OWNER)

    report = await community.run(NOW)

    by_member = {m.member: m for m in report.members}
    assert by_member["m-0"].status == "not_found"
    assert by_member["m-1"].status == by_member["m-5"].status == "ok"
    assert len(by_member["m-5"].months) == 20
    lists = community.fake.queries("get-supplies-v2")
    assert len([q for q in lists if ("authorizedNif", OWNER) in q.parameters]) == 1


async def test_a_missing_hour_is_reported_and_its_month_asked_again(community: Community) -> None:
    community.fake.supplies[2].missing.add("2026/06/05 13:00")

    report = await community.run(NOW, only="m-3")

    problems = report.members[0].problems
    assert any("2026-06" in p and "no consumption for 2026-06-05 13:00" in p for p in problems)
    june = (local_midnight(date(2026, 6, 1)), local_midnight(date(2026, 7, 1)))
    assert len(await community.store.readings("m-3", *june, source=SOURCE)) == 30 * 24 - 1
    month = (await Ledger(community.store).months("m-3"))["2026-06"]
    assert not month.complete

    community.fake.supplies[2].missing.clear()
    since = len(community.fake.log)
    await community.run(NOW + timedelta(days=1, minutes=1), only="m-3")

    assert (make_cups(3), "2026/06") in consumption_months(community.fake, since)
    assert len(await community.store.readings("m-3", *june, source=SOURCE)) == 30 * 24
