"""The member portal's way in and what it reaches, against the real service.

Access links and codes (issued, replaced, revoked, expired), the portal session's cookie, the
routes a portal session reaches (every route of the application, enumerated, so that a new one
cannot slip past), the failed sign-ins' limits, the member's months and data, the command
line, the audit log, and no secret in the service's log.
"""

from __future__ import annotations

import csv
from datetime import timedelta
import io
import json
from pathlib import Path
import re

import pytest

from ioe_aggregator.app import build_services, create_app
from ioe_aggregator.auth.failed_logins import MAX_FAILURES
from ioe_aggregator.config import load_config
from ioe_aggregator.replicas import SoleReplica
from ioe_aggregator.store import open_store
from tests.community import T0, batch, call
from tests.portal.conftest import DAY, PORTAL_HEADER, Portal, send

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

RANGE = f"start={T0:%Y-%m-%dT%H:%M:%SZ}&end={T0 + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}"
# The routes a portal session may call, each with the query it needs: its member's own data,
# the community's aggregates, and its own session. Any other route of the application must
# refuse it; this list changes only on purpose.
MEMBER_SAFE = {
    "GET /api/v1/portal/session": "",
    "DELETE /api/v1/portal/session": "",
    "GET /api/v1/members/{member}": "",
    "GET /api/v1/members/{member}/results": "",
    "GET /api/v1/members/{member}/energy": f"?period=day&date={DAY}",
    "GET /api/v1/members/{member}/months": f"?year={DAY.year}",
    "GET /api/v1/members/{member}/readings": f"?{RANGE}",
    "GET /api/v1/members/{member}/export.csv": f"?{RANGE}",
    "GET /api/v1/members/{member}/data.json": "",
    "GET /api/v1/members/{member}/data.csv": "",
    "GET /api/v1/community/kpis": f"?{RANGE}",
}
# Routes outside the API that anyone may load: pages, their files, health, the API's document.
PUBLIC = {
    "GET /",
    "GET /static/{version}/{path}",
    "GET /portal",
    "GET /portal/",
    "GET /api/health",
    "GET /api/openapi.json",
    # The public display and its open data: the community's totals, for anyone.
    "GET /display",
    "GET /display/logo",
    "GET /api/public/v1/community",
    # Signing in comes before any session.
    "POST /api/v1/session",
    "POST /api/v1/portal/session",
}
# Other systems' contracts, each behind a key of its own (a header no browser sends).
OWN_KEY = {
    "GET /api/provider/v1/project/{project}",
    "GET /api/provider/v1/project/{project}/members/{member}",
}


async def _routes(tmp_path: Path) -> set[str]:
    """Return every route of the application (method and pattern), as the service builds it."""
    config = load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"})
    store = await open_store(config.database_url)
    try:
        app = create_app(config, await build_services(config, store, SoleReplica(store)))
        return {
            f"{route.method} {route.resource.canonical}"
            for route in app.router.routes()
            if route.method != "HEAD" and route.resource is not None
        }
    finally:
        await store.close()


def _signed_in(portal: Portal, member: str = "m-0001") -> tuple[str, str]:
    """Issue ``member`` a link, sign in with it; return the cookie and the CSRF token."""
    issued = portal.issue(member)
    answer, cookie = portal.sign_in({"link": issued["path"].removeprefix("portal#k=")})
    assert answer.status == 200, answer.body
    assert cookie is not None
    return cookie, answer.json()["csrf"]


async def test_a_portal_session_reaches_its_own_data_and_nothing_else(
    portal: Portal, tmp_path: Path
) -> None:
    routes = await _routes(tmp_path)
    assert set(MEMBER_SAFE) <= routes
    cookie, csrf = _signed_in(portal)
    headers = {**PORTAL_HEADER, "X-CSRF-Token": csrf}
    fill = {
        "member": "m-0001", "agreement": "x", "token": "x", "user": "x", "comparison": "x",
        "project": "x", "month": "2025-01", "valid_from": "2025-01-01", "webhook": "wh-0123456789",
        "event": "evt_x", "import": "imp_20261206T000000_abcd",
    }  # fmt: skip
    refused = []
    for route in sorted(routes - PUBLIC):
        method, pattern = route.split(" ", 1)
        path = re.sub(r"\{(\w+)\}", lambda match: fill[match[1]], pattern)
        if route in MEMBER_SAFE:
            if "{member}" not in pattern or method != "GET":
                continue
            # Another member's, by URL: refused, with or without the portal's header.
            other = path.replace("m-0001", "m-0002") + MEMBER_SAFE[route]
            for sent in (headers, {}):
                answer = send(portal.base, method, other, cookie=cookie, headers=sent)
                assert answer.status == 403, (route, answer.status, answer.body)
                assert answer.json()["error"] == "forbidden"
            own = send(
                portal.base, method, path + MEMBER_SAFE[route], cookie=cookie, headers=headers
            )
            assert own.status == 200, (route, own.status, own.body)
            continue
        if route in OWN_KEY:
            # The portal's cookie is no key there.
            answer = send(portal.base, method, path, cookie=cookie, headers=headers)
            assert answer.status in {401, 429}, (route, answer.status, answer.body)
            continue
        assert pattern.startswith("/api/v1/"), f"{route} is neither public nor the API's"
        answer = send(portal.base, method, path, cookie=cookie, body={}, headers=headers)
        assert answer.status == 403, (route, answer.status, answer.body)
        assert answer.json()["error"] == "portal_only"
        # Without the portal's header its cookie counts for nothing there: nobody signed in
        # (and too many of those are failed logins).
        answer = send(portal.base, method, path, cookie=cookie, body={})
        assert answer.status in {401, 429}, (route, answer.status, answer.body)
        refused.append(route)
    # Every route of the control centre and of the homes is among them.
    assert {
        "GET /api/v1/session",
        "POST /api/v1/readings",
        "GET /api/v1/members",
        "POST /api/v1/members/{member}/portal-link",
        "GET /api/v1/audit",
    } <= set(refused)
    # The session still works: nothing above ended it.
    assert (
        send(
            portal.base, "GET", "/api/v1/portal/session", cookie=cookie, headers=PORTAL_HEADER
        ).status
        == 200
    )


def test_a_portal_session_never_sends_readings(portal: Portal) -> None:
    cookie, csrf = _signed_in(portal)
    answer = send(
        portal.base,
        "POST",
        "/api/v1/readings",
        cookie=cookie,
        body=batch("m-0001", "portal"),
        headers={**PORTAL_HEADER, "X-CSRF-Token": csrf},
    )
    assert answer.status == 403


def test_the_link_signs_in_once_shown_and_its_session_is_a_safe_cookie(portal: Portal) -> None:
    issued = portal.issue("m-0001", days=30)
    secret = issued["path"].removeprefix("portal#k=")
    # At the address members reach: the API's public address.
    public = portal.community.options["public_api_url"]
    assert issued["url"] == f"{public}/portal#k={secret}"
    # 256 random bits, URL-safe; a code of 4 groups of 4 whose first group is the link's id.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", issued["code"])
    assert issued["code"].startswith(issued["link"]["id"])
    assert issued["qr_svg"].startswith("<svg")
    link = issued["link"]
    assert link["state"] == "active"
    assert link["member"] == "m-0001"
    answer, cookie = portal.sign_in({"link": secret})
    assert answer.status == 200
    session = answer.json()
    assert session["member"] == {"id": "m-0001", "name": "Hogar m-0001"}
    assert session["community"]["name"] == "Comunidad Los Molinos"
    assert session["link"]["expires"] == link["expires"]
    set_cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    assert "Path=/" in set_cookie
    # A link signs in as often as the member opens it (a mail scanner's visit costs nothing).
    again, second = portal.sign_in({"link": secret})
    assert again.status == 200
    assert second != cookie
    # Neither secret is kept, nor shown again, nor logged.
    listed = call(portal.base, "GET", "/api/v1/members/m-0001/portal-links", portal.admin)
    assert listed.status == 200
    assert [one["id"] for one in listed.json()] == [link["id"]]
    assert listed.json()[0]["last_used"] is not None
    code_secret = issued["code"].replace("-", "")[4:]
    for text in (listed.body.decode(), portal.log()):
        assert secret not in text
        assert code_secret not in text
        assert cookie not in text


def test_signing_out_ends_the_session(portal: Portal) -> None:
    cookie, csrf = _signed_in(portal)
    no_csrf = send(
        portal.base, "DELETE", "/api/v1/portal/session", cookie=cookie, headers=PORTAL_HEADER
    )
    assert no_csrf.status == 403
    assert no_csrf.json()["error"] == "csrf"
    out = send(
        portal.base,
        "DELETE",
        "/api/v1/portal/session",
        cookie=cookie,
        headers={**PORTAL_HEADER, "X-CSRF-Token": csrf},
    )
    assert out.status == 204
    after = send(portal.base, "GET", "/api/v1/members/m-0001", cookie=cookie, headers=PORTAL_HEADER)
    assert after.status == 401
    assert after.json()["error"] == "portal_session_ended"
    nobody = send(portal.base, "GET", "/api/v1/portal/session", headers=PORTAL_HEADER)
    assert nobody.status == 401
    assert nobody.json()["error"] == "portal_signed_out"


def test_a_replaced_revoked_or_expired_link_is_refused_with_its_reason(portal: Portal) -> None:
    first = portal.issue("m-0001")
    cookie, _csrf = _signed_in(portal, "m-0002")
    _answer, first_cookie = portal.sign_in({"link": first["path"][len("portal#k=") :]})
    second = portal.issue("m-0001")
    assert second["replaced"] == [first["link"]["id"]]
    for body in ({"link": first["path"][len("portal#k=") :]}, {"code": first["code"]}):
        answer, _cookie = portal.sign_in(body)
        assert answer.status == 403, answer.body
        assert answer.json()["error"] == "link_replaced"
    # Replacing the link ended the sessions it had begun (and no one else's).
    ended = send(
        portal.base, "GET", "/api/v1/members/m-0001", cookie=first_cookie, headers=PORTAL_HEADER
    )
    assert ended.status == 401
    assert (
        send(
            portal.base, "GET", "/api/v1/members/m-0002", cookie=cookie, headers=PORTAL_HEADER
        ).status
        == 200
    )

    _answer, second_cookie = portal.sign_in({"code": second["code"]})
    revoked = call(portal.base, "DELETE", "/api/v1/members/m-0001/portal-link", portal.admin)
    assert revoked.status == 200
    assert revoked.json()["revoked"] == [second["link"]["id"]]
    answer, _cookie = portal.sign_in({"code": second["code"]})
    assert answer.status == 403
    assert answer.json()["error"] == "link_revoked"
    assert (
        send(
            portal.base,
            "GET",
            "/api/v1/members/m-0001",
            cookie=second_cookie,
            headers=PORTAL_HEADER,
        ).status
        == 401
    )
    again = call(portal.base, "DELETE", "/api/v1/members/m-0001/portal-link", portal.admin)
    assert again.status == 404
    assert again.json()["error"] == "no_link"

    third = portal.issue("m-0001")
    _answer, third_cookie = portal.sign_in({"code": third["code"]})
    portal.expire(third["link"]["id"])
    answer, _cookie = portal.sign_in({"link": third["path"][len("portal#k=") :]})
    assert answer.status == 403
    assert answer.json()["error"] == "link_expired"
    assert "expired" in answer.json()["message"]
    assert (
        send(
            portal.base, "GET", "/api/v1/members/m-0001", cookie=third_cookie, headers=PORTAL_HEADER
        ).status
        == 401
    )
    states = [
        one["state"]
        for one in call(
            portal.base, "GET", "/api/v1/members/m-0001/portal-links", portal.admin
        ).json()
    ]
    assert states == ["replaced", "revoked", "expired"]


def test_a_revoked_member_cannot_sign_in(portal: Portal) -> None:
    issued = portal.issue("m-0003")
    assert call(portal.base, "POST", "/api/v1/members/m-0003/revoke", portal.admin).status == 200
    answer, _cookie = portal.sign_in({"code": issued["code"]})
    assert answer.status == 403
    assert answer.json()["error"] == "link_revoked"
    refused = call(
        portal.base, "POST", "/api/v1/members/m-0003/portal-link", portal.admin, {"days": 90}
    )
    assert refused.status == 409


def test_a_typed_code_reads_like_the_issued_one(portal: Portal) -> None:
    code = portal.issue("m-0002")["code"]
    typed = " ".join(code.replace("-", "").lower()).replace("0", "o")
    answer, _cookie = portal.sign_in({"code": typed})
    assert answer.status == 200
    assert answer.json()["member"]["id"] == "m-0002"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"code": "ABCD"}, 400, "invalid"),
        ({"code": "UUUU-UUUU-UUUU-UUUU"}, 400, "invalid"),
        ({"link": ""}, 400, "invalid"),
        ({"link": "x", "code": "y"}, 400, "invalid"),
        ({}, 400, "invalid"),
        ({"link": "not-a-link"}, 401, "invalid_link"),
        ({"code": "0000-0000-0000-0000"}, 401, "invalid_link"),
    ],
)
def test_bad_sign_ins_are_refused_with_the_reason(
    portal: Portal, body: dict[str, str], status: int, error: str
) -> None:
    answer, cookie = portal.sign_in(body)
    assert (answer.status, answer.json()["error"]) == (status, error), answer.body
    assert cookie is None


def _other(group: str, instead: str = "0000") -> str:
    """Return a group of 4 that is not ``group``."""
    return instead if group != instead else "1111"


def _wrong_code(code: str) -> str:
    """Return ``code`` with another secret: its link's id, a wrong code."""
    return code[:5] + _other(code[5:9]) + code[9:]


def test_an_unknown_link_id_answers_like_a_wrong_code_and_never_keeps_a_member_out(
    portal: Portal,
) -> None:
    code = portal.issue("m-0001")["code"]
    unknown = _other(code[:4], "ZZZZ") + _wrong_code(code)[4:]
    answers: dict[str, list[tuple[int, str]]] = {}
    # From a new address each time: only the link id's count can lock them out.
    for n, typed in enumerate((_wrong_code(code), unknown)):
        answers[typed] = [
            (answer.status, answer.json()["error"])
            for answer, _cookie in (
                portal.sign_in({"code": typed}, source=f"127.0.{n + 1}.{attempt + 1}")
                for attempt in range(MAX_FAILURES + 2)
            )
        ]
    expected = [(401, "invalid_link")] * MAX_FAILURES + [(429, "too_many_failures")] * 2
    assert answers == {_wrong_code(code): expected, unknown: expected}
    # The link's lockout answers wrong codes only: the member's own code still signs in.
    answer, cookie = portal.sign_in({"code": code}, source="127.0.3.1")
    assert answer.status == 200, answer.body
    assert answer.json()["member"]["id"] == "m-0001"
    assert cookie is not None
    log = portal.log()
    assert f"Too many failed logins from link:{code[:4]}" in log
    assert f"Too many failed logins from link:{unknown[:4]}" in log


def test_wrong_codes_lock_out_the_address(portal: Portal) -> None:
    code = portal.issue("m-0001")["code"]
    # Each for another link id: only the address's count locks it out.
    ids = [f"{n}{n}{n}{n}" for n in range(2, 2 + MAX_FAILURES + 1)]
    statuses = [portal.sign_in({"code": f"{link_id}-0000-0000-0000"})[0].status for link_id in ids]
    assert statuses == [401] * MAX_FAILURES + [429]
    # During the address's lockout even the right code waits, and says for how long.
    answer, cookie = portal.sign_in({"code": code})
    assert answer.status == 429
    assert int(answer.headers["Retry-After"]) > 0
    assert cookie is None
    assert "Refused a portal sign-in" in portal.log()
    # Another address is not held back.
    answer, cookie = portal.sign_in({"code": code}, source="127.0.0.9")
    assert answer.status == 200, answer.body
    assert cookie is not None


def test_months_count_the_savings_at_the_configured_prices(portal: Portal) -> None:
    cookie, _csrf = _signed_in(portal)
    answer = send(
        portal.base,
        "GET",
        f"/api/v1/members/m-0001/months?year={DAY.year}",
        cookie=cookie,
        headers=PORTAL_HEADER,
    )
    assert answer.status == 200
    found = answer.json()
    # The add-on's flat prices (no billing platform posted any), in every period.
    assert found["prices"]["compensation_cap"] == "import_price"
    assert [
        (p["source"], p["import_eur_kwh"], p["surplus_eur_kwh"])
        for p in found["prices"]["in_force"]
    ] == [
        ("options", dict.fromkeys(("P1", "P2", "P3"), 0.2), dict.fromkeys(("P1", "P2", "P3"), 0.05))
    ]
    assert [month["month"] for month in found["months"]] == [
        f"{DAY.year}-{month:02d}" for month in range(1, 13)
    ]
    energy = call(
        portal.base, "GET", f"/api/v1/members/m-0001/energy?period=year&date={DAY}", portal.admin
    ).json()
    month = next(one for one in found["months"] if one["month"] == f"{DAY:%Y-%m}")
    point = next(one for one in energy["points"] if one["local"] == f"{DAY:%Y-%m}")
    for name in ("consumption_kwh", "allocated_kwh", "self_consumed_kwh", "surplus_kwh"):
        assert month[name] == point[name]
    # What it used of its share cost nothing instead of 0.20 €/kWh; its surplus was paid 0.05
    # €/kWh, up to what its imports cost.
    surplus_paid = min(
        point["surplus_kwh"] * 0.05, (month["consumption_kwh"] - month["self_consumed_kwh"]) * 0.2
    )
    assert month["savings_eur"] == pytest.approx(
        point["self_consumed_kwh"] * 0.2 + surplus_paid, abs=0.01
    )
    assert found["latest_reading"]["own_meter"] is not None
    assert found["latest_reading"]["distributor"] is None


def test_all_the_members_data_downloads_as_json_and_csv(portal: Portal) -> None:
    cookie, _csrf = _signed_in(portal)
    answer = send(portal.base, "GET", "/api/v1/members/m-0001/data.json", cookie=cookie)
    assert answer.status == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    data = answer.json()
    assert data["format"] == "ioe.member-data.v1"
    assert data["member"]["id"] == "m-0001"
    assert data["supply_point"]["cups"] == data["member"]["cups"]
    assert {r["quantity"] for r in data["readings"]["own_meter"]} == {
        "import_kwh",
        "generation_kwh",
    }
    assert len(data["readings"]["own_meter"]) == 2 * 96
    assert data["readings"]["distributor"] == []
    day = call(
        portal.base, "GET", f"/api/v1/members/m-0001/energy?period=day&date={DAY}", portal.admin
    ).json()
    by_start = {hour["start_utc"]: hour for hour in data["hourly"]}
    for point in day["points"]:
        hour = by_start[point["start"]]
        for name in ("consumption_kwh", "allocated_kwh", "self_consumed_kwh", "surplus_kwh"):
            assert hour[name] == pytest.approx(point[name]), (point["start"], name)
        if point["consumption_kwh"] is not None:
            assert hour["measured_by"] == "own_meter"
            assert hour["coefficient"] == pytest.approx(1 / 3, abs=1e-6)
    assert [agreement["name"] for agreement in data["agreements"]] == ["A partes iguales"]
    assert data["agreements"][0]["coefficient"] == pytest.approx(1 / 3, abs=1e-6)
    assert data["datadis"] is None
    assert [link["state"] for link in data["access_links"]] == ["active"]
    assert "secret" not in json.dumps(data["access_links"])

    answer = send(portal.base, "GET", "/api/v1/members/m-0001/data.csv", cookie=cookie)
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    text = answer.body.decode("utf-8")
    assert text.startswith("\ufeffstart_utc,start_local,consumption_kwh")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == len(data["hourly"])
    sunny = next(
        row for row in rows if row["start_utc"] == f"{T0 + timedelta(hours=12):%Y-%m-%dT%H:%M:%SZ}"
    )
    assert float(sunny["consumption_kwh"]) == pytest.approx(0.4)
    assert float(sunny["allocated_kwh"]) == pytest.approx(2 / 3, abs=1e-3)
    assert sunny["measured_by"] == "own_meter"
    assert sunny["agreement"]
    unknown = next(row for row in rows if row["start_utc"] == data["hourly"][-1]["start_utc"])
    assert unknown["consumption_kwh"] == ""

    # Each download is audited, as are the links and the sign-ins.
    entries = call(portal.base, "GET", "/api/v1/audit?limit=50", portal.admin).json()["entries"]
    actions = [(e["actor"], e["action"], e["subject"]) for e in entries]
    assert ("member:m-0001", "export", "m-0001") in actions
    assert ("member:m-0001", "login", "member:m-0001") in actions
    assert any(a == "portal_link_issued" and s == "m-0001" for _actor, a, s in actions)


def test_the_portal_page_is_served_with_its_headers(portal: Portal) -> None:
    answer = send(portal.base, "GET", "/portal")
    assert answer.status == 200
    assert b"portal/app.js" in answer.body
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    slash = send(portal.base, "GET", "/portal/")
    assert slash.status == 200
    assert slash.body == answer.body


def test_the_command_line_issues_and_revokes_a_link(portal: Portal) -> None:
    shown = json.loads(
        portal.community.cli(
            "members", "portal-link", "m-0002", "--days", "7", "--base-url", portal.base, "--json"
        ).stdout
    )
    assert shown["url"].startswith(f"{portal.base}/portal#k=")
    answer, _cookie = portal.sign_in({"link": shown["url"].partition("#k=")[2]})
    assert answer.status == 200
    assert answer.json()["member"]["id"] == "m-0002"
    # By default at the API's public address.
    text = portal.community.cli("members", "portal-link", "m-0002").stdout
    assert f"{portal.community.options['public_api_url']}/portal#k=" in text
    assert "Code: " in text
    refused = portal.community.cli("members", "portal-link", "m-0002", "--days", "0", check=False)
    assert refused.returncode != 0
    assert "1 to 365" in refused.stderr
    portal.community.cli("members", "portal-revoke", "m-0002")
    again = portal.community.cli("members", "portal-revoke", "m-0002", check=False)
    assert again.returncode != 0
    assert "no link" in again.stderr


@pytest.mark.parametrize("days", [0, 366])
def test_bad_link_lifetimes_are_refused(portal: Portal, days: int) -> None:
    answer = call(
        portal.base, "POST", "/api/v1/members/m-0001/portal-link", portal.admin, {"days": days}
    )
    assert answer.status == 400
    assert "days" in answer.json()["message"]


def test_the_member_page_data_needs_read_or_the_member(portal: Portal) -> None:
    for path in ("/api/v1/members/m-0001/data.json", "/api/v1/members/m-0001/months"):
        assert call(portal.base, "GET", path, portal.tokens["m-0002"]).status == 403
        assert call(portal.base, "GET", path, portal.tokens["m-0001"]).status == 200
        assert call(portal.base, "GET", path, portal.admin).status == 200
    assert (
        call(
            portal.base, "GET", "/api/v1/members/m-0001/portal-links", portal.tokens["m-0001"]
        ).status
        == 403
    )
