"""Attacks on the API's login: lockouts that lock the wrong thing, tokens in URLs, audit floods.

The attacker has no valid token. Failures are limited per address (the user's, behind Home
Assistant's ingress proxy) and for all addresses together, but a valid token always passes;
a token pasted into a URL reaches no log; and a flood of failures neither floods the audit
log nor hides what an admin did after it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
import json
import ssl
import time
from typing import Any
import urllib.error
import urllib.request

import pytest

from ioe_aggregator.auth.failed_logins import GLOBAL_MAX_FAILURES, LOCKOUT_S, MAX_FAILURES
from ioe_aggregator.auth.secrets import split_token
from tests.community import Community, StartAggregator, call, start_service

# Every test here talks to the real local servers it starts.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")

BAD_TOKEN = "ioe_000000000000_" + "x" * 32


@dataclass
class Answer:
    """An HTTP answer: status, headers and JSON body."""

    status: int
    headers: dict[str, str]
    body: Any


def send(
    base: str,
    path: str,
    *,
    token: str | None = None,
    forwarded_for: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """GET ``path``, with a bearer token and an X-Forwarded-For header when given."""
    request = urllib.request.Request(base + path)  # noqa: S310 - local URL
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if forwarded_for is not None:
        request.add_header("X-Forwarded-For", forwarded_for)
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            return Answer(response.status, dict(response.headers), json.load(response))
    except urllib.error.HTTPError as err:
        return Answer(err.code, dict(err.headers), json.load(err))


def audit_page(base: str, admin: str, query: str = "") -> dict[str, Any]:
    """Return a page of the audit log, as an admin reads it through the API."""
    answer = call(base, "GET", f"/api/v1/audit{query}", admin)
    assert answer.status == 200, answer.body
    return answer.json()


def failed_logins(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the failed-login entries of a page."""
    return [e for e in entries if e["action"] == "login_failed"]


def by_actor(entries: list[dict[str, Any]]) -> Counter[str]:
    """Return the failed logins of a page counted by actor (entries are per minute)."""
    counts: Counter[str] = Counter()
    for entry in failed_logins(entries):
        counts[entry["actor"]] += entry["occurrences"]
    return counts


def wait_for_https(base: str, context: ssl.SSLContext) -> None:
    """Wait until the HTTPS listener (opened after the plain one) answers."""
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=5, context=context):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base} never answered")


def via_ingress(user: str) -> str:
    """Return X-Forwarded-For as the Supervisor passes it on.

    Whatever the browser claimed, the address Home Assistant saw, then Home Assistant's own on
    the Supervisor's network.
    """
    return f"203.0.113.9, {user}, 172.30.32.1"


def test_a_valid_token_passes_from_a_locked_address(
    community: Community, start_aggregator: StartAggregator
) -> None:
    # Behind Home Assistant's ingress, every user comes from the proxy's address.
    admin = community.token("admin")
    _service, port = start_aggregator(**community.options, ingress_proxy="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    typist, colleague = "192.168.1.20", "192.168.1.21"

    typos = [
        send(base, "/api/v1/members", token=BAD_TOKEN, forwarded_for=via_ingress(typist)).status
        for _ in range(MAX_FAILURES)
    ]
    locked = send(base, "/api/v1/members", token=BAD_TOKEN, forwarded_for=via_ingress(typist))
    missing = send(base, "/api/v1/members", forwarded_for=via_ingress(typist))
    valid_same_user = send(base, "/api/v1/members", token=admin, forwarded_for=via_ingress(typist))
    colleague_typo = send(
        base, "/api/v1/members", token=BAD_TOKEN, forwarded_for=via_ingress(colleague)
    )
    colleague_valid = send(
        base, "/api/v1/members", token=admin, forwarded_for=via_ingress(colleague)
    )

    assert typos == [401] * MAX_FAILURES
    assert (locked.status, missing.status) == (429, 429)
    assert LOCKOUT_S - 10 < int(locked.headers["Retry-After"]) <= LOCKOUT_S + 1
    assert valid_same_user.status == 200
    assert colleague_typo.status == 401  # the typist's lockout is not the colleague's
    assert colleague_valid.status == 200
    assert by_actor(audit_page(base, admin)["entries"]) == {
        f"address:{typist}": MAX_FAILURES + 2,
        f"address:{colleague}": 1,
    }


def _spoofed_failures(base: str, context: ssl.SSLContext | None) -> list[Answer]:
    return [
        send(base, "/api/v1/members", token=BAD_TOKEN, forwarded_for=f"10.9.0.{n}", context=context)
        for n in range(MAX_FAILURES + 1)
    ]


def test_a_spoofed_forwarded_for_is_ignored_without_a_proxy(
    community: Community, start_aggregator: StartAggregator
) -> None:
    admin = community.token("admin")
    _service, port = start_aggregator(**community.options)
    base = f"http://127.0.0.1:{port}"

    answers = _spoofed_failures(base, None)

    assert [a.status for a in answers] == [401] * MAX_FAILURES + [429]
    assert by_actor(audit_page(base, admin)["entries"]) == {"address:127.0.0.1": MAX_FAILURES + 1}


def test_a_spoofed_forwarded_for_is_ignored_from_a_peer_that_is_not_the_proxy(
    community: Community, start_aggregator: StartAggregator
) -> None:
    # The proxy is another host; this peer reaches the API over HTTPS, as homes do.
    admin = community.token("admin")
    _service, _port = start_aggregator(**community.options, ingress_proxy="127.0.0.2")
    base = f"https://127.0.0.1:{community.options['https_port']}"
    context = ssl.create_default_context(cafile=community.options["mqtt_ca_file"])
    wait_for_https(base, context)

    answers = _spoofed_failures(base, context)

    assert [a.status for a in answers] == [401] * MAX_FAILURES + [429]
    page = send(base, "/api/v1/audit", token=admin, context=context).body
    assert by_actor(page["entries"]) == {"address:127.0.0.1": MAX_FAILURES + 1}


def test_failures_spread_over_many_addresses_trip_the_global_limit(
    community: Community, start_aggregator: StartAggregator
) -> None:
    admin = community.token("admin")
    _service, port = start_aggregator(**community.options, ingress_proxy="127.0.0.1")
    base = f"http://127.0.0.1:{port}"

    # Each address stays below its own limit: only the global limit can stop them.
    spread = [
        send(base, "/api/v1/members", token=BAD_TOKEN, forwarded_for=f"10.{n // 250}.{n % 250}.1")
        for n in range(GLOBAL_MAX_FAILURES)
    ]
    fresh = send(base, "/api/v1/members", token=BAD_TOKEN, forwarded_for="172.16.0.1")
    no_token = send(base, "/api/v1/members", forwarded_for="172.16.0.2")
    valid = send(base, "/api/v1/members", token=admin, forwarded_for="172.16.0.3")

    assert [a.status for a in spread] == [401] * GLOBAL_MAX_FAILURES
    assert (fresh.status, no_token.status) == (429, 429)
    assert int(fresh.headers["Retry-After"]) >= 1
    assert valid.status == 200
    counts = by_actor(audit_page(base, admin, "?limit=1000")["entries"])
    assert counts.total() == GLOBAL_MAX_FAILURES + 2
    assert "address:127.0.0.1" not in counts  # the proxy is nobody


def test_a_token_pasted_into_a_url_reaches_no_log(
    community: Community, start_aggregator: StartAggregator
) -> None:
    admin = community.token("admin")
    pasted = community.token("public")
    parts = split_token(pasted)
    assert parts is not None
    secret = parts[1]
    service, port = start_aggregator(**community.options)
    base = f"http://127.0.0.1:{port}"

    answers = [
        call(base, "GET", f"/api/v1/members/{pasted}/readings?token={pasted}"),
        call(base, "GET", f"/api/v1/{pasted}?access_token={pasted}"),
        call(base, "GET", f"/api/v1/members?{pasted}"),
        call(base, "POST", f"/api/v1/tokens/{pasted}/revoke", "not-a-token"),
    ]
    page = audit_page(base, admin)
    log = service.log_file.read_text()

    assert [a.status for a in answers] == [401] * 4
    for text in (json.dumps(page), log):
        assert pasted not in text
        assert secret not in text
    routes: Counter[str] = Counter()
    for entry in failed_logins(page["entries"]):
        routes.update(entry["detail"]["routes"])
    assert routes == {
        "GET /api/v1/members/{member}/readings": 1,
        "GET (no such path)": 1,
        "GET /api/v1/members": 1,
        "POST /api/v1/tokens/{token}/revoke": 1,
    }
    assert "Refused GET /api/v1/members/{member}/readings from 127.0.0.1" in log


def test_a_flood_of_failed_logins_does_not_hide_a_revocation(
    community: Community, start_aggregator: StartAggregator
) -> None:
    community.add_member("m-0001")
    admin = community.token("admin")
    _service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"

    flood = [call(base, "GET", "/api/v1/members", None if n % 2 else BAD_TOKEN) for n in range(500)]
    revoked = call(base, "POST", "/api/v1/members/m-0001/revoke", admin)
    page = audit_page(base, admin)

    assert [a.status for a in flood[:MAX_FAILURES]] == [401] * MAX_FAILURES
    assert {a.status for a in flood[MAX_FAILURES:]} == {429}
    assert revoked.status == 200, revoked.body
    actions = [e["action"] for e in page["entries"]]
    assert actions[0] == "member_revoked"
    failed = failed_logins(page["entries"])
    assert 1 <= len(failed) <= 2  # one per minute; the flood may straddle two
    assert sum(e["occurrences"] for e in failed) == 500
    assert sum(e["detail"]["with_token"] for e in failed) == 250
    assert by_actor(page["entries"]) == {"address:127.0.0.1": 500}


def test_failures_counted_in_memory_reach_the_audit_log_when_the_service_stops(
    community: Community, start_aggregator: StartAggregator
) -> None:
    service, port = start_aggregator(**community.options)
    base = f"http://127.0.0.1:{port}"

    answers = [call(base, "GET", "/api/v1/members", BAD_TOKEN) for _ in range(3)]
    exit_code = service.stop()
    page = json.loads(community.cli("audit", "--json").stdout)

    assert [a.status for a in answers] == [401] * 3
    assert exit_code == 0
    assert by_actor(page["entries"]) == {"address:127.0.0.1": 3}
