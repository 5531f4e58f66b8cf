"""A community whose members use the portal: a real aggregator, real Mosquitto, a day of data.

A day ten days ago (T0, UTC): m-0001 draws 0.4 kWh an hour, m-0002 1 kWh; the plant at
m-0001's makes 2 kWh an hour from 08:00 to 18:00 UTC, shared equally by the three members
from that day on (an agreement still in force). Prices are set, so savings are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import http.client
import json
from pathlib import Path
import sqlite3
from typing import Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import pytest

from ioe_dev.processes import Service
from tests.community import (  # noqa: F401 - fixtures
    T0,
    Answer,
    Community,
    StartAggregator,
    batch,
    call,
    community,
    plant_batch,
    start_aggregator,
    start_service,
)

MADRID = ZoneInfo("Europe/Madrid")
DAY = T0.astimezone(MADRID).date()
MEMBERS = ("m-0001", "m-0002", "m-0003")
PORTAL_HEADER = {"X-IoE-Portal": "1"}


@dataclass
class Portal:
    """The running service, its admin token, and its members' tokens."""

    community: Community
    service: Service
    base: str
    admin: str
    tokens: dict[str, str]

    def issue(self, member: str, days: int = 90) -> dict[str, Any]:
        """Issue ``member`` a link as the manager (through the API); return the answer."""
        answer = call(
            self.base, "POST", f"/api/v1/members/{member}/portal-link", self.admin, {"days": days}
        )
        assert answer.status == 201, answer.body
        return dict(answer.json())

    def sign_in(self, body: dict[str, str], source: str = "127.0.0.1") -> tuple[Answer, str | None]:
        """Sign in to the portal with ``body`` from ``source``; return the answer and cookie."""
        answer = send(self.base, "POST", "/api/v1/portal/session", body=body, source=source)
        cookie = answer.headers.get("Set-Cookie", "")
        value = (
            cookie.partition(";")[0].partition("=")[2] if cookie.startswith("ioe_portal=") else None
        )
        return answer, value

    def expire(self, link_id: str) -> None:
        """Move a link's expiry into the past (as if its days had gone by)."""
        path = Path(self.community.options["database_url"].removeprefix("sqlite:///"))
        with sqlite3.connect(path) as connection:
            connection.execute(
                "UPDATE portal_links SET expires_s = expires_s - 400 * 86400 WHERE id = ?",
                (link_id,),
            )

    def log(self) -> str:
        """Return what the service logged so far."""
        return self.service.log_file.read_text(encoding="utf-8", errors="replace")


def send(
    base: str,
    method: str,
    path: str,
    *,
    cookie: str | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    source: str = "127.0.0.1",
) -> Answer:
    """Call the service as a browser signed in to the portal with ``cookie`` (None: nobody).

    ``source`` is the loopback address the call comes from (another one: another person).
    """
    data = None if body is None else json.dumps(body).encode()
    sent = dict(headers or {})
    if cookie is not None:
        sent["Cookie"] = f"ioe_portal={cookie}"
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    for name, value in sent.items():
        request.add_header(name, value)
    try:
        with urllib.request.build_opener(_From(source)).open(request, timeout=30) as response:
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.read(), dict(err.headers))


class _From(urllib.request.HTTPHandler):
    """Open HTTP connections from one loopback address."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            functools.partial(http.client.HTTPConnection, source_address=(self._source, 0)), req
        )


@pytest.fixture
def portal(
    community: Community,  # noqa: F811 - the fixture imported above
    start_aggregator: StartAggregator,  # noqa: F811
) -> Portal:
    """Start the community with its day of data and an equal agreement in force."""
    community.options.update(
        community_name="Comunidad Los Molinos",
        import_price_eur_kwh=0.2,
        surplus_price_eur_kwh=0.05,
    )
    admin = community.token("admin")
    tokens = {
        member: community.add_member(member, 801 + n).api_token for n, member in enumerate(MEMBERS)
    }
    service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    assert call(base, "PUT", "/api/v1/members/m-0001/plant", admin, {"plant_kw": 5}).status == 200
    for member, sent in (
        ("m-0001", batch("m-0001", "c", count=96, value=0.1)),
        ("m-0001", plant_batch("m-0001")),
        ("m-0002", batch("m-0002", "c", count=96, value=0.25)),
    ):
        answer = call(base, "POST", "/api/v1/readings", tokens[member], sent)
        assert answer.status == 200, (member, answer.body)
    agreement = {"name": "A partes iguales", "scheme": "equal", "valid_from": str(DAY)}
    assert call(base, "POST", "/api/v1/agreements", admin, agreement).status == 201
    return Portal(community, service, base, admin, tokens)
