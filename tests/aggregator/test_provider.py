"""Som Comunitats' monitoring-provider contract, through the real service, as their client asks.

The shapes are those their platform's client (somcomunitats-coop/odoo-ec,
energy_project/backends) sends and reads, and its tests check against the provider it was built
for: ``GET {uri}v1/project/{CAU}[/members/{CUPS}]?from_date=&to_date=`` with an ``apikey``
header; a JSON list of daily points with six keys, numbers in kWh; ``{"error": message}`` on
4xx (docs/interop.md cites each).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
import urllib.error
import urllib.request

import pytest

from ioe_aggregator.auth.failed_logins import MAX_FAILURES
from ioe_dev.synthetic import make_community
from tests.community import (
    HISTORY_TZ,
    Community,
    StartAggregator,
    call,
    make_cups,
    start_service,
    write_history,
)

MEMBERS = 4
CAU = make_cups(1) + "A001"
KEYS = [
    "timestamp", "energy_production", "energy_imported", "energy_consumption",
    "energy_exported", "selfconsumption",
]  # fmt: skip


class Provider:
    """The service, and what Som Comunitats' platform would be given: its base URI and key."""

    def __init__(self, base: str, key: str, admin: str, community: str) -> None:
        """Keep the service's address, the provider's key, an admin's token, the community."""
        self.base, self.key, self.admin, self.community = base, key, admin, community

    def get(self, path: str, key: str | None = None) -> tuple[int, Any, dict[str, str]]:
        """Ask as their client does (``urljoin`` of the base URI and the path): status, JSON."""
        request = urllib.request.Request(self.base + "/api/provider/" + path)  # noqa: S310
        if key is not None:
            request.add_header("apikey", key)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read()), dict(answer.headers)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()), dict(err.headers)

    def days(self, path: str, first: str, last: str) -> list[dict[str, Any]]:
        """Return the points of a range asked with the provider's key (200 expected)."""
        status, body, _ = self.get(f"{path}?from_date={first}&to_date={last}", self.key)
        assert status == 200, body
        assert isinstance(body, list)
        return body


@pytest.fixture
def provider(community: Community, start_aggregator: StartAggregator) -> Provider:
    """Four members (m-0001 with the plant), January 2025, equal shares, a provider's key."""
    for number in range(1, MEMBERS + 1):
        extra = {"--plant-kw": "10"} if number == 1 else {}
        community.add_member(f"m-{number:04d}", number, **extra)
    asyncio.run(write_history(community.options["database_url"], MEMBERS, 2025, range(1, 2)))
    community.cli("agreements", "add", "Igual", "--scheme", "equal", "--from", "2025-01-01")
    key, admin = community.token("provider"), community.token("admin")
    _service, port = start_service(community, start_aggregator)
    return Provider(f"http://127.0.0.1:{port}", key, admin, str(community.options["community_id"]))


def _exact(point: dict[str, Any]) -> None:
    """Three decimals at most, and the two identities their platform checks, exactly."""
    assert list(point) == KEYS
    for key in KEYS[1:]:
        assert isinstance(point[key], float | int)
        assert round(point[key], 3) == point[key]
    assert (
        round(point["energy_exported"] + point["selfconsumption"], 3) == point["energy_production"]
    )
    assert (
        round(point["energy_imported"] + point["selfconsumption"], 3) == point["energy_consumption"]
    )


def test_a_project_and_its_members_day_by_day(provider: Provider) -> None:
    project = provider.days(f"v1/project/{CAU}", "2025-01-01", "2025-01-03")

    assert [p["timestamp"] for p in project] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    synthetic = make_community(MEMBERS)
    local = synthetic.generation_kwh.index.tz_convert(HISTORY_TZ)
    for point in project:
        _exact(point)
        day = local.strftime("%Y-%m-%d") == point["timestamp"]
        assert point["energy_production"] == pytest.approx(
            synthetic.generation_kwh[day].sum(), abs=5e-4
        )
        assert point["energy_consumption"] == pytest.approx(
            synthetic.consumption_kwh[day].to_numpy().sum(), abs=5e-4
        )
    members = [
        provider.days(f"v1/project/{CAU}/members/{make_cups(n)}", "2025-01-01", "2025-01-03")
        for n in range(1, MEMBERS + 1)
    ]
    for day, point in enumerate(project):
        for own in members:
            _exact(own[day])
            # Equal shares: each member's production is a quarter of the plant's.
            assert own[day]["energy_production"] == pytest.approx(
                point["energy_production"] / MEMBERS, abs=1e-3
            )
        assert sum(own[day]["selfconsumption"] for own in members) == pytest.approx(
            point["selfconsumption"], abs=MEMBERS * 1e-3
        )
    # The member by its id, its CUPS with its boundary suffix, the project by the community id.
    by_id = provider.days(f"v1/project/{CAU}/members/m-0002", "2025-01-01", "2025-01-03")
    by_22 = provider.days(f"v1/project/{CAU}/members/{make_cups(2)}0F", "2025-01-01", "2025-01-03")
    assert by_id == by_22 == members[1]
    assert provider.days(f"v1/project/{provider.community}", "2025-01-01", "2025-01-03") == project


def test_only_whole_days_and_an_empty_range_is_an_empty_list(provider: Provider) -> None:
    # The history ends with January: February's days are not whole (no consumption).
    ends = provider.days(f"v1/project/{CAU}", "2025-01-30", "2025-02-02")
    assert [p["timestamp"] for p in ends] == ["2025-01-30", "2025-01-31"]
    assert provider.days(f"v1/project/{CAU}", "2020-01-01", "2020-12-31") == []


@pytest.mark.parametrize(
    ("path", "key", "status", "message"),
    [
        (f"v1/project/{CAU}?from_date=2025-01-01&to_date=2025-01-02", None, 401,
         "A valid apikey header is required"),
        (f"v1/project/{CAU}?from_date=2025-01-01&to_date=2025-01-02", "ioe_nope_nope", 401,
         "A valid apikey header is required"),
        (f"v1/project/{CAU}?from_date=2025-01-01&to_date=2025-01-02", "admin", 403,
         "This key is not a monitoring provider's key"),
        (f"v1/project/{CAU}?from_date=2025-1-1&to_date=2025-01-02", "key", 400,
         "Invalid from_date parameter format"),
        (f"v1/project/{CAU}?from_date=2025-01-01&to_date=2025-02-30", "key", 400,
         "Invalid to_date parameter format"),
        (f"v1/project/{CAU}?from_date=2025-01-01", "key", 400,
         "Invalid to_date parameter format"),
        (f"v1/project/{CAU}?from_date=2025-01-02&to_date=2025-01-01", "key", 400,
         "Invalid date range: from_date to to_date, at most 1464 days"),
        (f"v1/project/{CAU}?from_date=2020-01-01&to_date=2025-01-01", "key", 400,
         "Invalid date range: from_date to to_date, at most 1464 days"),
        ("v1/project/ES54678?from_date=2025-01-01&to_date=2025-01-02", "key", 400,
         "Invalid CAU format"),
        (f"v1/project/{make_cups(3)}A001?from_date=2025-01-01&to_date=2025-01-02", "key", 404,
         "Unable to find requested CAU"),
        (f"v1/project/{CAU}/members/{make_cups(9)}?from_date=2025-01-01&to_date=2025-01-02",
         "key", 404, "Unable to find requested member"),
    ],
)  # fmt: skip
def test_refusals_are_the_errors_their_client_reads(
    provider: Provider, path: str, key: str | None, status: int, message: str
) -> None:
    given = {"key": provider.key, "admin": provider.admin}.get(key or "", key)
    answer, body, _ = provider.get(path, given)

    assert answer == status
    assert body == {"error": message}


def test_a_providers_key_reaches_nothing_else(provider: Provider) -> None:
    assert call(provider.base, "GET", "/api/v1/members", provider.key).status == 403
    assert call(provider.base, "GET", "/api/v1/agreements", provider.key).status == 403


def test_too_many_bad_keys_are_told_when_to_come_back(provider: Provider) -> None:
    path = f"v1/project/{CAU}?from_date=2025-01-01&to_date=2025-01-02"
    for _ in range(MAX_FAILURES):
        assert provider.get(path, "ioe_nope_nope")[0] == 401
    status, body, headers = provider.get(path, "ioe_nope_nope")

    assert status == 429
    assert body == {"error": "Too many failed attempts; try again later"}
    # Whole seconds, as HTTP's Retry-After is written.
    assert headers["Retry-After"].isdigit()
