"""A local stand-in for Datadis's private API, with the quirks a client must survive.

It answers the ``-v2`` endpoints the aggregator uses, and behaves as DOMAIN.md describes the real
one: the login's body is a raw JWT and a wrong password is an HTTP 500 "Bad credentials"; an
identical query is answered once per 24 hours, then HTTP 429; only whole months (``YYYY/MM``)
are accepted; the month a contract started answers HTTP 500; answers can be slow; data is
published some days late; hours are labelled by their end, "01:00" … "24:00", the October day
as Datadis writes it ("01:00, 02:00, 03:00, 03:00, 04:00 …": the hour that ends as the clock goes
back is "03:00" on the old clock) and the March day without "02:00"; i-DE's supplies (since 2026)
label hours by their start, "00:00" … "23:00"; some values are estimated, some hours missing
(``null``); a supply that was not authorised answers HTTP 400; a NIF can be made to answer any
refusal Datadis gives (``refusals``: 403 "No authorized supplies", 404 "No supplies", …); maximum
powers are kW; a supply without a contract answers a row of blanks; an i-DE supply can answer
its October day in 24 rows, the repeated hour added into "02:00" (``october_in_24_rows``).

Every authenticated query is logged (``log``) with the time the fake's clock gave, so a test
can check that no query was sent twice within 24 hours. The clock (``now``) is the fake's own:
a test moves it to replay days.

``python -m ioe_dev.fake_datadis --port N --state FILE`` serves the demo's community.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
import json
import math
from pathlib import Path
import time as time_module
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

MADRID = ZoneInfo("Europe/Madrid")
BAD_CREDENTIALS = {"status": 500, "error": "Internal Server Error", "message": "Bad credentials"}
ALREADY_ASKED = "Consulta ya realizada en las últimas 24 horas"
NOT_AUTHORISED = "No se encuentra autorizado el cups introducido"
DAY = timedelta(days=1)
DISTRIBUTOR_NAMES = {
    "2": "E-DISTRIBUCION REDES DIGITALES S.L.U.",
    "5": "UFD DISTRIBUCION ELECTRICIDAD S.A.",
    "8": "I-DE REDES ELÉCTRICAS INTELIGENTES, S.A.U.",
}


@dataclass
class FakeSupply:
    """A supply point as Datadis holds it: its owner, distributor, contract and curve."""

    owner: str
    cups: str
    contract_start: date
    distributor_code: str = "2"
    point_type: int = 5
    contracted_power_kw: tuple[float, ...] = (4.6, 4.6)
    cau: str | None = None
    partition_coefficient: float | None = None
    installed_capacity_kw: float | None = None
    # Average household draw (kW): the curve follows a day's shape around it.
    mean_kw: float = 0.35
    # Labels by the start of each interval ("00:00" … "23:00"), as i-DE's answers come.
    hour_starting: bool = False
    # Local "YYYY/MM/DD HH:MM" labels answered with "consumptionKWh": null.
    missing: set[str] = field(default_factory=set)
    # Datadis has no contract for it: the contract's answer is a row of blanks.
    no_contract: bool = False
    # The October day in 24 rows, the repeated hour's energy added into "02:00" (i-DE, 2023).
    october_in_24_rows: bool = False


@dataclass(frozen=True, slots=True)
class LoggedQuery:
    """One authenticated query, as the fake received it."""

    at: float
    nif: str
    endpoint: str
    parameters: tuple[tuple[str, str], ...]
    status: int


@dataclass
class FakeDatadis:
    """The fake's state: accounts, supplies, who authorised whom, and what it was asked."""

    accounts: dict[str, str]
    supplies: list[FakeSupply]
    # Owner NIF → the NIFs it authorised to read its supplies.
    authorizations: dict[str, set[str]] = field(default_factory=dict)
    # Seconds each data answer takes.
    delay_s: float = 0.0
    # Data is published this many days late.
    late_days: int = 2
    # (CUPS, "YYYY/MM") that fail once with HTTP 500, as Datadis does at random.
    failures: set[tuple[str, str]] = field(default_factory=set)
    # Owner NIF → (status, body) every query about its supplies is answered with.
    refusals: dict[str, tuple[int, Any]] = field(default_factory=dict)
    now: Callable[[], float] = time_module.time
    log: list[LoggedQuery] = field(default_factory=list)
    logins: int = 0
    _tokens: dict[str, str] = field(default_factory=dict)
    _answered: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = field(
        default_factory=dict
    )

    def app(self) -> web.Application:
        """Return the aiohttp application serving the API."""
        app = web.Application()
        app.router.add_post("/nikola-auth/tokens/login", self._login)
        app.router.add_get("/api-private/api/{endpoint}", self._query)
        return app

    def queries(self, endpoint: str) -> list[LoggedQuery]:
        """Return the logged queries of one endpoint, oldest first."""
        return [query for query in self.log if query.endpoint == endpoint]

    def repeated_within_a_day(self) -> list[LoggedQuery]:
        """Return queries sent again less than 24 hours after the same one (should be none)."""
        last: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {}
        repeated = []
        for query in self.log:
            key = (query.nif, query.endpoint, query.parameters)
            if key in last and query.at - last[key] < DAY.total_seconds():
                repeated.append(query)
            last[key] = query.at
        return repeated

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        nif, password = str(form.get("username", "")), str(form.get("password", ""))
        if self.accounts.get(nif) != password:
            return web.json_response(BAD_CREDENTIALS, status=500)
        self.logins += 1
        token = _jwt(nif, self.now() + DAY.total_seconds())
        self._tokens[token] = nif
        return web.Response(text=token, content_type="text/plain")

    async def _query(self, request: web.Request) -> web.StreamResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        nif = self._tokens.get(token)
        if nif is None or _jwt_expiry(token) <= self.now():
            return web.json_response({"status": 401, "error": "Unauthorized"}, status=401)
        endpoint = request.match_info["endpoint"]
        parameters = tuple(sorted(request.query.items()))
        key = (nif, endpoint, parameters)
        status, body = self._answer(nif, endpoint, dict(request.query), key)
        self.log.append(LoggedQuery(self.now(), nif, endpoint, parameters, status))
        if status == 200:
            self._answered[key] = self.now()
            if endpoint == "get-consumption-data-v2" and self.delay_s:
                await asyncio.sleep(self.delay_s)
            return web.json_response(body)
        if isinstance(body, str):
            return web.Response(text=body, status=status, content_type="text/plain")
        return web.json_response(body, status=status)

    def _answer(  # noqa: PLR0911 - one answer per documented case
        self,
        nif: str,
        endpoint: str,
        query: dict[str, str],
        key: tuple[str, str, tuple[tuple[str, str], ...]],
    ) -> tuple[int, Any]:
        answered = self._answered.get(key)
        if answered is not None and self.now() - answered < DAY.total_seconds():
            return 429, ALREADY_ASKED
        owner = query.get("authorizedNif", nif)
        if owner in self.refusals:
            return self.refusals[owner]
        if owner != nif and nif not in self.authorizations.get(owner, set()):
            return 400, NOT_AUTHORISED
        if endpoint == "get-supplies-v2":
            return 200, {"supplies": [_supply(s) for s in self._of(owner)], "distributorError": []}
        supply = next((s for s in self._of(owner) if s.cups == query.get("cups")), None)
        if supply is None:
            return 400, NOT_AUTHORISED
        if endpoint == "get-contract-detail-v2":
            return 200, {"contract": [_contract(supply)], "distributorError": []}
        months = _months(query)
        if months is None:
            return 400, {"status": 400, "message": "Formato de fecha incorrecto (AAAA/MM)"}
        first, last = months
        if endpoint == "get-consumption-data-v2":
            return self._consumption(supply, first, last, query)
        if endpoint == "get-max-power-v2":
            rows = [_max_power(supply, month) for month in _month_range(first, last)]
            return 200, {"maxPower": rows, "distributorError": []}
        return 404, {"status": 404, "error": "Not Found"}

    def _of(self, owner: str) -> list[FakeSupply]:
        return [supply for supply in self.supplies if supply.owner == owner]

    def _consumption(
        self, supply: FakeSupply, first: date, last: date, query: dict[str, str]
    ) -> tuple[int, Any]:
        contract_month = supply.contract_start.replace(day=1)
        for month in _month_range(first, last):
            label = f"{month.year:04d}/{month.month:02d}"
            if month == contract_month:
                return 500, {"status": 500, "error": "Internal Server Error"}
            if (supply.cups, label) in self.failures:
                self.failures.discard((supply.cups, label))
                return 500, {"status": 500, "error": "Internal Server Error"}
        quarter = query.get("measurementType") == "1"
        published = datetime.fromtimestamp(self.now(), MADRID).date() - self.late_days * DAY
        rows: list[dict[str, Any]] = []
        for month in _month_range(first, last):
            day = max(month, supply.contract_start)
            while day.month == month.month and day <= published:
                rows.extend(curve_rows(supply, day, quarter=quarter))
                day += DAY
        return 200, {"timeCurve": rows, "distributorError": []}


def curve_rows(supply: FakeSupply, day: date, *, quarter: bool = False) -> list[dict[str, Any]]:
    """Return a local day of a supply's curve, labelled as Datadis labels it (`label`)."""
    step = timedelta(minutes=15 if quarter else 60)
    start = datetime.combine(day, time(), MADRID).astimezone(UTC)
    end = datetime.combine(day + DAY, time(), MADRID).astimezone(UTC)
    rows: list[dict[str, Any]] = []
    moment = start
    while moment < end:
        text = label(moment, step, day, hour_starting=supply.hour_starting)
        kwh = energy_kwh(supply, moment, step)
        rows.append(
            {
                "cups": supply.cups,
                "date": f"{day:%Y/%m/%d}",
                "time": text,
                "consumptionKWh": None if f"{day:%Y/%m/%d} {text}" in supply.missing else kwh,
                # Every 17th hour is estimated, as meters that failed to report are.
                "obtainMethod": "Estimada" if int(moment.timestamp()) // 3600 % 17 == 0 else "Real",
                "surplusEnergyKWh": 0.0,
                "generationEnergyKWh": 0.0,
                "selfConsumptionEnergyKWh": 0.0,
            }
        )
        moment += step
    if supply.october_in_24_rows and len(rows) == 25:
        # "02:00" then the first "03:00" (the summer hour the clock repeats) become one row.
        merged = rows.pop(2)
        rows[1]["consumptionKWh"] = round(rows[1]["consumptionKWh"] + merged["consumptionKWh"], 3)
    return rows


def label(start: datetime, step: timedelta, day: date, *, hour_starting: bool = False) -> str:
    """Return Datadis's label of the interval from ``start`` (UTC) of a local ``day``.

    By the clock at the interval's end ("24:00" for midnight), except the interval that ends
    as the clock goes back, labelled on the old clock ("03:00"); by its start with
    ``hour_starting`` ("00:00" … "23:00", the repeated hour twice in October).
    """
    if hour_starting:
        return f"{start.astimezone(MADRID):%H:%M}"
    end = start + step
    before = (end - timedelta(microseconds=1)).astimezone(MADRID).utcoffset()
    local_end = end.astimezone(MADRID)
    if before is not None and before > (local_end.utcoffset() or before):
        local_end = (end + before).replace(tzinfo=None)  # the old clock's reading
    return "24:00" if local_end.date() > day else f"{local_end:%H:%M}"


def energy_kwh(supply: FakeSupply, start: datetime, step: timedelta) -> float:
    """Return a supply's energy over one interval: a household's day shape, to the Wh."""
    hour = start.astimezone(MADRID).hour + start.minute / 60
    shape = 1 + 0.6 * math.sin((hour - 14) / 24 * 2 * math.pi) ** 2 + 0.4 * (18 <= hour < 22)
    return round(supply.mean_kw * shape * step.total_seconds() / 3600, 3)


def _supply(supply: FakeSupply) -> dict[str, Any]:
    return {
        "address": "DEMO — datos de prueba / demo data",
        "cups": supply.cups,
        "postalCode": "28001",
        "province": "Madrid",
        "municipality": "MADRID",
        "distributor": DISTRIBUTOR_NAMES.get(supply.distributor_code, ""),
        "validDateFrom": f"{supply.contract_start:%Y/%m/%d}",
        "validDateTo": "",
        "pointType": supply.point_type,
        "distributorCode": supply.distributor_code,
    }


def _contract(supply: FakeSupply) -> dict[str, Any]:
    if supply.no_contract:
        blank: dict[str, Any] = dict.fromkeys(
            ("cups", "distributor", "tension", "accessFare", "startDate", "endDate", "codeFare"),
            "",
        )
        return blank | {"contractedPowerkW": [], "installedCapacity": None, "cau": None}
    return {
        "cups": supply.cups,
        "distributor": DISTRIBUTOR_NAMES.get(supply.distributor_code, ""),
        "tension": "Baja tensión",
        "accessFare": "2.0TD",
        "contractedPowerkW": list(supply.contracted_power_kw),
        "startDate": f"{supply.contract_start:%Y/%m/%d}",
        "endDate": "",
        "codeFare": "2T",
        "selfConsumptionTypeCode": "41" if supply.cau else None,
        "partitionCoefficient": supply.partition_coefficient,
        "cau": supply.cau,
        "installedCapacity": supply.installed_capacity_kw,
    }


def _max_power(supply: FakeSupply, month: date) -> dict[str, Any]:
    # kW, to the watt: a peak about ten times the household's average draw.
    return {
        "cups": supply.cups,
        "date": f"{month:%Y/%m}/15",
        "time": "20:00",
        "maxPower": round(supply.mean_kw * 10.046, 3),
        "period": "PUNTA",
    }


def _months(query: dict[str, str]) -> tuple[date, date] | None:
    """Return the first days of the query's months; None unless both are ``YYYY/MM``."""
    try:
        first = datetime.strptime(query["startDate"], "%Y/%m").replace(tzinfo=UTC).date()
        last = datetime.strptime(query["endDate"], "%Y/%m").replace(tzinfo=UTC).date()
    except KeyError, ValueError:
        return None
    return (first, last) if first <= last else None


def _month_range(first: date, last: date) -> list[date]:
    months = []
    while first <= last:
        months.append(first)
        first = (first + timedelta(days=32)).replace(day=1)
    return months


def _jwt(subject: str, expires: float) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part({'sub': subject, 'exp': int(expires)})}.fake"


def _jwt_expiry(token: str) -> float:
    try:
        payload = token.split(".")[1]
        return float(json.loads(base64.urlsafe_b64decode(payload + "==="))["exp"])
    except IndexError, KeyError, ValueError:
        return 0.0


def demo_nif(number: int) -> str:
    """Return a valid-looking NIF (its check letter computed) for a demo supply's owner."""
    digits = 10_000_000 + number
    return f"{digits:08d}{'TRWAGMYFPDXBNJZSQVHLCKE'[digits % 23]}"


def main() -> None:
    """Serve a demo community's supplies until stopped (``--state``: a JSON file).

    The state holds ``accounts`` (NIF → password), ``supplies`` (owner, cups, contract_start)
    and ``authorizations`` (owner → the NIFs it authorised). Every supply's address says it is
    demo data.
    """
    parser = argparse.ArgumentParser(description="A local fake of Datadis, serving demo data.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    state = json.loads(args.state.read_text())
    fake = FakeDatadis(
        accounts=state["accounts"],
        supplies=[
            FakeSupply(
                owner=item["owner"],
                cups=item["cups"],
                contract_start=date.fromisoformat(item["contract_start"]),
            )
            for item in state["supplies"]
        ],
        authorizations={owner: set(nifs) for owner, nifs in state["authorizations"].items()},
        late_days=1,
    )
    web.run_app(fake.app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
