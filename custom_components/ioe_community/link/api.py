"""The community's REST API as a home uses it: its distributor's data, hour by hour.

The aggregator keeps what the member's distributor measured (from Datadis or a CSV export)
apart from what the home sent. A home reads its own with the API token of its join code;
``distributor_energy`` sums it per hour and quantity, ready to become statistics. Only over
HTTPS: on a plain ``http://`` address the token would travel in clear.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from enum import StrEnum
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from .join_code import JoinCode

# The API answers at most this long a period at once.
MAX_PERIOD: Final = timedelta(days=366)
TIMEOUT: Final = aiohttp.ClientTimeout(total=60)
DISTRIBUTOR_METER: Final = "grid"


class ApiProblem(StrEnum):
    """Why the community's API could not be read, as the household is told."""

    NO_API = "no_api_address"  # the join code names no API address
    NOT_HTTPS = "api_not_https"  # an address the token would travel to in clear
    INVALID_AUTH = "api_invalid_auth"  # the token was refused: revoked or rotated
    CANNOT_CONNECT = "api_cannot_connect"  # nothing answers, or not in time
    BAD_ANSWER = "api_bad_answer"  # an answer that is not the API's


class ApiError(Exception):
    """A request to the community's API failed; ``problem`` says which way."""

    def __init__(self, problem: ApiProblem, detail: str) -> None:
        """Keep the kind of failure with its readable reason."""
        super().__init__(detail)
        self.problem = problem


def require_https(api_url: str) -> None:
    """Raise ApiError unless ``api_url`` is an https:// address (no request is made)."""
    if urlsplit(api_url).scheme.lower() != "https":
        raise ApiError(
            ApiProblem.NOT_HTTPS, "the API's address is not https://: the token would go in clear"
        )


async def distributor_energy(
    session: aiohttp.ClientSession,
    code: JoinCode,
    start: datetime,
    end: datetime,
    tls: ssl.SSLContext | None,
) -> dict[str, dict[datetime, float]]:
    """Return the member's distributor energy in [start, end): quantity → UTC hour → kWh.

    ``tls`` is the context that trusts the join code's CA (``link.client.tls_context``), or
    None for the system's CAs. An address that is not https:// is refused before any request.
    """
    if not code.api_url:
        raise ApiError(ApiProblem.NO_API, "the join code gives no address for the API")
    require_https(code.api_url)
    hours: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + MAX_PERIOD, end)
        for row in await _readings(session, code, chunk_start, chunk_end, tls):
            try:
                if row["meter"] != DISTRIBUTOR_METER:
                    continue
                moment = datetime.fromisoformat(row["start"])
                hour = moment.replace(minute=0, second=0, microsecond=0)
                hours[str(row["quantity"])][hour] += float(row["value_kwh"])
            except (KeyError, TypeError, ValueError) as err:
                raise ApiError(
                    ApiProblem.BAD_ANSWER, f"a reading that is not one: {row!r}"
                ) from err
        chunk_start = chunk_end
    return {quantity: dict(values) for quantity, values in hours.items()}


async def _readings(
    session: aiohttp.ClientSession,
    code: JoinCode,
    start: datetime,
    end: datetime,
    tls: ssl.SSLContext | None,
) -> list[Any]:
    url = f"{str(code.api_url).rstrip('/')}/api/v1/members/{code.member}/readings"
    parameters = {"start": _text(start), "end": _text(end), "source": "distributor"}
    headers = {"Authorization": f"Bearer {code.api_token}"}
    try:
        async with session.get(
            url,
            params=parameters,
            headers=headers,
            timeout=TIMEOUT,
            ssl=tls if tls is not None else True,
            # A redirect could lead the token somewhere else, in clear: the API never redirects.
            allow_redirects=False,
        ) as response:
            if response.status in (401, 403):
                raise ApiError(
                    ApiProblem.INVALID_AUTH, f"the API refused the token ({response.status})"
                )
            if response.status != 200:
                raise ApiError(
                    ApiProblem.BAD_ANSWER,
                    f"the API answered {response.status}: {await response.text()}",
                )
            body = await response.json()
    except (aiohttp.ClientConnectionError, TimeoutError) as err:
        raise ApiError(ApiProblem.CANNOT_CONNECT, f"cannot reach {code.api_url}: {err}") from err
    except (aiohttp.ClientError, ValueError) as err:
        raise ApiError(ApiProblem.BAD_ANSWER, f"the API's answer is not JSON: {err}") from err
    if not isinstance(body, list):
        raise ApiError(ApiProblem.BAD_ANSWER, "the API answered something other than readings")
    return body


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
