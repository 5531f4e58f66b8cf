"""The Datadis client against a local fake that behaves as Datadis does, quirks included."""

from __future__ import annotations

from datetime import date
import logging

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from ioe_aggregator.datadis.client import (
    AlreadyAskedError,
    AuthenticationError,
    DatadisClient,
    DatadisError,
    NoSuppliesError,
    NotAuthorizedError,
    Supply,
    TemporaryError,
)
from ioe_dev.fake_datadis import FakeDatadis

from .conftest import CUPS, MANAGER, OWNER, PASSWORD, STRANGER, Clock


def client(
    session: aiohttp.ClientSession, server: TestServer, password: str = PASSWORD, **options: float
) -> DatadisClient:
    return DatadisClient(
        session,
        MANAGER,
        password,
        base_url=str(server.make_url("/")),
        login_backoff_s=0.01,
        **options,  # type: ignore[arg-type]
    )


async def owner_supply(datadis: DatadisClient) -> Supply:
    supplies, errors = await datadis.supplies(authorized_nif=OWNER)
    assert errors == []
    return supplies[0]


async def test_supplies_contract_and_max_power_of_an_authorising_owner(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    datadis = client(session, server)

    supply = await owner_supply(datadis)
    contract = await datadis.contract(supply.cups, supply.distributor_code, authorized_nif=OWNER)
    peaks = await datadis.max_power(
        supply, date(2026, 9, 1), date(2026, 10, 1), authorized_nif=OWNER
    )

    assert (supply.cups, supply.distributor_code, supply.point_type) == (CUPS, "2", 5)
    assert supply.valid_from == date(2025, 3, 10)
    assert not supply.quarter_hours
    assert contract is not None
    assert contract.cau == CUPS + "A001"
    assert contract.partition_coefficient == pytest.approx(0.125)
    assert contract.contracted_power_kw == (4.6, 4.6)
    assert contract.installed_capacity_kw == pytest.approx(40.0)
    # kW: a 4.6 kW contract's peak, 3.516 kW.
    assert [(p.day, p.power_kw) for p in peaks] == [
        (date(2026, 9, 15), pytest.approx(3.516)),
        (date(2026, 10, 15), pytest.approx(3.516)),
    ]


async def test_a_month_of_hours_with_24_00_and_the_october_day(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    datadis = client(session, server)
    supply = await owner_supply(datadis)

    rows = await datadis.consumption(supply, date(2025, 10, 1), authorized_nif=OWNER)

    assert len(rows) == 31 * 24 + 1
    october_26 = [row for row in rows if row.day == date(2025, 10, 26)]
    # The hour that ends as the clock goes back is "03:00" on the old clock.
    assert [row.time for row in october_26[:5]] == ["01:00", "02:00", "03:00", "03:00", "04:00"]
    assert october_26[-1].time == "24:00"
    assert any(row.estimated for row in rows)
    assert all(row.consumption_kwh for row in rows)


async def test_wrong_password_is_a_500_bad_credentials(
    session: aiohttp.ClientSession, server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    datadis = client(session, server, password="wrong-one")

    with pytest.raises(AuthenticationError, match="wrong NIF or password"):
        await datadis.supplies()

    assert "wrong-one" not in caplog.text


async def test_not_authorised_owner(session: aiohttp.ClientSession, server: TestServer) -> None:
    datadis = client(session, server)

    with pytest.raises(NotAuthorizedError, match="has not authorised"):
        await datadis.supplies(authorized_nif=STRANGER)


async def test_the_same_query_twice_in_a_day_is_refused(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis, clock: Clock
) -> None:
    datadis = client(session, server)
    supply = await owner_supply(datadis)
    await datadis.consumption(supply, date(2026, 10, 1), authorized_nif=OWNER)

    with pytest.raises(AlreadyAskedError, match="already asked in the last 24 hours"):
        await datadis.consumption(supply, date(2026, 10, 1), authorized_nif=OWNER)
    clock.now += 24 * 3600
    again = await datadis.consumption(supply, date(2026, 10, 1), authorized_nif=OWNER)

    assert len(again) == 31 * 24 + 1  # 25 October 2026 has 25 hours
    assert [q.status for q in fake.queries("get-consumption-data-v2")] == [200, 429, 200]


async def test_the_contracts_first_month_and_random_failures_are_temporary(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis
) -> None:
    datadis = client(session, server)
    supply = await owner_supply(datadis)
    fake.failures.add((CUPS, "2026/05"))

    with pytest.raises(TemporaryError, match="HTTP 500"):
        await datadis.consumption(supply, date(2025, 3, 1), authorized_nif=OWNER)
    with pytest.raises(TemporaryError, match="HTTP 500"):
        await datadis.consumption(supply, date(2026, 5, 1), authorized_nif=OWNER)


async def test_slow_answers_time_out_as_temporary(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis
) -> None:
    fake.delay_s = 2.0
    datadis = DatadisClient(
        session,
        MANAGER,
        PASSWORD,
        base_url=str(server.make_url("/")),
        timeout=aiohttp.ClientTimeout(total=0.5),
    )
    supply = await owner_supply(datadis)

    with pytest.raises(TemporaryError, match="no answer in time"):
        await datadis.consumption(supply, date(2026, 10, 1), authorized_nif=OWNER)


async def test_a_slow_answer_is_waited_for(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis
) -> None:
    fake.delay_s = 1.5  # Datadis takes a minute or more; the client waits up to three
    datadis = client(session, server)
    supply = await owner_supply(datadis)

    rows = await datadis.consumption(supply, date(2026, 10, 1), authorized_nif=OWNER)

    assert len(rows) == 31 * 24 + 1


async def test_an_expired_token_is_renewed_before_the_query(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis, clock: Clock
) -> None:
    datadis = client(session, server)
    await owner_supply(datadis)
    clock.now += 25 * 3600  # the fake's token has expired; the client does not know it

    await owner_supply(datadis)

    assert fake.logins == 2
    assert [q.status for q in fake.queries("get-supplies-v2")] == [200, 200]


async def test_day_ranges_are_refused_by_datadis(
    session: aiohttp.ClientSession, server: TestServer
) -> None:
    # The client only asks for months; a day range is what Datadis refuses with HTTP 400.
    url = server.make_url("/api-private/api/get-consumption-data-v2")
    token = await (
        await session.post(
            server.make_url("/nikola-auth/tokens/login"),
            data={"username": MANAGER, "password": PASSWORD},
        )
    ).text()
    parameters = {"cups": CUPS, "distributorCode": "2", "startDate": "2026/10/01"}
    parameters |= {"endDate": "2026/10/31", "measurementType": "0", "pointType": "5"}
    parameters["authorizedNif"] = OWNER

    async with session.get(
        url, params=parameters, headers={"Authorization": f"Bearer {token}"}
    ) as answer:
        assert answer.status == 400
        assert "AAAA/MM" in await answer.text()


async def test_no_server_is_temporary(session: aiohttp.ClientSession) -> None:
    datadis = DatadisClient(
        session, MANAGER, PASSWORD, base_url="http://127.0.0.1:9", login_backoff_s=0.01
    )

    with pytest.raises(TemporaryError, match="cannot connect"):
        await datadis.supplies()


async def test_an_answer_not_as_documented(session: aiohttp.ClientSession) -> None:
    async def odd(_request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"supplies": [{"cups": CUPS}]})

    async def login(_request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="a.b.c")

    app = aiohttp.web.Application()
    app.router.add_post("/nikola-auth/tokens/login", login)
    app.router.add_get("/api-private/api/get-supplies-v2", odd)
    odd_server = TestServer(app, host="127.0.0.1")
    await odd_server.start_server()
    try:
        datadis = DatadisClient(session, MANAGER, PASSWORD, base_url=str(odd_server.make_url("/")))
        with pytest.raises(DatadisError, match="an answer not as documented"):
            await datadis.supplies()
    finally:
        await odd_server.close()


async def test_refusals_of_one_nif(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis
) -> None:
    datadis = client(session, server)
    fake.refusals[OWNER] = (403, {"status": 403, "message": "No authorized supplies"})
    with pytest.raises(NotAuthorizedError, match="No authorized supplies"):
        await datadis.supplies(authorized_nif=OWNER)
    fake.refusals[OWNER] = (404, {"status": 404, "message": "No supplies"})
    with pytest.raises(NoSuppliesError, match="lists no supply"):
        await datadis.supplies(authorized_nif=OWNER)


async def test_a_missing_hour_and_a_contract_of_blanks(
    session: aiohttp.ClientSession, server: TestServer, fake: FakeDatadis
) -> None:
    datadis = client(session, server)
    supply = await owner_supply(datadis)
    fake.supplies[0].missing.add("2025/10/05 13:00")
    fake.supplies[0].no_contract = True

    rows = await datadis.consumption(supply, date(2025, 10, 1), authorized_nif=OWNER)
    contract = await datadis.contract(supply.cups, supply.distributor_code, authorized_nif=OWNER)

    missing = [row for row in rows if row.consumption_kwh is None]
    assert [(row.day, row.time) for row in missing] == [(date(2025, 10, 5), "13:00")]
    assert contract is None
