"""What the demo community gives the other systems it works with: billing, Som Comunitats.

The billing export of last month (the fake Datadis has synced three months of every authorised
member's supply), read as a billing platform would: a page of the API, and the CSV file a
Spanish spreadsheet opens. Som Comunitats' platform reads the project's daily energies with a
monitoring provider's key, made once and kept in the state directory for the welcome to point at.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
import urllib.request

from ioe_dev.demo.community import CommunityError
from ioe_dev.demo.public import call


def last_month(today: date) -> str:
    """Return the month before ``today``'s, YYYY-MM."""
    return f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"


def check_billing(base: str, admin_token: str, month: str, members: int) -> list[str]:
    """Check ``month``'s billing lists every member, some from their distributor, and its CSV."""
    status, page, _ = call(base, "GET", f"/api/v1/billing/{month}?limit=500", token=admin_token)
    if status != 200:
        return [f"billing: {month} answered {status} {page}"]
    if len(page["members"]) != members:
        return [f"billing: {len(page['members'])} members in {month}, not {members}"]
    if not any(bill["total"]["hours_by_source"]["distributor"] for bill in page["members"]):
        return [f"billing: no hour of {month} from the distributor (Datadis synced three months)"]
    request = urllib.request.Request(  # noqa: S310 - the local aggregator
        f"{base}/api/v1/billing/{month}/export.csv",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        text = response.read()
    lines = text.decode("utf-8-sig").splitlines()
    if not text.startswith(b"\xef\xbb\xbfmes;miembro;") or len(lines) != 1 + 4 * members:
        return [f"billing: the CSV of {month} is not one line per member and period: {lines[:2]}"]
    return []


def provider_key(base: str, admin_token: str, kept: Path) -> str:
    """Return the monitoring provider's key kept in ``kept``, made the first time."""
    if kept.exists():
        return kept.read_text().strip()
    status, answer, _ = call(
        base,
        "POST",
        "/api/v1/tokens",
        token=admin_token,
        body={"scope": "provider", "label": "Som Comunitats (demo)"},
    )
    if status != 201:
        raise CommunityError(f"making the monitoring provider's key answered {status} {answer}")
    kept.write_text(answer["token"] + "\n")
    kept.chmod(0o600)
    return str(answer["token"])


def check_provider(base: str, key: str, community: str, today: date) -> list[str]:
    """Check Som Comunitats' platform reads the project's last week (a list of daily points)."""
    first, last = today - timedelta(days=7), today - timedelta(days=1)
    status, points, _ = call(
        base,
        "GET",
        f"/api/provider/v1/project/{community}?from_date={first}&to_date={last}",
        headers={"apikey": key},
    )
    if status != 200 or not isinstance(points, list):
        return [f"Som Comunitats' contract: the project's last week answered {status} {points}"]
    return []
