"""What the demo community gives the other systems it works with: billing, Som Comunitats, webhooks.

And what it takes from them: an old IoE server's emoncms files (a week of an emonPi home's
feeds, half a year ago, written from emoncms' documented formats) wait in the add-on's
``emoncms_dir`` for the manager to import; the check imports two of them for a simulated
member and checks every quarter hour of the week is stored (new, or unchanged on a later run).

The billing export of last month (the fake Datadis has synced three months of every authorised
member's supply), read as a billing platform would: a page of the API, and the CSV file a
Spanish spreadsheet opens. Som Comunitats' platform reads the project's daily energies with a
monitoring provider's key, made once and kept in the state directory for the welcome to point at.
A webhook to a receiver of the check's own is told of a test event, signed, then removed.
A cluster broker's token (kept beside the provider's key) asks the broker hook whether a
member's home may log in, and whether a wrong password may.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
import hashlib
import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import threading
import time
from typing import Any
import urllib.request

from custom_components.ioe_community.link.client import LinkSettings
from custom_components.ioe_community.link.join_code import JoinCode as HomeJoinCode
from ioe_aggregator.members.join_code import JoinCode
from ioe_dev.demo.community import CommunityError
from ioe_dev.demo.public import call
from ioe_dev.emoncms_files import write_datadir
from ioe_dev.fake_emoncms import household

# The emoncms files' week, and the member the check imports two of its feeds for.
EMONCMS_DAYS = 7
EMONCMS_MEMBER = "m-0010"


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


def kept_token(base: str, admin_token: str, kept: Path, scope: str, label: str) -> str:
    """Return the token of ``scope`` kept in ``kept``, made the first time."""
    if kept.exists():
        return kept.read_text().strip()
    status, answer, _ = call(
        base, "POST", "/api/v1/tokens", token=admin_token, body={"scope": scope, "label": label}
    )
    if status != 201:
        raise CommunityError(f"making a token of scope {scope} answered {status} {answer}")
    kept.write_text(answer["token"] + "\n")
    kept.chmod(0o600)
    return str(answer["token"])


def check_broker_hook(base: str, token: str, code: JoinCode) -> list[str]:
    """Ask the broker hook as a cluster broker (EMQX) would: the member's home, then a guess."""
    home = LinkSettings.from_join_code(HomeJoinCode(**asdict(code)), "demo", "0" * 16)
    problems = []
    for password, wanted in ((code.mqtt_password, "allow"), (code.mqtt_password + "?", "deny")):
        body = {"username": home.username, "password": password, "clientid": home.client_id}
        status, answer, _ = call(base, "POST", "/api/v1/broker/authn", token=token, body=body)
        if status != 200 or answer.get("result") != wanted:
            problems.append(f"the broker hook answered {status} {answer}, not {wanted}")
    return problems


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


def _receiver(received: list[tuple[dict[str, str], bytes]]) -> ThreadingHTTPServer:
    """Start a local receiver that keeps what it is sent; return it (stop it with shutdown)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_webhooks(base: str, admin_token: str, timeout_s: float = 30) -> list[str]:
    """Register a webhook to a local receiver, send it a test, check its signature, remove it."""
    received: list[tuple[dict[str, str], bytes]] = []
    server = _receiver(received)
    hook = None
    try:
        status, hook, _ = call(
            base,
            "POST",
            "/api/v1/webhooks",
            token=admin_token,
            body={
                "url": f"http://127.0.0.1:{server.server_address[1]}/demo",
                "events": ["member.joined"],
                "description": "demo check",
            },
        )
        if status != 201:
            return [f"webhooks: registering answered {status} {hook}"]
        call(base, "POST", f"/api/v1/webhooks/{hook['id']}/ping", token=admin_token)
        deadline = time.monotonic() + timeout_s
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        if not received:
            return [f"webhooks: the test event did not arrive within {timeout_s:.0f} s"]
        headers, body = received[0]
        key = base64.b64decode(hook["secret"].removeprefix("whsec_"))
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(headers.get("webhook-signature", ""), expected):
            return ["webhooks: the test event's signature does not verify"]
        return []
    finally:
        if hook is not None and "id" in hook:
            call(base, "DELETE", f"/api/v1/webhooks/{hook['id']}", token=admin_token)
        server.shutdown()
        server.server_close()


def emoncms_files(folder: Path) -> Path:
    """Write (once) an emonPi home's week of PHPFina feeds, half a year ago, into ``folder``."""
    if not folder.exists():
        monday = datetime.now(UTC).date() - timedelta(days=182)
        monday -= timedelta(days=monday.weekday())
        start = int(datetime.combine(monday, datetime.min.time(), UTC).timestamp())
        write_datadir(folder, household(start, EMONCMS_DAYS, interval=60))
    return folder


def check_emoncms(base: str, admin_token: str, timeout_s: float = 120) -> list[str]:
    """Import the files' import power and solar counter for a member; check every quarter."""
    status, listed, _ = call(base, "POST", "/api/v1/emoncms/feeds", token=admin_token,
                             body={"files": True})  # fmt: skip
    if status != 200:
        return [f"emoncms: listing the files answered {status} {listed}"]
    if [feed["id"] for feed in listed["feeds"]] != ["1", "3", "4", "5", "8"]:
        return [f"emoncms: the files' feeds are {[feed['id'] for feed in listed['feeds']]}"]
    mapping = [
        {"feed": "4", "member": EMONCMS_MEMBER, "measure": "import", "kind": "power_w"},
        {"feed": "8", "member": EMONCMS_MEMBER, "measure": "rooftop_pv", "kind": "energy_kwh"},
    ]
    body = {"source": {"files": True}, "feeds": mapping}
    status, job, _ = call(base, "POST", "/api/v1/emoncms/imports", token=admin_token, body=body)
    if status != 202:
        return [f"emoncms: the import answered {status} {job}"]
    deadline = time.monotonic() + timeout_s
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        _, job, _ = call(base, "GET", f"/api/v1/emoncms/imports/{job['id']}", token=admin_token)
    if job["state"] != "done":
        return [f"emoncms: the import is {job['state']} ({job['error']})"]
    quarters = EMONCMS_DAYS * 96
    for part in job["feeds"]:
        counted = part["quarters"]
        stored = counted["new"] + counted["unchanged"] + counted["changed"]
        # The emonPi's minutes off and a counter's last quarter (no end yet) may be missing.
        if stored < quarters - 4:
            return [f"emoncms: feed {part['feed']} stored {stored} of {quarters} quarters"]
    return []
