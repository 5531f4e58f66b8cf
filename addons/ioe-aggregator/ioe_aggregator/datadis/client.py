"""An async client of Datadis's private API (the ``-v2`` endpoints), on aiohttp.

Datadis answers in its own way, and each answer maps to what the caller should do:

======================================================  ==========================================
answer                                                  raised / meaning
======================================================  ==========================================
login: HTTP 500 "Bad credentials" (not 401)             `AuthenticationError`: ask the manager
                                                        for the NIF and password again
HTTP 401 on a query (the token expired)                 logs in again once, then repeats it
HTTP 400 "No se encuentra autorizado …", HTTP 403       `NotAuthorizedError`: the member has not
"No authorized supplies"                                authorised the manager's NIF
HTTP 404 "No supplies"                                  `NoSuppliesError`: Datadis lists no supply
                                                        for the NIF
HTTP 429 "Consulta ya realizada en las últimas 24 h"    `AlreadyAskedError`: not again for 24 h
HTTP 500, another 5xx, a timeout, no connection         `TemporaryError`: skip, try another day
anything else (400, an answer that is not the API's)    `DatadisError`
======================================================  ==========================================

Each of these but the login's concerns one query: the caller records it on the member it was for
and goes on with the next. A row without a consumption (``null`` or missing) is a missing hour,
not an answer out of shape; an all-blank contract row is no contract.

Answers take up to a minute or more, so the default timeout is generous. Data queries are never
repeated here: Datadis counts each, and the caller's ledger decides when to ask again. Only the
login, which Datadis does not count, is retried. The password is never logged.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
import json
import logging
import time
from typing import Any, Final

import aiohttp

from ioe_aggregator.config import DATADIS_URL
from ioe_aggregator.distributor.csv_files import parse_date

_LOGGER = logging.getLogger(__name__)

LOGIN_PATH: Final = "/nikola-auth/tokens/login"
API_PATH: Final = "/api-private/api/"
# Datadis often takes 60-80 s to answer a consumption query.
DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=180, sock_connect=30)
# Tokens last about 24 h; one is renewed this long before it expires.
TOKEN_MARGIN: Final = timedelta(minutes=10)
TOKEN_LIFETIME: Final = timedelta(hours=23)
LOGIN_ATTEMPTS: Final = 3
HOURLY: Final = 0
QUARTER_HOURLY: Final = 1
# Point types that have quarter-hour curves (types 1 and 2; e-distribución also type 3).
QUARTER_HOUR_POINT_TYPES: Final = frozenset({1, 2})
E_DISTRIBUCION: Final = "2"
DISTRIBUTORS: Final[Mapping[str, str]] = {
    "1": "Viesgo",
    "2": "E-distribución",
    "3": "E-redes",
    "4": "ASEME",
    "5": "UFD",
    "6": "EOSA",
    "7": "CIDE",
    "8": "i-DE",
}
_NOT_AUTHORISED = ("no se encuentra autorizado", "no authorized supplies")
_NO_SUPPLIES = "no supplies"
_BAD_CREDENTIALS = "bad credentials"


class DatadisError(Exception):
    """Datadis refused or failed a request; the message says which and why (never a password)."""


class AuthenticationError(DatadisError):
    """The NIF and password were refused: the manager must enter them again."""


class NotAuthorizedError(DatadisError):
    """The supply's owner has not authorised the manager's NIF in Datadis."""


class NoSuppliesError(DatadisError):
    """Datadis lists no supply point for the NIF (HTTP 404 "No supplies")."""


class AlreadyAskedError(DatadisError):
    """Datadis answered this very query in the last 24 hours and will not again."""


class TemporaryError(DatadisError):
    """Datadis or the network failed this time (5xx, timeout): try again another day."""


@dataclass(frozen=True, slots=True)
class DistributorError:
    """A distributor Datadis could not reach for this answer (``distributorError`` of v2)."""

    code: str
    name: str
    error_code: str
    description: str


@dataclass(frozen=True, slots=True)
class Supply:
    """A supply point a NIF holds (``get-supplies-v2``)."""

    cups: str
    distributor_code: str
    point_type: int
    valid_from: date | None
    valid_to: date | None
    address: str

    @property
    def quarter_hours(self) -> bool:
        """Whether Datadis has this point's quarter-hour curve."""
        return self.point_type in QUARTER_HOUR_POINT_TYPES or (
            self.distributor_code == E_DISTRIBUCION and self.point_type == 3
        )


@dataclass(frozen=True, slots=True)
class Contract:
    """What a supply's contract says (``get-contract-detail-v2``), self-consumption included."""

    cups: str
    contracted_power_kw: tuple[float, ...]
    start: date | None
    end: date | None
    self_consumption_type: str | None
    cau: str | None
    partition_coefficient: float | None
    installed_capacity_kw: float | None


@dataclass(frozen=True, slots=True)
class ConsumptionRow:
    """One interval of ``get-consumption-data-v2``: local date, time label and kWh.

    ``consumption_kwh`` is None when Datadis gave none (``null`` or no field): a missing hour.
    """

    cups: str
    day: date
    time: str
    consumption_kwh: float | None
    estimated: bool
    surplus_kwh: float | None
    generation_kwh: float | None
    self_consumption_kwh: float | None


@dataclass(frozen=True, slots=True)
class MaxPower:
    """The highest power demanded in a period (``get-max-power-v2``), in kW.

    Datadis gives kW: a 3.45 kW contract shows peaks such as 3.516.
    """

    cups: str
    day: date
    time: str
    power_kw: float
    period: str


def month_text(month: date) -> str:
    """Return a month as Datadis's date parameters want it: ``YYYY/MM`` (whole months only)."""
    return f"{month.year:04d}/{month.month:02d}"


def _day(text: Any) -> date | None:
    return parse_date(str(text).strip()[:10]) if text else None


@contextmanager
def _documented(endpoint: str) -> Iterator[None]:
    """Turn an answer that is not shaped as documented into a DatadisError naming the endpoint."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as err:
        raise DatadisError(f"Datadis {endpoint}: an answer not as documented ({err!r})") from err


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(str(value).replace(",", "."))


class DatadisClient:
    """One Datadis account (the manager's NIF), logged in on demand."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        username: str,
        password: str,
        *,
        base_url: str = DATADIS_URL,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        login_backoff_s: float = 5.0,
    ) -> None:
        """Use ``session`` for every request; nothing is sent until the first query."""
        self._session = session
        self._username = username
        self._password = password
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._login_backoff_s = login_backoff_s
        self._token: str | None = None
        self._token_expires = 0.0
        self._login_lock = asyncio.Lock()

    async def login(self) -> None:
        """Get a token (a raw JWT in the body); raise AuthenticationError for a refused one.

        Other failures are retried a few times with a growing pause: Datadis does not count
        logins, and a failed one at random is common.
        """
        async with self._login_lock:
            for attempt in range(1, LOGIN_ATTEMPTS + 1):
                try:
                    await self._login_once()
                except TemporaryError as err:
                    if attempt == LOGIN_ATTEMPTS:
                        raise
                    _LOGGER.info("Datadis login failed (%s); trying again", err)
                    await asyncio.sleep(self._login_backoff_s * attempt)
                else:
                    return

    async def _login_once(self) -> None:
        form = {"username": self._username, "password": self._password}
        try:
            async with self._session.post(
                self._base + LOGIN_PATH, data=form, timeout=self._timeout
            ) as response:
                body = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise TemporaryError(f"Datadis login: {_network(err)}") from err
        if status == 200 and body.strip():
            self._token = body.strip()
            self._token_expires = _expiry(self._token)
            return
        if _BAD_CREDENTIALS in body.lower() or status in (401, 403):
            raise AuthenticationError(
                f"Datadis refused the login of NIF {self._username}: wrong NIF or password"
            )
        if status >= 500:
            raise TemporaryError(f"Datadis login: HTTP {status}")
        raise DatadisError(f"Datadis login: HTTP {status}: {_excerpt(body)}")

    async def supplies(
        self, authorized_nif: str | None = None
    ) -> tuple[list[Supply], list[DistributorError]]:
        """Return the supply points of the account (or of a NIF that authorised it)."""
        endpoint = "get-supplies-v2"
        answer = await self._get(endpoint, {"authorizedNif": authorized_nif})
        with _documented(endpoint):
            supplies = [_supply(item) for item in _list(answer, "supplies")]
            return supplies, _distributor_errors(answer)

    async def contract(
        self, cups: str, distributor_code: str, authorized_nif: str | None = None
    ) -> Contract | None:
        """Return the current contract of a supply point, or None when Datadis has none."""
        endpoint = "get-contract-detail-v2"
        answer = await self._get(
            endpoint,
            {"cups": cups, "distributorCode": distributor_code, "authorizedNif": authorized_nif},
        )
        with _documented(endpoint):
            contracts = [_contract(item) for item in _list(answer, "contract") if _filled(item)]
        return contracts[-1] if contracts else None

    async def consumption(
        self,
        supply: Supply,
        month: date,
        *,
        quarter_hours: bool = False,
        authorized_nif: str | None = None,
    ) -> list[ConsumptionRow]:
        """Return one month of a supply's curve (whole months only: Datadis refuses days)."""
        endpoint = "get-consumption-data-v2"
        answer = await self._get(
            endpoint,
            {
                "cups": supply.cups,
                "distributorCode": supply.distributor_code,
                "startDate": month_text(month),
                "endDate": month_text(month),
                "measurementType": str(QUARTER_HOURLY if quarter_hours else HOURLY),
                "pointType": str(supply.point_type),
                "authorizedNif": authorized_nif,
            },
        )
        with _documented(endpoint):
            return [_consumption_row(item) for item in _list(answer, "timeCurve")]

    async def max_power(
        self, supply: Supply, first: date, last: date, authorized_nif: str | None = None
    ) -> list[MaxPower]:
        """Return the highest power demanded in each period of the months ``first``–``last``."""
        endpoint = "get-max-power-v2"
        answer = await self._get(
            endpoint,
            {
                "cups": supply.cups,
                "distributorCode": supply.distributor_code,
                "startDate": month_text(first),
                "endDate": month_text(last),
                "authorizedNif": authorized_nif,
            },
        )
        with _documented(endpoint):
            return [_max_power(item) for item in _list(answer, "maxPower")]

    async def _get(self, endpoint: str, parameters: Mapping[str, str | None]) -> Any:
        """Send one query (logging in first when needed) and return its decoded JSON."""
        query = {key: value for key, value in parameters.items() if value is not None}
        if self._token is None or time.time() >= self._token_expires:
            await self.login()
        status, body = await self._request(endpoint, query)
        if status == 401:
            _LOGGER.info("Datadis token refused; logging in again")
            self._token = None
            await self.login()
            status, body = await self._request(endpoint, query)
        what = f"Datadis {endpoint} ({_describe(query)})"
        if status == 200:
            try:
                return json.loads(body)
            except ValueError:
                raise DatadisError(f"{what}: the answer is not JSON: {_excerpt(body)}") from None
        said = body.lower()
        if any(text in said for text in _NOT_AUTHORISED) or status == 403:
            raise NotAuthorizedError(
                f"{what}: the supply's owner has not authorised this NIF: {_excerpt(body)}"
            )
        if status == 404 and _NO_SUPPLIES in said:
            raise NoSuppliesError(f"{what}: Datadis lists no supply for this NIF")
        if status == 429:
            raise AlreadyAskedError(f"{what}: already asked in the last 24 hours")
        if status >= 500:
            raise TemporaryError(f"{what}: HTTP {status}: {_excerpt(body)}")
        raise DatadisError(f"{what}: HTTP {status}: {_excerpt(body)}")

    async def _request(self, endpoint: str, query: Mapping[str, str]) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self._token}"}
        url = self._base + API_PATH + endpoint
        try:
            async with self._session.get(
                url, params=query, headers=headers, timeout=self._timeout
            ) as response:
                return response.status, await response.text()
        except TimeoutError as err:
            raise TemporaryError(f"Datadis {endpoint}: no answer in time") from err
        except aiohttp.ClientError as err:
            raise TemporaryError(f"Datadis {endpoint}: {_network(err)}") from err


def _list(answer: Any, key: str) -> list[Mapping[str, Any]]:
    """Return the list under ``key`` of a v2 answer (v1 answered with the bare list)."""
    items = answer.get(key) if isinstance(answer, Mapping) else answer
    if items is None:
        return []
    if not isinstance(items, list):
        raise DatadisError(f"Datadis answered without a list of {key}")
    return [item for item in items if isinstance(item, Mapping)]


def _supply(item: Mapping[str, Any]) -> Supply:
    return Supply(
        cups=str(item["cups"]),
        distributor_code=str(item["distributorCode"]),
        point_type=int(item["pointType"]),
        valid_from=_day(item.get("validDateFrom")),
        valid_to=_day(item.get("validDateTo")),
        address=str(item.get("address") or ""),
    )


def _contract(item: Mapping[str, Any]) -> Contract:
    return Contract(
        cups=str(item["cups"]),
        contracted_power_kw=tuple(float(p) for p in item.get("contractedPowerkW") or ()),
        start=_day(item.get("startDate")),
        end=_day(item.get("endDate")),
        self_consumption_type=item.get("selfConsumptionTypeCode") or None,
        cau=item.get("cau") or None,
        partition_coefficient=_number(item.get("partitionCoefficient")),
        # "installedCapacity" in Datadis's documentation, "installedCapacityKW" in some answers.
        installed_capacity_kw=_number(
            next(
                (
                    item[key]
                    for key in ("installedCapacity", "installedCapacityKW")
                    if item.get(key) not in (None, "")
                ),
                None,
            )
        ),
    )


def _consumption_row(item: Mapping[str, Any]) -> ConsumptionRow:
    return ConsumptionRow(
        cups=str(item["cups"]),
        day=parse_date(str(item["date"])),
        time=str(item["time"]),
        consumption_kwh=_number(item.get("consumptionKWh")),
        estimated=str(item.get("obtainMethod", "")).lower().startswith("estimad"),
        surplus_kwh=_number(item.get("surplusEnergyKWh")),
        generation_kwh=_number(item.get("generationEnergyKWh")),
        self_consumption_kwh=_number(item.get("selfConsumptionEnergyKWh")),
    )


def _max_power(item: Mapping[str, Any]) -> MaxPower:
    return MaxPower(
        cups=str(item["cups"]),
        day=parse_date(str(item["date"])),
        time=str(item["time"]),
        power_kw=float(item["maxPower"]),
        period=str(item.get("period", "")),
    )


def _filled(item: Mapping[str, Any]) -> bool:
    """Whether a row holds anything: Datadis answers a row of blanks for no contract."""
    return any(value not in (None, "", []) for value in item.values())


def _distributor_errors(answer: Any) -> list[DistributorError]:
    if not isinstance(answer, Mapping):
        return []
    return [
        DistributorError(
            code=str(item.get("distributorCode", "")),
            name=str(item.get("distributorName", "")),
            error_code=str(item.get("errorCode", "")),
            description=str(item.get("errorDescription", "")),
        )
        for item in answer.get("distributorError") or ()
        if isinstance(item, Mapping)
    ]


def _expiry(token: str) -> float:
    """Return when to renew a token: its ``exp`` less a margin, else a day from now."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        expires = float(claims["exp"])
    except IndexError, KeyError, TypeError, ValueError:
        return time.time() + TOKEN_LIFETIME.total_seconds()
    return expires - TOKEN_MARGIN.total_seconds()


def _describe(query: Mapping[str, str]) -> str:
    shown = {key: value for key, value in query.items() if key != "authorizedNif"}
    return ", ".join(f"{key}={value}" for key, value in shown.items()) or "no parameters"


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text[:200] + ("…" if len(text) > 200 else "")


def _network(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "no answer in time"
    return f"cannot connect ({type(err).__name__}: {err})"
