"""What the demo community shows people who run no Home Assistant: the portal and the display.

A simulated member gets a personal access link to the member portal as the demo starts (a new
one each start: issuing replaces the last), and the public display is switched on, as the
manager would in the control centre. The check signs in with the link, reads the member's own
months, is refused another member's, and reads the display's open data (10 members: shown).
"""

from __future__ import annotations

from dataclasses import dataclass
import http.cookies
import json
import time
from typing import Any
import urllib.error
import urllib.request

from ioe_dev.demo.community import CommunityError

# The member whose link the welcome prints: a simulated home, not the demo's Home Assistant.
PORTAL_MEMBER = "m-0002"
OTHER_MEMBER = "m-0003"
LINK_DAYS = 30
# How long the display's first figures may take (computed in the background once switched on).
FIGURES_WAIT_S = 120


@dataclass(frozen=True)
class PortalLink:
    """A member's access link to the portal (the address to open) and its code."""

    member: str
    url: str
    code: str

    @property
    def secret(self) -> str:
        """Return the link's secret (what the portal's page posts to sign in)."""
        return self.url.partition("#k=")[2]


def call(
    base: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    cookie: str | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """Call the local aggregator; return the status, the JSON answer (or None), the headers."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = cookie
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310 - local
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, dict(response.headers)
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None, dict(err.headers)


def issue_portal_link(base: str, admin_token: str, member: str = PORTAL_MEMBER) -> PortalLink:
    """Issue ``member`` a link to the portal at ``base`` (replacing the one it had)."""
    status, answer, _ = call(
        base,
        "POST",
        f"/api/v1/members/{member}/portal-link",
        token=admin_token,
        body={"days": LINK_DAYS},
    )
    if status != 201:
        raise CommunityError(f"the portal link of {member} was refused: {status} {answer}")
    return PortalLink(member, f"{base}/{answer['path']}", answer["code"])


def portal_cookie(base: str, link: PortalLink) -> str:
    """Sign in to the portal with ``link``; return the session's ``Cookie`` header."""
    status, answer, headers = call(
        base, "POST", "/api/v1/portal/session", body={"link": link.secret}
    )
    if status != 200:
        raise CommunityError(f"signing in to the portal with a link answered {status} {answer}")
    cookies = http.cookies.SimpleCookie(headers.get("Set-Cookie", ""))
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


def check_portal(base: str, link: PortalLink, other: str = OTHER_MEMBER) -> list[str]:
    """Sign in with ``link``; check the member reads its months and not ``other``'s."""
    cookie = portal_cookie(base, link)
    problems = []
    own, months, _ = call(base, "GET", f"/api/v1/members/{link.member}/months", cookie=cookie)
    if own != 200 or not isinstance(months, dict):
        problems.append(f"portal: the member's own months answered {own} {months}")
    refused, _, _ = call(base, "GET", f"/api/v1/members/{other}/months", cookie=cookie)
    if refused != 403:
        problems.append(f"portal: another member's months answered {refused}, not 403")
    return problems


def show_display(base: str, admin_token: str, *, on: bool = True) -> None:
    """Switch the public display on (or off), as the manager does in the control centre."""
    status, answer, _ = call(
        base, "PUT", "/api/v1/display", token=admin_token, body={"enabled": on}
    )
    if status != 200:
        raise CommunityError(f"switching the public display on={on} answered {status} {answer}")


def check_display(base: str) -> list[str]:
    """Check the display's open data shows the community's figures (10 members: enough)."""
    deadline = time.monotonic() + FIGURES_WAIT_S
    while True:
        status, answer, _ = call(base, "GET", "/api/public/v1/community")
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(2)
    if status != 200:
        return [f"public display: its open data answered {status} {answer}"]
    if not answer.get("shown"):
        return [f"public display: no figure shown: {answer}"]
    return []
