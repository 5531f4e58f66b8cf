"""The demo community in the aggregator: 10 registered members, an agreement in force.

The members and plant are the synthetic community's (``ioe_dev.synthetic``); their distributor's
data comes from a local fake of Datadis (``ioe_dev.fake_datadis``) serving demo data. They are
registered through the aggregator's command line, like a manager would, once per state; their
join codes and an admin token are kept in the state directory (mode 0600). The first member is
the demo's Home Assistant home; the other nine are simulated homes running the integration's
``link/`` library (``ioe_dev.simulated_member``), the plant metered at the second one's site.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
import http.client
import json
import os
from pathlib import Path
import ssl
import time
from typing import Any
import urllib.parse
import urllib.request
from zoneinfo import ZoneInfo

from ioe_aggregator.members.join_code import decode
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_dev.aggregator_cli import run_aggregator
from ioe_dev.fake_datadis import demo_nif
from ioe_dev.synthetic import SyntheticCommunity

AGREEMENT_SCHEME = "investment"


class CommunityError(RuntimeError):
    """The aggregator refused a step of the demo community's setup."""


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What the demo keeps: each member's join code and an admin token."""

    join_codes: dict[str, str]
    admin_token: str

    def member_token(self, member: str) -> str:
        """Return the API token inside a member's join code."""
        return decode(self.join_codes[member]).api_token


def _cli(config: Path, *args: str, input_text: str | None = None) -> Any:
    result = run_aggregator(
        [*args, "--config", str(config), "--json"],
        env=os.environ,
        input_text=input_text,
        timeout=600,
    )
    if result.returncode != 0:
        raise CommunityError(f"ioe_aggregator {' '.join(args[:2])}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def back_up(config: Path, target: Path) -> dict[str, Any]:
    """Back the aggregator's database up while it runs (``backup --to``); return what it says."""
    return dict(_cli(config, "backup", "--to", str(target)))


def write_broker_files(config: Path) -> None:
    """Have the aggregator write the broker's password file and access list."""
    _cli(config, "members", "broker-files")


def register(
    config: Path, state: Path, community: SyntheticCommunity, *, plant_at: str
) -> Credentials:
    """Register the members, the plant, an admin token and an agreement, once per state."""
    path = state / "credentials.json"
    if path.exists():
        kept = json.loads(path.read_text())
        return Credentials(join_codes=kept["join_codes"], admin_token=kept["admin_token"])
    total = sum(m.investment_eur for m in community.members)
    # An earlier run that stopped half way left some registered: new credentials for those.
    registered = {m["id"] for m in _cli(config, "members", "list")}
    join_codes = {}
    for number, member in enumerate(community.members, start=1):
        if member.member_id in registered:
            rotated = _cli(config, "members", "rotate", member.member_id)
            join_codes[member.member_id] = rotated["join_code"]
            continue
        added = _cli(
            config,
            "members", "add", member.member_id,
            "--name", f"Hogar {number}",
            "--cups", member.cups,
            "--contracted-kw", str(member.contracted_power_kw),
            "--investment-share", f"{member.investment_eur / total:.6f}",
            *(["--vulnerable"] if member.vulnerable else []),
            *(["--plant-kw", str(community.peak_kw)] if member.member_id == plant_at else []),
        )  # fmt: skip
        join_codes[member.member_id] = added["join_code"]
    token = _cli(config, "tokens", "add", "--scope", "admin", "--label", "demo")["token"]
    if not _cli(config, "agreements", "list"):
        first_day = date(datetime.now(ZoneInfo(DEFAULT_TZ)).year, 1, 1)
        _cli(
            config,
            "agreements", "add", "Reparto por inversión",
            "--scheme", AGREEMENT_SCHEME, "--from", first_day.isoformat(),
        )  # fmt: skip
    credentials = Credentials(join_codes=join_codes, admin_token=token)
    path.write_text(json.dumps({"join_codes": join_codes, "admin_token": token}, indent=2))
    path.chmod(0o600)
    return credentials


def ensure_manager(config: Path, username: str, password: str) -> None:
    """Create the control centre's admin of the demo, with a password, once per state."""
    if any(user["username"] == username for user in _cli(config, "users", "list")):
        return
    _cli(
        config,
        "users", "add", username, "--name", "Gestora de la comunidad", "--role", "admin",
        "--password-stdin",
        input_text=password,
    )  # fmt: skip


def _post(base: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the local aggregator
        base + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def member_results(base: str, credentials: Credentials, member: str) -> dict[str, Any]:
    """Return a member's results computed now, asked with its own token."""
    request = urllib.request.Request(  # noqa: S310 - the local aggregator
        f"{base}/api/v1/members/{member}/results",
        headers={"Authorization": f"Bearer {credentials.member_token(member)}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return dict(json.load(response))


def publish_when_sent(
    base: str, credentials: Credentials, member: str, timeout_s: float = 120
) -> dict[str, Any]:
    """Publish the results once ``member``'s readings of today are in; return the answer.

    The simulated members send what they counted since midnight when they start: the
    published results then have the day to show. In the first quarter hour after the
    community's midnight no quarter of the day has ended yet: that quarter is waited for too.
    """
    local = datetime.now(ZoneInfo(DEFAULT_TZ))
    first_quarter_ends = local.replace(hour=0, minute=15, second=0, microsecond=0)
    deadline = time.monotonic() + timeout_s + max((first_quarter_ends - local).total_seconds(), 0)
    while True:
        if member_results(base, credentials, member)["today"]["import_kwh"] > 0:
            return dict(_post(base, "/api/v1/results/publish", credentials.admin_token))
        if time.monotonic() > deadline:
            raise CommunityError(f"no readings of today from {member} after {timeout_s:.0f} s")
        time.sleep(1)


def send_poisoned_batch(join_code: str) -> tuple[str, int, str]:
    """Send, as a member over the HTTPS fallback, a batch whose live time is no date.

    Return the TLS version negotiated, the answer's status and its error code.
    """
    code = decode(join_code)
    url = urllib.parse.urlsplit(str(code.api_url))
    context = ssl.create_default_context(cadata=code.ca_certificate or None)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    poisoned = {
        "schema": "ioe.readings.v1",
        "member": code.member,
        "batch": "demo-poisoned",
        "sent_at": now,
        "readings": [],
        "live": {"ts": "2026-13-01T00:00:00Z", "grid_w": 100.0},
    }
    connection = http.client.HTTPSConnection(
        url.hostname or "localhost", url.port, timeout=10, context=context
    )
    try:
        connection.request(
            "POST",
            "/api/v1/readings",
            body=json.dumps(poisoned),
            headers={"Authorization": f"Bearer {code.api_token}"},
        )
        protocol = connection.sock.version() if connection.sock else ""
        answer = connection.getresponse()
        return str(protocol), answer.status, str(json.loads(answer.read()).get("error"))
    finally:
        connection.close()


def write_datadis_state(
    path: Path, community: SyntheticCommunity, manager: tuple[str, str]
) -> None:
    """Write what the demo's fake Datadis serves: every member's supply since last year.

    Each supply's owner authorised the manager's NIF, except the last member's (its status then
    shows what a missing authorisation looks like).
    """
    nif, password = manager
    today = datetime.now(ZoneInfo(DEFAULT_TZ)).date()
    since = date(today.year - 1, today.month, 1)
    owners = {m.member_id: demo_nif(n) for n, m in enumerate(community.members, start=1)}
    last = community.members[-1].member_id
    state = {
        "accounts": {nif: password},
        "supplies": [
            {"owner": owners[m.member_id], "cups": m.cups, "contract_start": since.isoformat()}
            for m in community.members
        ],
        "authorizations": {owner: [nif] for member, owner in owners.items() if member != last},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def link_datadis(config: Path, community: SyntheticCommunity) -> None:
    """Read every member through Datadis (with its owner's NIF), those not linked yet."""
    linked = {m["member"] for m in _cli(config, "datadis", "status")["members"]}
    for number, member in enumerate(community.members, start=1):
        if member.member_id not in linked:
            _cli(config, "datadis", "link", member.member_id, "--nif", demo_nif(number))


def datadis_synced(config: Path, member: str, timeout_s: float = 90) -> dict[str, Any]:
    """Wait until the aggregator has synced ``member`` through Datadis; return its status."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = {m["member"]: m for m in _cli(config, "datadis", "status")["members"]}
        if status.get(member, {}).get("last_success"):
            return dict(status[member])
        if time.monotonic() > deadline:
            raise CommunityError(f"no Datadis sync of {member} after {timeout_s:.0f} s: {status}")
        time.sleep(1)
