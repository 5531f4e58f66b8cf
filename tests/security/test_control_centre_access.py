"""Who reaches the control centre, and what each may do: roles, ingress, sessions, CSRF.

People come through Home Assistant's ingress (the Supervisor names the user) or sign in with a
password; other systems with tokens. The attacker here forges the Supervisor's headers from
another address, replays a browser's cookie without its CSRF token, guesses passwords, or holds
a viewer's login and tries to change things.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
import http.client
import json
import sqlite3
import ssl
import time
from typing import Any
import urllib.request

import pytest

from ioe_aggregator.auth.failed_logins import MAX_FAILURES
from ioe_aggregator.auth.sessions import IDLE_S
from ioe_dev.synthetic import cups
from tests.community import Community, StartAggregator, call

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

PROXY = "127.0.0.1"
ELSEWHERE = "127.0.0.2"
PASSWORD = "una frase larga y secreta"
NEW_MEMBER = {
    "id": "m-0042",
    "name": "Hogar 42",
    "cups": cups(42),
    "contracted_kw": 4.6,
}


@dataclass
class Answer:
    """An HTTP answer: status, headers and JSON body (None when empty)."""

    status: int
    headers: http.client.HTTPMessage
    body: Any


@dataclass
class Browser:
    """What a browser sends: from an address, with Home Assistant's headers or a cookie."""

    port: int
    source: str = PROXY
    ha_user: tuple[str, str] | None = None
    cookie: str | None = None
    csrf: str | None = None
    secure: ssl.SSLContext | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        """Send a request as this browser does."""
        if self.secure is not None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=15, context=self.secure,
                source_address=(self.source, 0),
            )  # fmt: skip
        else:
            connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=15, source_address=(self.source, 0)
            )
        headers = dict(self.extra)
        if self.ha_user is not None:
            headers["X-Remote-User-Id"], headers["X-Remote-User-Display-Name"] = self.ha_user
            headers["X-Remote-User-Name"] = self.ha_user[1].lower()
        if self.cookie is not None:
            headers["Cookie"] = f"ioe_session={self.cookie}"
        if self.csrf is not None:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            return Answer(response.status, response.headers, json.loads(raw) if raw else None)
        finally:
            connection.close()

    def sign_in(self, username: str, password: str) -> Answer:
        """Sign in with a password; keep the session's cookie and CSRF token."""
        answer = self.send("POST", "/api/v1/session", {"username": username, "password": password})
        if answer.status == 200:
            cookie = answer.headers["Set-Cookie"]
            self.cookie = cookie.split(";", 1)[0].split("=", 1)[1]
            self.csrf = answer.body["csrf"]
        return answer


def _audit(community: Community) -> list[dict[str, Any]]:
    return json.loads(community.cli("audit", "--json").stdout)["entries"]


def test_tokens_reach_what_their_role_grants(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options)
    base = f"http://127.0.0.1:{port}"
    viewer, operator = community.token("viewer"), community.token("operator")
    admin = community.token("admin")

    assert call(base, "GET", "/api/v1/members", viewer).status == 200
    refused = call(base, "POST", "/api/v1/members", viewer, NEW_MEMBER)
    assert refused.status == 403
    assert refused.json()["message"] == "this needs the manage permission"
    assert call(base, "GET", "/api/v1/tokens", viewer).status == 403
    assert call(base, "GET", "/api/v1/audit", operator).status == 403
    assert call(base, "POST", "/api/v1/members", operator, NEW_MEMBER).status == 201
    made = call(base, "POST", "/api/v1/tokens", operator, {"scope": "admin", "label": "x"})
    assert made.status == 403  # an operator makes no tokens
    assert call(base, "GET", "/api/v1/users", admin).status == 200
    session = call(base, "GET", "/api/v1/session", viewer).json()
    assert session["user"]["role"] == "viewer"
    assert session["permissions"] == ["read"]
    assert session["csrf"] is None
    # A public token has no control centre at all.
    assert call(base, "GET", "/api/v1/session", community.token("public")).status == 403


def test_the_first_home_assistant_user_through_ingress_becomes_admin(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy=PROXY)
    owner = Browser(port, ha_user=("ha-owner-1", "Marta"))
    session = owner.send("GET", "/api/v1/session").body
    assert session["user"] == {"id": session["user"]["id"], "name": "Marta", "role": "admin",
                               "via": "ingress"}  # fmt: skip
    owner.csrf = session["csrf"]

    # The next Home Assistant user waits for a role, and can do nothing meanwhile.
    neighbour = Browser(port, ha_user=("ha-user-2", "Jordi"))
    waiting = neighbour.send("GET", "/api/v1/session").body
    assert waiting["user"]["role"] is None
    assert waiting["permissions"] == []
    refused = neighbour.send("GET", "/api/v1/members")
    assert (refused.status, refused.body["error"]) == (403, "no_role")

    # The admin maps them to operator; a change needs the page's CSRF token.
    path = f"/api/v1/users/{waiting['user']['id']}"
    no_csrf = Browser(port, ha_user=("ha-owner-1", "Marta")).send(
        "PATCH", path, {"role": "operator"}
    )
    assert (no_csrf.status, no_csrf.body["error"]) == (403, "csrf")
    other_csrf = Browser(port, ha_user=("ha-owner-1", "Marta"), csrf=waiting["csrf"])
    assert other_csrf.send("PATCH", path, {"role": "operator"}).status == 403
    assert owner.send("PATCH", path, {"role": "operator"}).body["role"] == "operator"

    neighbour.csrf = waiting["csrf"]
    assert neighbour.send("POST", "/api/v1/members", NEW_MEMBER).status == 201
    assert neighbour.send("GET", "/api/v1/tokens").status == 403
    # The last admin keeps their role.
    demoted = owner.send("PATCH", f"/api/v1/users/{session['user']['id']}", {"role": "viewer"})
    assert (demoted.status, demoted.body["error"]) == (409, "last_admin")

    entries = _audit(community)
    actions = [(e["actor"], e["action"]) for e in entries]
    owner_actor, neighbour_actor = f"user:{session['user']['id']}", f"user:{waiting['user']['id']}"
    assert (owner_actor, "user_changed") in actions
    assert (neighbour_actor, "member_added") in actions
    assert (neighbour_actor, "user_added") in actions


def test_home_assistant_ingress_names_its_user_under_its_prefix(
    community: Community,
    start_aggregator: StartAggregator,
    ingress_proxy: Callable[[int, str, str], str],
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy=PROXY)
    page = ingress_proxy(port, "ha-owner-1", "Marta")
    # What the browser claims is replaced by what Home Assistant knows.
    request = urllib.request.Request(  # noqa: S310 - the local proxy
        page + "api/v1/session", headers={"X-Remote-User-Id": "ha-someone-else"}
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
        session = json.load(response)
    assert (session["user"]["name"], session["user"]["role"]) == ("Marta", "admin")
    users = call(f"http://127.0.0.1:{port}", "GET", "/api/v1/users", community.token("admin"))
    assert [user["ha_user_id"] for user in users.json()] == ["ha-owner-1"]


def test_forged_ingress_headers_from_another_address_are_refused(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy=PROXY)
    Browser(port, ha_user=("ha-owner-1", "Marta")).send("GET", "/api/v1/session")

    # Plain HTTP from anything but the proxy is refused outright…
    forged = Browser(port, source=ELSEWHERE, ha_user=("ha-owner-1", "Marta"))
    answer = forged.send("GET", "/api/v1/members")
    assert (answer.status, answer.body["error"]) == (403, "https_required")
    # …and over HTTPS the headers name nobody.
    https = community.options["https_port"]
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])
    forged = Browser(https, source=ELSEWHERE, ha_user=("ha-owner-1", "Marta"), secure=context)
    answer = forged.send("GET", "/api/v1/members")
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    log = (community.directory / "aggregator.log").read_text()
    assert "Ignored the Home Assistant user headers of a request from 127.0.0.2" in log


def test_a_password_session_signs_in_expires_and_signs_out(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options)
    community.cli("users", "add", "ana", "--name", "Ana", "--role", "operator",
                  "--password-stdin", input_text=PASSWORD)  # fmt: skip
    browser = Browser(port)
    assert browser.send("GET", "/api/v1/session").status == 401
    wrong = browser.sign_in("ana", "not her password")
    assert (wrong.status, wrong.body["error"]) == (401, "invalid_login")

    signed_in = browser.sign_in("ana", PASSWORD)
    assert signed_in.status == 200, signed_in.body
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert signed_in.body["user"]["role"] == "operator"
    assert browser.send("POST", "/api/v1/members", NEW_MEMBER).status == 201
    # What she records is hers, by name, for everyone who reads it.
    equal = {"name": "Equal", "scheme": "equal", "valid_from": "2027-01-01"}
    recorded = browser.send("POST", "/api/v1/agreements", equal)
    assert recorded.status == 201, recorded.body
    listed = Browser(port, extra={"Authorization": f"Bearer {community.token('viewer')}"})
    (agreement,) = listed.send("GET", "/api/v1/agreements").body
    assert (agreement["created_by"], agreement["created_by_name"]) == (
        f"user:{signed_in.body['user']['id']}",
        "Ana",
    )
    # The cookie alone (another site making the browser send it) changes nothing.
    replayed = Browser(port, cookie=browser.cookie)
    assert replayed.send("GET", "/api/v1/members").status == 200
    refused = replayed.send("POST", f"/api/v1/members/{NEW_MEMBER['id']}/revoke")
    assert (refused.status, refused.body["error"]) == (403, "csrf")

    # A session left alone for longer than IDLE_S ends.
    database = community.options["database_url"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE sessions SET seen_s = ?", (int(time.time()) - IDLE_S - 1,))
    expired = browser.send("GET", "/api/v1/members")
    assert (expired.status, expired.body["error"]) == (401, "session_expired")

    browser.sign_in("ana", PASSWORD)
    assert browser.send("DELETE", "/api/v1/session").status == 204
    assert browser.send("GET", "/api/v1/members").status == 401
    actions = [e["action"] for e in _audit(community)]
    assert "logout" in actions
    assert PASSWORD not in (community.directory / "aggregator.log").read_text()


def test_guessing_passwords_is_locked_out_even_for_the_right_one(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options)
    community.cli("users", "add", "ana", "--name", "Ana", "--role", "admin",
                  "--password-stdin", input_text=PASSWORD)  # fmt: skip
    browser = Browser(port)
    for attempt in range(MAX_FAILURES):
        assert browser.sign_in("ana", f"guess number {attempt}").status == 401
    locked = browser.sign_in("ana", PASSWORD)
    assert (locked.status, locked.body["error"]) == (429, "too_many_failures")
    assert int(locked.headers["Retry-After"]) > 0


def test_a_sign_in_comes_only_the_right_way_and_one_at_a_time(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy=PROXY)
    community.cli("users", "add", "ana", "--name", "Ana", "--role", "admin",
                  "--password-stdin", input_text=PASSWORD)  # fmt: skip
    # The page asking who is signed in, again and again, is no failed login…
    https = community.options["https_port"]
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])
    browser = Browser(https, secure=context)
    for _ in range(MAX_FAILURES + 2):
        assert browser.send("GET", "/api/v1/session").status == 401
    # …a form of another site (text/plain) signs nobody in…
    connection = http.client.HTTPSConnection("127.0.0.1", https, timeout=15, context=context)
    connection.request(
        "POST", "/api/v1/session", body=json.dumps({"username": "ana", "password": PASSWORD}),
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    answer = connection.getresponse()
    assert (answer.status, json.loads(answer.read())["error"]) == (400, "not_json")
    connection.close()
    # …nor does a password through Home Assistant's ingress, which names its user itself.
    through = Browser(port, ha_user=("ha-owner-1", "Marta"))
    refused = through.sign_in("ana", PASSWORD)
    assert (refused.status, refused.body["error"]) == (403, "ingress_signs_in")
    # A burst of guesses from one address waits its turn: one hash at a time per address.
    with ThreadPoolExecutor(4) as pool:
        burst = list(
            pool.map(
                lambda n: Browser(https, secure=context).sign_in("ana", f"guess {n}"), range(4)
            )
        )
    assert sorted(answer.status for answer in burst)[-1] == 429
    signed_in = Browser(https, secure=context).sign_in("ana", PASSWORD)
    assert signed_in.status == 200, signed_in.body
    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_passwords_and_users_are_checked(
    community: Community, start_aggregator: StartAggregator
) -> None:
    _service, port = start_aggregator(**community.options)
    base = f"http://127.0.0.1:{port}"
    admin = community.token("admin")
    pep = {"username": "pep", "name": "Pep", "role": "viewer"}
    weak = call(base, "POST", "/api/v1/users", admin, {**pep, "password": "aaaaaaaaaaaa"})
    assert (weak.status, weak.json()["error"]) == (400, "weak_password")
    made = call(base, "POST", "/api/v1/users", admin, {**pep, "password": PASSWORD})
    assert made.status == 201
    assert "password" not in made.json()
    again = call(base, "POST", "/api/v1/users", admin,
                 {"username": "pep", "name": "Pep bis", "password": PASSWORD})  # fmt: skip
    assert (again.status, again.json()["error"]) == (409, "user_exists")
    # A disabled user's session ends at once.
    browser = Browser(port)
    assert browser.sign_in("pep", PASSWORD).status == 200
    user_id = made.json()["id"]
    assert call(base, "PATCH", f"/api/v1/users/{user_id}", admin, {"disabled": True}).status == 200
    assert browser.send("GET", "/api/v1/members").status == 401
    assert browser.sign_in("pep", PASSWORD).status == 401
