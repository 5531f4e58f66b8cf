"""The control centre's data through the REST API of the real service, broker and database.

The overview, the members' status, the completeness heat-map and the Control page's data, as a
viewer reads them: homes that say they are online (with a backlog, with their local control),
live power that turns the community signal, readings ten days old, and bad ranges. (Datadis's
status and sync: tests/aggregator/datadis/test_api.py.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.community import PREFIX, QUARTER, T0, batch, live_batch

from .conftest import Answer, Community, StartAggregator, call, start_service

MADRID = ZoneInfo("Europe/Madrid")


@dataclass
class Api:
    """The running service and tokens: two members', a viewer's and an admin's."""

    base: str
    community: Community
    tokens: dict[str, str]

    def __call__(self, method: str, path: str, who: str, body: Any = None) -> Answer:
        """Call the API as ``who``."""
        return call(self.base, method, path, self.tokens[who], body)

    def wait_for(self, path: str, check: Any, timeout_s: float = 20) -> dict[str, Any]:
        """GET ``path`` as the viewer until ``check(body)`` holds; return the body."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self("GET", path, "viewer").json()
            if check(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.2)


@pytest.fixture
def api(community: Community, start_aggregator: StartAggregator) -> Api:
    """Start the service with members m-0001 and m-0002, and the tokens."""
    tokens = {
        "m-0001": community.add_member("m-0001").api_token,
        "m-0002": community.add_member("m-0002").api_token,
        "viewer": community.token("viewer"),
        "admin": community.token("admin"),
        "public": community.token("public"),
    }
    _service, port = start_service(community, start_aggregator)
    return Api(f"http://127.0.0.1:{port}", community, tokens)


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_members_status_and_the_overview(api: Api) -> None:
    code = api.community.add_member("m-0003")  # online, never a reading
    home = api.community.connect("m-0003", code.mqtt_password)
    status = {"schema": "ioe.status.v1", "state": "online", "version": "1.0", "backlog": 6}
    home.publish(f"{PREFIX}/m/m-0003/status", json.dumps(status), retain=True)
    assert api("PUT", "/api/v1/members/m-0002/plant", "admin", {"plant_kw": 5}).status == 200
    assert (
        api("POST", "/api/v1/readings", "m-0001", live_batch("m-0001", "a", grid_w=1500)).status
        == 200
    )
    sent = live_batch("m-0002", "b", grid_w=-400, plant_w=3000)
    assert api("POST", "/api/v1/readings", "m-0002", sent).status == 200
    assert api("POST", "/api/v1/results/publish", "admin").status == 200

    members = api.wait_for(
        "/api/v1/members/status", lambda body: body["members"][2]["online"] is not None
    )
    one, two, three = members["members"]
    assert members["agreement"] is None
    assert (one["member"], one["online"], one["backlog"]) == ("m-0001", None, None)
    assert one["last_reading"] == _utc(T0 + QUARTER)
    assert one["datadis"] is None
    assert one["share"] is None
    assert two["last_reading"] == _utc(T0 + QUARTER)
    assert (three["online"], three["backlog"], three["last_reading"]) == (True, 6, None)
    assert three["online_since"] == three["backlog_at"]

    overview = api("GET", "/api/v1/community/overview", "viewer").json()
    assert overview["now"] | {"at": None} == {
        "at": None,
        "generation_w": 3000.0,
        "consumption_w": 1500.0,
        "import_w": 1500.0,
        "export_w": 400.0,
        "self_consumed_share": 0.5,
    }
    assert overview["members"] == {"active": 3, "online": 1, "offline": 2}
    yesterday = (datetime.now(MADRID) - timedelta(days=1)).date().isoformat()
    assert overview["data_gaps"] == {
        "day": yesterday,
        "members": ["m-0001", "m-0002", "m-0003"],
    }
    assert overview["today"]["import_kwh"] == 0.0  # the readings are ten days old
    assert overview["datadis"]["configured"] is False
    alerts = {(alert["kind"], alert["member"]) for alert in overview["alerts"]}
    assert alerts == {
        ("member_silent", "m-0001"),
        ("member_silent", "m-0002"),
        ("outbox_backlog", "m-0003"),
    }
    silent = next(a for a in overview["alerts"] if a["member"] == "m-0001")
    assert silent["since"] == _utc(T0 + QUARTER)

    # The home goes: its last will (here sent by hand) says offline.
    offline = {"schema": "ioe.status.v1", "state": "offline"}
    home.publish(f"{PREFIX}/m/m-0003/status", json.dumps(offline), retain=True)
    members = api.wait_for(
        "/api/v1/members/status", lambda body: body["members"][2]["online"] is False
    )
    assert members["members"][2]["backlog"] is None
    assert api("GET", "/api/v1/datadis", "viewer").json()["configured"] is False
    assert api("POST", "/api/v1/datadis/sync", "viewer").status == 403
    unconfigured = api("POST", "/api/v1/datadis/sync", "admin")
    assert (unconfigured.status, unconfigured.json()["error"]) == (409, "datadis_not_configured")
    for who in ("m-0001", "public"):
        for path in ("/api/v1/members/status", "/api/v1/community/overview"):
            assert api("GET", path, who).status == 403


def _local_quarters(day: date, start: datetime, count: int) -> int:
    """Return how many of ``count`` quarter hours from ``start`` lie in the local ``day``."""
    return sum((start + n * QUARTER).astimezone(MADRID).date() == day for n in range(count))


def test_completeness_per_local_day(api: Api) -> None:
    whole_day = batch("m-0001", "day", count=96)
    assert api("POST", "/api/v1/readings", "m-0001", whole_day).status == 200
    first = T0.astimezone(MADRID).date()
    days = [first - timedelta(days=1), first, first + timedelta(days=1)]

    answer = api("GET", f"/api/v1/completeness?from={days[0]}&to={days[-1]}", "viewer")

    assert answer.status == 200
    body = answer.json()
    assert (body["from"], body["to"], body["timezone"]) == (
        str(days[0]),
        str(days[-1]),
        "Europe/Madrid",
    )
    assert body["days"] == [str(day) for day in days]
    assert body["quarter_hours"] == [96, 96, 96]  # ten days ago is no clock change here
    shares = {m["member"]: m["fractions"] for m in body["members"]}
    expected = [round(_local_quarters(day, T0, 96) / 96, 4) for day in days]
    assert shares["m-0001"] == {"member": expected, "distributor": [0.0] * 3}
    assert shares["m-0002"]["member"] == [0.0] * 3
    assert api("GET", f"/api/v1/completeness?from={first}&to={first}", "m-0001").status == 403


# Bad days, and the refusal's code and message.
BAD_DAYS = [
    ("from=2026-02-30&to=2026-03-01", "invalid", "from"),
    ("from=2026-01-01&to=2026-1-2", "invalid", "to"),
    ("from=2026-01-01", "invalid", "missing query parameter 'to'"),
    ("from=2026-03-02&to=2026-03-01", "bad_range", "to must not come before from"),
    ("from=2025-01-01&to=2026-01-02", "range_too_long", "at most 366 days"),
]


def test_bad_days_are_refused_and_a_leap_year_fits(api: Api) -> None:
    for query, code, says in BAD_DAYS:
        answer = api("GET", f"/api/v1/completeness?{query}", "viewer")

        assert answer.status == 400, query
        assert answer.json()["error"] == code
        assert says in answer.json()["message"]
    answer = api("GET", "/api/v1/completeness?from=2028-01-01&to=2028-12-31", "viewer")
    assert answer.status == 200
    assert len(answer.json()["days"]) == 366


def test_control_shows_the_signal_its_changes_and_the_homes_local_control(api: Api) -> None:
    # The service records the signal it publishes as it starts: nobody reports power, normal.
    started = api.wait_for("/api/v1/control", lambda body: body["history"])
    assert [change["kind"] for change in started["history"]] == ["normal"]
    time.sleep(1)  # the history keeps whole seconds: the next change must not share its second
    code = api.community.add_member("m-0003")
    home = api.community.connect("m-0003", code.mqtt_password)
    control = {
        "devices": [
            {"id": "battery", "kind": "battery", "mode": "use_my_share"},
            {
                "id": "wallbox",
                "kind": "charger",
                "mode": "surplus",
                "since": "2026-11-24T09:00:00Z",
            },
        ]
    }
    status = {"schema": "ioe.status.v1", "state": "online", "version": "1.0", "control": control}
    home.publish(f"{PREFIX}/m/m-0003/status", json.dumps(status), retain=True)
    assert api("PUT", "/api/v1/members/m-0002/plant", "admin", {"plant_kw": 5}).status == 200

    # 3000 W from the plant, 500 W taken from the grid: surplus; then 4000 W taken: deficit.
    for batch_id, grid_w in (("a", 500), ("b", 4000)):
        sent = live_batch("m-0001", batch_id, grid_w=grid_w)
        assert api("POST", "/api/v1/readings", "m-0001", sent).status == 200
        plant = live_batch("m-0002", batch_id, grid_w=-100, plant_w=3000)
        assert api("POST", "/api/v1/readings", "m-0002", plant).status == 200
        assert api("POST", "/api/v1/results/publish", "admin").status == 200
        time.sleep(1)  # the history keeps whole seconds
    # The minute's publishing in between changes nothing: the same kind is not written again.
    assert api("POST", "/api/v1/results/publish", "admin").status == 200

    body = api.wait_for("/api/v1/control", lambda body: body["members"][-1]["control"] is not None)
    today = datetime.now(MADRID).date()
    assert (body["from"], body["to"]) == (str(today - timedelta(days=6)), str(today))
    midnight = datetime.combine(today - timedelta(days=6), datetime.min.time(), MADRID)
    assert body["start"] == _utc(midnight.astimezone(UTC))
    assert (body["signal"]["kind"], body["balance_w"], body["threshold_w"]) == (
        "deficit",
        -1000.0,
        500.0,
    )
    assert [(c["kind"], c["balance_w"]) for c in body["history"]] == [
        ("normal", 0.0),
        ("surplus", 2500.0),
        ("deficit", -1000.0),
    ]
    homes = {m["member"]: m for m in body["members"]}
    assert list(homes) == ["m-0001", "m-0002", "m-0003"]
    assert (homes["m-0001"]["online"], homes["m-0001"]["control"]) == (None, None)
    reported = homes["m-0003"]
    assert (reported["name"], reported["online"]) == ("Hogar m-0003", True)
    assert reported["control"]["devices"] == [
        {"id": "battery", "kind": "battery", "mode": "use_my_share", "since": None},
        {"id": "wallbox", "kind": "charger", "mode": "surplus", "since": "2026-11-24T09:00:00Z"},
    ]

    # The home goes (its last will says offline): its local control goes on, still shown.
    offline = {"schema": "ioe.status.v1", "state": "offline"}
    home.publish(f"{PREFIX}/m/m-0003/status", json.dumps(offline), retain=True)
    body = api.wait_for("/api/v1/control", lambda body: body["members"][-1]["online"] is False)
    assert body["members"][-1]["control"] == reported["control"]
    # Days before the first change have no history; the ones asked for are given back.
    week_ago = today - timedelta(days=7)
    earlier = api("GET", f"/api/v1/control?from={week_ago}&to={week_ago}", "viewer").json()
    assert (earlier["from"], earlier["to"], earlier["history"]) == (
        str(week_ago),
        str(week_ago),
        [],
    )
    since_yesterday = api("GET", f"/api/v1/control?from={today - timedelta(days=1)}", "viewer")
    assert len(since_yesterday.json()["history"]) == 3
    for query, code in (
        ("from=2026-03-02&to=2026-03-01", "bad_range"),
        ("from=2025-01-01&to=2026-01-02", "range_too_long"),
        ("to=2026-02-30", "invalid"),
    ):
        answer = api("GET", f"/api/v1/control?{query}", "viewer")
        assert (answer.status, answer.json()["error"]) == (400, code), query
    for who in ("m-0001", "public"):
        assert api("GET", "/api/v1/control", who).status == 403
