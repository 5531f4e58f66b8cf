"""The REST API of the real service.

Scopes on every endpoint, suppression of small totals, revocation and expiry of tokens,
failed-login limits, the audit log a page at a time, CSV export, TLS, and an OpenAPI document
that matches the routes. (Attacks on the login itself: tests/security/test_api_auth.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import time
from typing import Any

from openapi_spec_validator import validate
import pytest

from ioe_aggregator.api.openapi import document
from ioe_aggregator.app import build_services, create_app
from ioe_aggregator.auth.failed_logins import LOCKOUT_S, MAX_FAILURES
from ioe_aggregator.config import load_config
from ioe_aggregator.protocol.codec import MAX_PAYLOAD_BYTES
from ioe_aggregator.replicas import SoleReplica
from ioe_aggregator.store import open_store
from tests.community import QUARTER, T0, batch, payload

from .conftest import Answer, Community, StartAggregator, call, make_cups, wait_for_broker_status

# The day of the batches the members send (ten days ago).
RANGE = f"start={T0:%Y-%m-%dT%H:%M:%SZ}&end={T0 + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
FIXTURES = Path(__file__).parent / "distributor" / "fixtures"


@dataclass
class Api:
    """The running service and the tokens of the community's actors."""

    base: str
    community: Community
    tokens: dict[str, str]

    def __call__(self, method: str, path: str, who: str | None = None, body: Any = None) -> Answer:
        """Call the API as ``who`` (a member id, admin or public; None: no token)."""
        return call(self.base, method, path, self.tokens.get(who) if who else None, body)


@pytest.fixture
def api(community: Community, start_aggregator: StartAggregator) -> Iterator[Api]:
    """Start the service with members m-0001 and m-0002 (each with a day of data), and tokens."""
    tokens = {
        "m-0001": community.add_member("m-0001").api_token,
        "m-0002": community.add_member("m-0002").api_token,
        "admin": community.token("admin"),
        "public": community.token("public"),
    }
    _service, port = start_aggregator(**community.options)
    wait_for_broker_status(port, "connected")
    made = Api(f"http://127.0.0.1:{port}", community, tokens)
    for member in ("m-0001", "m-0002"):
        assert made("POST", "/api/v1/readings", member, batch(member, "b-1")).status == 200
    return made


# (method, path, body, who may): every endpoint of the API and the scopes it admits.
ENDPOINTS = [
    ("GET", "/api/v1/members", None, {"admin"}),
    (
        "POST",
        "/api/v1/members",
        {"id": "m-0009", "name": "Nueva", "cups": make_cups(900099), "contracted_kw": 3.3},
        {"admin"},
    ),
    ("GET", "/api/v1/members/m-0001", None, {"admin", "m-0001"}),
    ("POST", "/api/v1/members/m-0003/rotate", None, {"admin"}),
    ("GET", f"/api/v1/members/m-0001/readings?{RANGE}", None, {"admin", "m-0001"}),
    ("GET", f"/api/v1/members/m-0001/export.csv?{RANGE}", None, {"admin", "m-0001"}),
    ("GET", f"/api/v1/community/kpis?{RANGE}", None, {"admin", "public", "m-0001", "m-0002"}),
    ("GET", "/api/v1/community/overview", None, {"admin"}),
    ("GET", "/api/v1/members/status", None, {"admin"}),
    ("GET", f"/api/v1/completeness?from={T0:%Y-%m-%d}&to={T0:%Y-%m-%d}", None, {"admin"}),
    ("GET", "/api/v1/datadis", None, {"admin"}),
    ("GET", "/api/v1/tokens", None, {"admin"}),
    ("POST", "/api/v1/tokens", {"scope": "public", "label": "display"}, {"admin"}),
    ("GET", "/api/v1/audit", None, {"admin"}),
    ("POST", "/api/v1/readings", None, {"m-0001", "m-0002"}),
    ("GET", "/api/v1/members/m-0001/results", None, {"admin", "m-0001"}),
    ("POST", "/api/v1/results/publish", None, {"admin"}),
    ("GET", "/api/v1/agreements", None, {"admin"}),
    (
        "POST",
        "/api/v1/agreements",
        {"name": "2027", "scheme": "equal", "valid_from": "2027-01-01", "valid_to": "2027-12-31"},
        {"admin"},
    ),
    ("GET", "/api/v1/agreements/{past}", None, {"admin"}),
    ("PATCH", "/api/v1/agreements/{past}", {"valid_to": "2026-07-31"}, {"admin"}),
    ("DELETE", "/api/v1/agreements/{future}", None, {"admin"}),
    ("POST", "/api/v1/members/m-0003/revoke", None, {"admin"}),
    (
        "POST",
        "/api/v1/distributor/csv?name=x.csv",
        b"CUPS;FECHA;HORA;EHCR (kWh);EHEX (kWh)\n",
        {"admin"},
    ),
]


def test_every_endpoint_admits_only_its_scopes(api: Api) -> None:
    api.community.add_member("m-0003")  # rotated and revoked by the admin below
    agreements = {
        "{past}": {"name": "2026", "scheme": "power", "valid_from": "2026-01-01"},
        "{future}": {"name": "2030", "scheme": "equal", "valid_from": "2030-01-01"},
    }
    ids = {
        key: api("POST", "/api/v1/agreements", "admin", body).json()["id"]
        for key, body in agreements.items()
    }
    api("PATCH", f"/api/v1/agreements/{ids['{past}']}", "admin", {"valid_to": "2026-06-30"})
    outcomes = []
    for method, template, body, allowed in ENDPOINTS:
        path = template.format_map({key.strip("{}"): value for key, value in ids.items()})
        for who in ("public", "m-0002", "m-0001", "admin"):
            sent = batch(who, "scope") if path == "/api/v1/readings" else body
            if path.endswith("/revoke") and who != "admin":
                sent = None
            answer = api(method, path, who, sent)
            admitted = answer.status < 400
            outcomes.append((method, path, who, answer.status))
            assert admitted == (who in allowed), (method, path, who, answer.status, answer.body)
            if not admitted:
                assert answer.status == 403
                assert answer.json()["error"] == "forbidden"
    assert len(outcomes) == 4 * len(ENDPOINTS)


def test_a_member_token_never_returns_another_members_data(api: Api) -> None:
    own = api("GET", f"/api/v1/members/m-0001/readings?{RANGE}", "m-0001").json()
    assert {r["member"] for r in own} == {"m-0001"}
    for path in (
        "/api/v1/members/m-0002",
        f"/api/v1/members/m-0002/readings?{RANGE}",
        f"/api/v1/members/m-0002/export.csv?{RANGE}",
    ):
        answer = api("GET", path, "m-0001")
        assert answer.status == 403
        assert b"m-0002" not in answer.body or b"forbidden" in answer.body


def test_no_token_or_a_wrong_one_is_401(api: Api) -> None:
    missing = api("GET", "/api/v1/members")
    wrong = call(api.base, "GET", "/api/v1/members", "ioe_000000000000_" + "x" * 32)

    assert missing.status == wrong.status == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.json() == {"error": "unauthorized", "message": "a valid API token is required"}
    assert api("GET", "/api/health").status == 200  # health and the document need none
    assert api("GET", "/api/openapi.json").status == 200


def test_repeated_failed_logins_lock_out_bad_tokens_not_good_ones(api: Api) -> None:
    answers = [call(api.base, "GET", "/api/v1/members", "nonsense") for _ in range(MAX_FAILURES)]

    locked = call(api.base, "GET", "/api/v1/members", "nonsense")
    good = api("GET", "/api/v1/members", "admin")  # from the same address

    assert [a.status for a in answers] == [401] * MAX_FAILURES
    assert locked.status == 429
    assert locked.json()["error"] == "too_many_failures"
    assert LOCKOUT_S - 10 < int(locked.headers["Retry-After"]) <= LOCKOUT_S + 1
    assert good.status == 200
    entries = api("GET", "/api/v1/audit", "admin").json()["entries"]
    failed = [e for e in entries if e["action"] == "login_failed"]  # one a minute
    assert sum(e["occurrences"] for e in failed) == MAX_FAILURES + 1
    assert {e["actor"] for e in failed} == {"address:127.0.0.1"}
    assert sum(e["detail"]["routes"]["GET /api/v1/members"] for e in failed) == MAX_FAILURES + 1


def test_public_figures_need_five_contributing_members(api: Api) -> None:
    for number in range(3, 5):
        member = f"m-000{number}"
        token = api.community.add_member(member).api_token
        assert call(api.base, "POST", "/api/v1/readings", token, batch(member, "b")).status == 200

    four_public = api("GET", f"/api/v1/community/kpis?{RANGE}", "public").json()
    four_admin = api("GET", f"/api/v1/community/kpis?{RANGE}", "admin").json()
    token = api.community.add_member("m-0005").api_token
    call(api.base, "POST", "/api/v1/readings", token, batch("m-0005", "b"))
    five_public = api("GET", f"/api/v1/community/kpis?{RANGE}", "public").json()

    assert four_public["members_contributing"] == 4
    assert four_public["suppressed"] is True
    assert four_public["import_kwh"] is None
    assert four_admin["suppressed"] is False
    assert four_admin["import_kwh"] == 4.0  # 4 members × 4 quarter hours × 0.25 kWh
    assert five_public["suppressed"] is False
    assert five_public["import_kwh"] == 5.0


def home_batch(member: str, readings: dict[tuple[str, str], float]) -> dict[str, Any]:
    """Return a batch of the 9th quarter hour of the day: measure (meter, quantity) → kWh."""
    message = batch(member, "mixed", first=8, count=1)
    first = message["readings"][0]
    message["readings"] = [
        first | {"meter": meter, "quantity": quantity, "value": value}
        for (meter, quantity), value in readings.items()
    ]
    return message


def test_community_figures_total_each_measure_once(api: Api) -> None:
    # Five homes with a meter at the supply point, their own panels, a battery and a car; the
    # car's charging is part of the home's consumption and the panels are not the plant.
    readings = {
        ("grid", "consumption_kwh"): 1.0,
        ("grid", "import_kwh"): 0.4,
        ("grid", "export_kwh"): 0.1,
        ("pv", "generation_kwh"): 0.6,
        ("ev", "consumption_kwh"): 0.3,
        ("battery", "charge_kwh"): 0.05,
        ("battery", "discharge_kwh"): 0.02,
    }
    api.community.cli("members", "plant", "m-0001", "--kw", "20")
    tokens = dict(api.tokens)
    for number in range(3, 6):
        tokens[f"m-{number:04d}"] = api.community.add_member(f"m-{number:04d}").api_token
    for number in range(1, 6):
        member = f"m-{number:04d}"
        # m-0001's plant, and m-0002's "plant", which is registered nowhere.
        plant = {("plant", "generation_kwh"): 2.0} if number <= 2 else {}
        message = home_batch(member, readings | plant)
        sent = call(api.base, "POST", "/api/v1/readings", tokens[member], message)
        assert sent.status == 200, sent.body
    quarter = T0 + 8 * QUARTER
    span = f"start={quarter:%Y-%m-%dT%H:%M:%SZ}&end={quarter + QUARTER:%Y-%m-%dT%H:%M:%SZ}"

    figures = api("GET", f"/api/v1/community/kpis?{span}", "admin").json()

    assert {k: figures[k] for k in figures if k.endswith("_kwh")} == {
        "consumption_kwh": 5.0,  # not 6.5: the cars are in it
        "generation_kwh": 2.0,  # the registered plant, not the rooftops nor m-0002's
        "import_kwh": 2.0,
        "export_kwh": 0.5,
        "rooftop_generation_kwh": 3.0,
        "ev_charging_kwh": 1.5,
        "battery_charge_kwh": 0.25,
        "battery_discharge_kwh": 0.1,
    }
    assert figures["grid_independence"] == 0.6
    assert figures["contributors"]["generation_kwh"] == 1
    assert figures["contributors"]["consumption_kwh"] == 5
    public = api("GET", f"/api/v1/community/kpis?{span}", "public").json()
    assert public["withheld"] == ["generation_kwh"]  # one plant: its own figures
    assert public["consumption_kwh"] == 5.0
    assert public["grid_independence"] == 0.6


def test_revoked_tokens_fail_at_once(api: Api) -> None:
    assert api("GET", "/api/v1/members/m-0001", "m-0001").status == 200
    api.community.cli("members", "revoke", "m-0001")  # another process, same database
    public_id = json.loads(api.community.cli("tokens", "list", "--json").stdout)
    public_id = next(t["id"] for t in public_id if t["scope"] == "public")
    assert api("POST", f"/api/v1/tokens/{public_id}/revoke", "admin").status == 200

    assert api("GET", "/api/v1/members/m-0001", "m-0001").status == 401
    assert api("GET", f"/api/v1/community/kpis?{RANGE}", "public").status == 401


def test_the_audit_log_comes_newest_first_a_page_at_a_time(api: Api) -> None:
    for number in range(5):
        api("POST", "/api/v1/tokens", "admin", {"scope": "public", "label": f"display {number}"})

    everything = api("GET", "/api/v1/audit?limit=1000", "admin").json()
    pages, before = [], ""
    while True:
        page = api("GET", f"/api/v1/audit?limit=3{before}", "admin").json()
        pages.append(page["entries"])
        if page["next"] is None:
            break
        before = f"&before={page['next']}"

    assert everything["next"] is None
    assert [e for page in pages for e in page] == everything["entries"]
    assert all(len(page) == 3 for page in pages[:-1])
    times = [datetime.fromisoformat(e["at"]) for e in everything["entries"]]
    assert times == sorted(times, reverse=True)
    labels = [e["detail"] for e in everything["entries"] if e["action"] == "token_created"][:5]
    assert all(detail["scope"] == "public" for detail in labels)
    assert {e["occurrences"] for e in everything["entries"]} == {1}
    for query, reason in (
        ("limit=0", "limit: expected 1 to 1000"),
        ("limit=1001", "limit: expected 1 to 1000"),
        ("limit=many", "limit: expected 1 to 1000"),
        ("before=bm9wZQ", "is not a cursor"),
        ("before=%25%25", "is not a cursor"),
    ):
        answer = api("GET", f"/api/v1/audit?{query}", "admin")
        assert answer.status == 400, query
        assert reason in answer.json()["message"]


def test_tokens_can_expire(api: Api) -> None:
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    soon_text = soon.isoformat().replace("+00:00", "Z")
    made = api(
        "POST", "/api/v1/tokens", "admin", {"scope": "public", "label": "s", "expires": soon_text}
    ).json()
    in_a_month = api(
        "POST", "/api/v1/tokens", "admin", {"scope": "admin", "label": "m", "expires_in_days": 30}
    ).json()
    before = call(api.base, "GET", f"/api/v1/community/kpis?{RANGE}", made["token"])
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 1.1)
    after = call(api.base, "GET", f"/api/v1/community/kpis?{RANGE}", made["token"])
    listed = {t["id"]: t for t in api("GET", "/api/v1/tokens", "admin").json()}

    assert made["expires"] == soon_text
    assert made["expired"] is False
    assert before.status == 200
    assert after.status == 401
    assert listed[made["id"]]["expired"] is True
    expires = datetime.fromisoformat(in_a_month["expires"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert listed[in_a_month["id"]]["expired"] is False
    member_tokens = [t for t in listed.values() if t["scope"] == "member"]
    assert member_tokens
    assert all(t["expires"] is None for t in member_tokens)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"expires": "2020-01-01T00:00:00Z"}, "is not in the future"),
        ({"expires": "2030-01-01T00:00:00"}, "expected a UTC date-time"),
        ({"expires": "soon"}, "expected a UTC date-time"),
        ({"expires_in_days": 0}, "expires_in_days: expected 1 to 3650 days"),
        ({"expires_in_days": 99999}, "expires_in_days: expected 1 to 3650 days"),
        ({"expires_in_days": "7"}, "expires_in_days: expected a whole number"),
        ({"expires_in_days": 7, "expires": "2030-01-01T00:00:00Z"}, "not both"),
    ],
)
def test_bad_expiries_are_refused(api: Api, fields: dict[str, Any], reason: str) -> None:
    answer = api("POST", "/api/v1/tokens", "admin", {"scope": "public", "label": "x", **fields})

    assert answer.status == 400
    assert reason in answer.json()["message"]


def test_the_api_never_revokes_the_last_admin_token(api: Api) -> None:
    tokens = api("GET", "/api/v1/tokens", "admin").json()
    first = next(t["id"] for t in tokens if t["scope"] == "admin")

    alone = api("POST", f"/api/v1/tokens/{first}/revoke", "admin")
    second = api("POST", "/api/v1/tokens", "admin", {"scope": "admin", "label": "second"}).json()
    api.tokens["second"] = second["token"]
    by_the_second = api("POST", f"/api/v1/tokens/{first}/revoke", "second")
    itself = api("POST", f"/api/v1/tokens/{second['id']}/revoke", "second")

    assert alone.status == 409
    assert alone.json()["error"] == "last_admin_token"
    assert "last active admin token" in alone.json()["message"]
    assert by_the_second.status == 200
    assert api("GET", "/api/v1/tokens", "admin").status == 401
    assert itself.status == 409
    assert api("GET", "/api/v1/tokens", "second").status == 200


def test_readings_over_https_are_acked_like_over_mqtt(api: Api) -> None:
    first = api("POST", "/api/v1/readings", "m-0001", batch("m-0001", "b-2", first=4))
    again = api("POST", "/api/v1/readings", "m-0001", batch("m-0001", "b-2", first=4))

    assert first.json() == {"schema": "ioe.ack.v1", "batches": ["b-2"], "stored": 4}
    assert again.json() == {"schema": "ioe.ack.v1", "batches": ["b-2"], "stored": 0}


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"{nope", 400, "not_json"),
        (payload({**batch("m-0001", "x"), "readings": "none"}), 400, "schema"),
        (payload(batch("m-0002", "x")), 400, "wrong_member"),
        (payload(batch("m-0001", "x")) + b" " * MAX_PAYLOAD_BYTES, 400, "oversize"),
    ],
    ids=["malformed", "schema", "wrong-member", "oversize"],
)
def test_bad_batches_over_https_are_refused_with_the_reason(
    api: Api, body: bytes, status: int, kind: str
) -> None:
    answer = api("POST", "/api/v1/readings", "m-0001", body)

    assert answer.status == status
    assert answer.json()["error"] == kind
    health = api("GET", "/api/health").json()
    assert health["ingest"]["refused"] == {kind: 1}


def test_csv_export_holds_the_members_readings_and_is_audited(api: Api) -> None:
    answer = api("GET", f"/api/v1/members/m-0001/export.csv?{RANGE}", "m-0001")

    lines = answer.body.decode().splitlines()
    assert answer.headers["Content-Type"].startswith("text/csv")
    filename = f"m-0001_{T0:%Y%m%d}_{T0 + timedelta(days=1):%Y%m%d}.csv"
    assert f'filename="{filename}"' in answer.headers["Content-Disposition"]
    assert lines[0] == "member,meter,quantity,start,end,value_kwh,quality,source,changes"
    first = f"{T0:%Y-%m-%dT%H:%M:%SZ},{T0 + QUARTER:%Y-%m-%dT%H:%M:%SZ}"
    assert lines[1] == f"m-0001,grid,import_kwh,{first},0.25,measured,member,0"
    assert len(lines) == 5
    audit = api("GET", "/api/v1/audit", "admin").json()["entries"]
    export = [e for e in audit if e["action"] == "export"]
    assert export[0]["subject"] == "m-0001"
    assert export[0]["detail"]["readings"] == 4


def test_members_through_the_api(api: Api) -> None:
    new = {
        "id": "m-0010",
        "name": "Casa Diez",
        "cups": make_cups(900010),
        "contracted_kw": 5.75,
    }
    bad_cups = api("POST", "/api/v1/members", "admin", {**new, "cups": "ES123"})
    added = api("POST", "/api/v1/members", "admin", new)
    again = api("POST", "/api/v1/members", "admin", new)
    missing = api("POST", "/api/v1/members", "admin", {"id": "m-0011"})
    unknown = api("POST", "/api/v1/members/m-0404/rotate", "admin")
    # Bodies the document forbids, which float() and bool() used to take.
    wrong = {
        field: api("POST", "/api/v1/members", "admin", {**new, "id": "m-0012", **value})
        for field, value in (
            ("contracted_kw", {"contracted_kw": "4.6"}),
            ("vulnerable", {"vulnerable": "no"}),
            ("extra", {"iban": "ES00"}),
        )
    }

    assert bad_cups.status == 400
    assert "CUPS 'ES123'" in bad_cups.json()["message"]
    assert added.status == 201
    assert added.json()["join_code"].startswith("IOE1-")
    assert again.status == 409
    assert missing.status == 400
    assert missing.json()["message"] == "missing field 'name'"
    assert unknown.status == 404
    assert {field: (a.status, a.json()["message"]) for field, a in wrong.items()} == {
        "contracted_kw": (400, "contracted_kw: expected a number, got '4.6'"),
        "vulnerable": (400, "vulnerable: expected true or false, got 'no'"),
        "extra": (400, "unexpected field 'iban'"),
    }


def test_bad_time_ranges_are_refused(api: Api) -> None:
    for query, reason in (
        ("", "missing query parameter 'start'"),
        ("start=yesterday&end=2026-11-25T00:00:00Z", "is not an ISO 8601 time"),
        ("start=2026-11-24T00:00:00&end=2026-11-25T00:00:00Z", "give the time zone"),
        ("start=2026-11-25T00:00:00Z&end=2026-11-24T00:00:00Z", "end must come after start"),
        ("start=2020-01-01T00:00:00Z&end=2026-11-24T00:00:00Z", "at most 366 days"),
    ):
        answer = api("GET", f"/api/v1/members/m-0001/readings?{query}", "m-0001")
        assert answer.status == 400
        assert reason in answer.json()["message"]
    # HEAD is answered by the GET handler: it is checked as GET is.
    assert api("HEAD", "/api/v1/members/m-0001/readings?start=yesterday", "m-0001").status == 400


async def test_the_openapi_document_validates_and_matches_the_routes(tmp_path: Path) -> None:
    config = load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"})
    store = await open_store(config.database_url)
    try:
        app = create_app(config, await build_services(config, store, SoleReplica(store)))
        spec = document()
        validate(spec)
        served = {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.method != "HEAD" and route.resource is not None
        }
        # The control centre's, the member portal's and the public display's pages and files
        # are not part of the API (nor of its document).
        pages = {
            ("GET", "/"),
            ("GET", "/static/{version}/{path}"),
            ("GET", "/portal"),
            ("GET", "/portal/"),
            ("GET", "/display"),
            ("GET", "/display/logo"),
        }
        assert pages <= served
        routes = served - pages
        documented = {
            (method.upper(), path)
            for path, item in spec["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        }
        assert routes == documented
    finally:
        await store.close()


def test_bad_agreements_are_refused_with_their_reason(api: Api) -> None:
    for body, reason in (
        ({"name": "x", "scheme": "equal"}, "missing field 'valid_from'"),
        ({"name": "x", "scheme": "equal", "valid_from": "1/1/2027"}, "is not a date"),
        (
            {"name": "x", "scheme": "equal", "coefficients": {}, "valid_from": "2027-01-01"},
            "exactly one of scheme, coefficients or file",
        ),
        (
            {"name": "x", "coefficients": {"m-0001": "half"}, "valid_from": "2027-01-01"},
            "coefficients.m-0001: expected a number, got 'half'",
        ),
        (
            {
                "name": "x",
                "file": {"name": "a.txt", "content_base64": "%%"},
                "valid_from": "2027-01-01",
            },
            "is not base64",
        ),
        ({"name": "x", "scheme": "lottery", "valid_from": "2027-01-01"}, "choose one of"),
    ):
        answer = api("POST", "/api/v1/agreements", "admin", body)
        assert answer.status == 400, body
        assert reason in answer.json()["message"]
    assert api("GET", "/api/v1/agreements/a-0000000000", "admin").status == 404
    assert api("PATCH", "/api/v1/agreements/a-0000000000", "admin", {"name": "y"}).status == 400


def test_distributor_csv_upload_and_its_readings(api: Api) -> None:
    cups = make_cups(777001)
    api.community.add_member("m-0005", 777001)
    fixture = FIXTURES / "edistribucion_october.csv"
    text = fixture.read_text().replace(make_cups(1), cups)
    october = "start=2025-10-01T00:00:00Z&end=2025-11-01T00:00:00Z"

    answer = api("POST", "/api/v1/distributor/csv?name=october.csv", "admin", text.encode())
    stored = api("GET", f"/api/v1/members/m-0005/readings?{october}&source=distributor", "admin")
    own = api("GET", f"/api/v1/members/m-0005/readings?{october}", "admin")
    reconciled = api("GET", "/api/v1/reconciliation?from=2025-10&to=2025-10", "admin")

    assert answer.status == 200, answer.body
    report = answer.json()
    assert (report["file"], report["format"], report["rows"]) == (
        "october.csv",
        "edistribucion",
        49,
    )
    assert [(m["member"], m["month"], m["new"]) for m in report["months"]] == [
        ("m-0005", "2025-10", 147)
    ]
    assert len(stored.json()) == 147
    assert {r["source"] for r in stored.json()} == {"distributor"}
    assert own.json() == []
    assert [(m["member"], m["hours_distributor"], m["hours_both"]) for m in reconciled.json()] == [
        ("m-0005", 49, 0)
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/v1/distributor/csv", b"a;b;c\n1;2;3\n", 400, "no header among the first 2 lines"),
        ("/api/v1/distributor/csv", b"", 400, "the file is empty"),
        ("/api/v1/distributor/csv?member=m-0404", b"x", 404, "m-0404"),
        (f"/api/v1/members/m-0001/readings?{RANGE}&source=meter", None, 400, "source"),
        ("/api/v1/reconciliation?from=2026-13&to=2026-12", None, 400, "YYYY-MM"),
        ("/api/v1/reconciliation?from=2020-01&to=2026-12", None, 400, "at most 36 months"),
    ],
)
def test_bad_distributor_requests(
    api: Api, path: str, body: bytes | None, status: int, message: str
) -> None:
    method = "GET" if body is None else "POST"
    answer = api(method, path, "admin", body)

    assert answer.status == status
    assert message in answer.json()["message"]
