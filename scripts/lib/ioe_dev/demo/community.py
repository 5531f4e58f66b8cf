"""The demo community in the aggregator: 10 registered members, an agreement, today's readings.

The members and plant are the synthetic community's (``ioe_dev.synthetic``). They are registered
through the aggregator's command line, like a manager would, once per state directory; their
join codes and an admin token are kept in the state directory (mode 0600). Until the homes'
link exists, today's quarter hours so far are sent for them through the API with each member's
own token (the plant's from the first member's site), so results have something to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
import subprocess
import sys
from typing import Any
import urllib.request
from zoneinfo import ZoneInfo

import pandas as pd

from ioe_aggregator.members.join_code import decode
from ioe_aggregator.protocol import utc_text
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_dev.synthetic import SyntheticCommunity

QUARTER = timedelta(minutes=15)
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


def _cli(config: Path, *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "ioe_aggregator", *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CommunityError(f"ioe_aggregator {' '.join(args[:2])}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def write_broker_files(config: Path) -> None:
    """Have the aggregator write the broker's password file and access list."""
    _cli(config, "members", "broker-files")


def register(config: Path, state: Path, community: SyntheticCommunity) -> Credentials:
    """Register the members, an admin token and an agreement in force, once per state."""
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


def _on_today(series: pd.Series, today: date) -> dict[datetime, float]:
    """Return the synthetic year's kWh for today's local hours (same month, day and hour)."""
    local = series.index.tz_convert(DEFAULT_TZ)
    day = min(today.day, 28) if (today.month, today.day) == (2, 29) else today.day
    chosen = (local.month == today.month) & (local.day == day)
    zone = ZoneInfo(DEFAULT_TZ)
    return {
        datetime(today.year, today.month, today.day, moment.hour, tzinfo=zone).astimezone(UTC): v
        for moment, v in zip(local[chosen], series.to_numpy()[chosen], strict=True)
    }


def _batch(
    member: str, meter: str, quantity: str, hours: dict[datetime, float], now: datetime
) -> dict[str, Any]:
    readings = [
        {
            "meter": meter,
            "quantity": quantity,
            "start": utc_text(hour + i * QUARTER),
            "end": utc_text(hour + (i + 1) * QUARTER),
            "value": round(kwh / 4, 4),
            "quality": "estimated",
        }
        for hour, kwh in sorted(hours.items())
        for i in range(4)
        if hour + (i + 1) * QUARTER <= now
    ]
    return {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": f"demo-{meter}-{now:%Y%m%dT%H%M}",
        "sent_at": utc_text(now),
        "readings": readings,
    }


def _post(base: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the local aggregator
        base + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.load(response)


def send_today(
    base: str, credentials: Credentials, community: SyntheticCommunity
) -> dict[str, Any]:
    """Send today's completed quarter hours for every member and the plant; publish results."""
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(DEFAULT_TZ)).date()
    for member in community.members:
        hours = _on_today(community.consumption_kwh[member.member_id], today)
        batch = _batch(member.member_id, "grid", "import_kwh", hours, now)
        _post(base, "/api/v1/readings", credentials.member_token(member.member_id), batch)
    host = community.members[0].member_id  # the plant sits at the first member's site
    plant = _batch(host, "plant", "generation_kwh", _on_today(community.generation_kwh, today), now)
    _post(base, "/api/v1/readings", credentials.member_token(host), plant)
    return dict(_post(base, "/api/v1/results/publish", credentials.admin_token))
