"""``scripts/bench web``: what the control centre's data answers cost with a big community.

A SQLite store with 200 registered members (an agreement in force) and two years of
quarter-hour grid imports each (the members' own meters) and the distributor's hourly values of
the same two years, filled through the store's own batch writes (``Store.store_batches``: what
keeps the completeness counts). Timed in the process: a year's completeness heat-map
(``completeness``), and for comparison the same counts summed straight from the readings (a
plain GROUP BY). Then the service runs on that database as its own process (no broker: the
results are computed, not published) and a viewer's GETs of the overview, the members' status
and a year's completeness are timed from the client, on the same machine; and the pages drawn
in Chromium, from a blank tab until the part drawn from the page's data is there.

Filling takes a while (about 20 minutes here): with ``IOE_BENCH_WEB_DATA=DIR`` the database is
kept in DIR and a later run reuses it (it is migrated, as an upgraded service's would be).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
import json
import math
import os
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

from playwright.async_api import Page, async_playwright
import yaml

from ioe_aggregator.agreements import Agreements, shares_from_scheme
from ioe_aggregator.config import load_config
from ioe_aggregator.distributor.model import SOURCE as DISTRIBUTOR
from ioe_aggregator.history.completeness import completeness
from ioe_aggregator.members.registry import NewMember, Registry
from ioe_aggregator.protocol.codec import COMMUNITY_PLANT, Reading, ReadingsBatch
from ioe_aggregator.store import SOURCE_MEMBER, Store, open_store
from ioe_dev.demo.public import issue_portal_link, portal_cookie, show_display
from ioe_dev.processes import Service, free_port
from ioe_dev.synthetic import cups, quarter_batch

MEMBERS = 200
DAYS = 731
FIRST_DAY = date(2025, 1, 1)
ZONE = ZoneInfo("Europe/Madrid")
REPEATS = 20
YEAR = "from=2026-01-01&to=2026-12-31"
# The member whose page is timed (one of the many without the plant).
MEMBER = "m-0100"
# The service's answers timed over HTTP, as a viewer asks for them.
PAGES = {
    "overview": "/api/v1/community/overview",
    "members_status": "/api/v1/members/status",
    "completeness_http": f"/api/v1/completeness?{YEAR}",
    "member_day": f"/api/v1/members/{MEMBER}/energy?period=day&date=2026-06-15",
    "member_month": f"/api/v1/members/{MEMBER}/energy?period=month&date=2026-06-15",
    "member_year": f"/api/v1/members/{MEMBER}/energy?period=year&date=2026-06-15",
    "member_reconciliation": f"/api/v1/reconciliation?from=2026-01&to=2026-12&member={MEMBER}",
}
# The member portal's answers, timed as the member signed in to it asks for them (the page
# asks for the day's energy, the year's months and the community's month as it opens).
PORTAL = {
    "portal_session": "/api/v1/portal/session",
    "portal_months": f"/api/v1/members/{MEMBER}/months?year=2026",
    "portal_day": f"/api/v1/members/{MEMBER}/energy?period=day&date=2026-06-15",
    "portal_kpis": "/api/v1/community/kpis?start=2026-06-01T00:00:00Z&end=2026-06-15T12:00:00Z",
}
# All of a member's data, two years of hours: downloads, not pages (timed fewer times).
DOWNLOADS = {
    "portal_data_json": f"/api/v1/members/{MEMBER}/data.json",
    "portal_data_csv": f"/api/v1/members/{MEMBER}/data.csv",
}
DOWNLOAD_REPEATS = 5
# The public display's page and open data, asked with no login (once its first figures are
# computed, in the background as it is switched on; that first computation is timed apart).
DISPLAY = {
    "display_page": "/display",
    "display_data": "/api/public/v1/community",
}
# The display answers one address 60 times a minute: the bench waits a window out before it.
RATE_WINDOW_S = 61
# The display's answer before its first figures are computed (figures_unavailable).
NOT_COMPUTED = 503
# A request's time limit: the first figures may take minutes, and hold other answers back.
FIRST_FIGURES_S = 1800
# A plant's quarter hours (kWh) on a sunny day, UTC: 30 kW at noon.
PLANT_DAY = [round(max(0.0, 7.5 * math.sin(math.pi * (q - 28) / 48)), 3) for q in range(96)]
# The control centre's pages timed in Chromium, from a blank tab to the element drawn last
# (what is drawn once the page's data came).
RENDERED = {
    "overview_rendered": ("overview", "#energy-title"),
    "member_rendered": (f"members/{MEMBER}", "#reconciliation-title"),
}
# The portal's page is drawn when its day's chart and its year's months are.
PORTAL_DRAWN = ("section[aria-labelledby='energy-title'] canvas", "#year-caption")
CHROMIUM = "/usr/bin/chromium"
# Days of every member per store transaction.
DAYS_PER_WRITE = 7
# The plain alternative: the same counts summed from the readings per member and UTC day.
PLAIN_GROUP_BY = """SELECT member, start_s / 86400, SUM(end_s - start_s) FROM readings
    WHERE source = ? AND meter = 'grid' AND quantity = 'import_kwh'
        AND start_s >= ? AND start_s < ? GROUP BY 1, 2"""


def _hourly_batch(member: str, start: datetime, hours: int) -> ReadingsBatch:
    hour = timedelta(hours=1)
    return ReadingsBatch(
        member=member,
        batch=f"datadis:{member}-{start:%Y%m%d}",
        sent_at=start + hours * hour,
        readings=tuple(
            Reading("grid", "import_kwh", start + i * hour, start + (i + 1) * hour, 0.4, "measured")
            for i in range(hours)
        ),
        live=None,
    )


async def _fill(store: Store, members: list[str]) -> dict[str, float]:
    """Store the readings a window of days at a time, every member's in one transaction.

    The first member has the community's plant (its generation every quarter hour, a sunny
    day's shape), the others their grid imports; the distributor's hourly values for all.

    Time first, members second: each index grows at its end (by time) or at each member's end,
    as the service's own writes make it grow, not all over the file.
    """
    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
    began = time.perf_counter()
    for first in range(0, DAYS, DAYS_PER_WRITE):
        days = min(DAYS_PER_WRITE, DAYS - first)
        moment = start + timedelta(days=first)
        await store.store_batches(
            [
                *(
                    quarter_batch(m, "grid", "import_kwh", moment, [0.1] * 96 * days)
                    for m in members
                ),
                quarter_batch(members[0], *COMMUNITY_PLANT, moment, PLANT_DAY * days),
            ]
        )
        await store.store_batches(
            [_hourly_batch(m, moment, 24 * days) for m in members], source=DISTRIBUTOR
        )
    return {"fill_s": time.perf_counter() - began}


async def _register(store: Store, members: list[str]) -> None:
    """Register the members and an equal agreement in force (what the status reads)."""
    config = load_config(None, {"IOE_AGGREGATOR_PUBLIC_BROKER_HOST": "localhost"})
    registry = Registry(store, config.members)
    for number, member in enumerate(members, start=1):
        new = NewMember(
            id=member,
            name=member,
            cups=cups(number),
            contracted_kw=4.6,
            investment_share=0,
            plant_kw=30.0 if number == 1 else 0.0,
        )
        await registry.add(new, actor="bench")
    agreements = Agreements(store, tz=config.results.timezone, min_months=4)
    shares = shares_from_scheme("equal", await registry.members())
    await agreements.add("bench", shares, valid_from=date(2025, 1, 1), actor="bench")


async def _timed(call: Callable[[], Awaitable[object]], repeats: int = REPEATS) -> list[float]:
    await call()  # warm: the page cache, the query plan
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


def _env() -> dict[str, str]:
    addon = Path(__file__).resolve().parents[3] / "addons" / "ioe-aggregator"
    return {**os.environ, "PYTHONPATH": str(addon)}


def _cli(config: Path, *args: str) -> Any:
    command = [sys.executable, "-m", "ioe_aggregator", *args, "--config", str(config), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=_env())
    return json.loads(result.stdout)


def _get(
    url: str,
    token: str | None,
    method: str = "GET",
    *,
    cookie: str | None = None,
    timeout_s: float = FIRST_FIGURES_S,
) -> int:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - a local URL
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie is not None:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


async def _load_time(page: Page, url: str, *drawn: str) -> dict[str, float]:
    """Time ``url`` drawn in ``page``, from a blank tab until every one of ``drawn`` is there."""

    async def load() -> None:
        await page.goto("about:blank")
        await page.goto(url)
        for selector in drawn:
            await page.wait_for_selector(selector, timeout=60_000)

    return _summary(await _timed(load))


async def _rendered(base: str, token: str, portal: str) -> dict[str, Any]:
    """Time RENDERED drawn in Chromium (a viewer's token in every request), and the portal.

    ``portal``: the ``Cookie`` header of a member signed in to the portal.
    """
    result = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = await browser.new_context(
                extra_http_headers={"Authorization": f"Bearer {token}"}
            )
            page = await context.new_page()
            for name, (route, drawn) in RENDERED.items():
                result[name] = await _load_time(page, f"{base}/#/{route}", drawn)
            member = await browser.new_context()
            name, _, value = portal.partition("=")
            await member.add_cookies([{"name": name, "value": value, "url": base}])
            result["portal_rendered"] = await _load_time(
                await member.new_page(), f"{base}/portal", *PORTAL_DRAWN
            )
        finally:
            await browser.close()
    return result


def _timed_get(
    url: str, token: str | None, *, cookie: str | None = None, repeats: int = REPEATS
) -> dict[str, float]:
    """Time ``repeats`` GETs of ``url`` after one that must answer 200."""
    assert _get(url, token, cookie=cookie) == 200, url  # noqa: S101 - the bench's own check
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        _get(url, token, cookie=cookie)
        times.append(time.perf_counter() - began)
    return _summary(times)


def _display(base: str, admin: str) -> dict[str, Any]:
    """Switch the display on; time its first figures, then its page and open data."""
    began = time.perf_counter()
    show_display(base, admin)
    # The first answer waits for the year's days to be computed.
    while _get(base + DISPLAY["display_data"], None) == NOT_COMPUTED:
        time.sleep(2)
    first_s = time.perf_counter() - began
    time.sleep(RATE_WINDOW_S)
    timed = {name: _timed_get(base + path, None) for name, path in DISPLAY.items()}
    # Off again: the next run's service starts without it, and times its first figures again.
    show_display(base, admin, on=False)
    return {"display_first_s": first_s, **timed}


def _served(directory: Path, url: str) -> dict[str, Any]:
    """Time the viewer's GETs of PAGES from the service running on the database ``url``."""
    port = free_port()
    config = directory / "service.yaml"
    options = {"database_url": url, "http_host": "127.0.0.1", "http_port": port}
    config.write_text(yaml.safe_dump({**options, "log_level": "warning"}))
    viewer = _cli(config, "tokens", "add", "--scope", "viewer", "--label", "bench")["token"]
    admin = _cli(config, "tokens", "add", "--scope", "admin", "--label", "bench")["token"]
    command = [sys.executable, "-m", "ioe_aggregator", "serve", "--config", str(config)]
    service = Service("aggregator", command, directory / "service.log", env=_env())
    service.start(port=port, timeout_s=120)
    base = f"http://127.0.0.1:{port}"
    try:
        # The community's state as the service computes it every minute (published or not).
        _get(f"{base}/api/v1/results/publish", admin, "POST")
        result = {name: _timed_get(base + path, viewer) for name, path in PAGES.items()}
        cookie = portal_cookie(base, issue_portal_link(base, admin, MEMBER))
        for name, path in PORTAL.items():
            result[name] = _timed_get(base + path, None, cookie=cookie)
        for name, path in DOWNLOADS.items():
            result[name] = _timed_get(base + path, None, cookie=cookie, repeats=DOWNLOAD_REPEATS)
        result |= _display(base, admin)
        return result | asyncio.run(_rendered(base, viewer, cookie))
    finally:
        service.stop()


async def _measure(directory: Path) -> dict[str, Any]:
    url = f"sqlite:///{directory}/bench.db"
    filled = directory / "filled.json"
    store = await open_store(url)
    try:
        members = [f"m-{n:04d}" for n in range(1, MEMBERS + 1)]
        if filled.exists():
            result: dict[str, Any] = json.loads(filled.read_text())
        else:
            result = await _fill(store, members)
            await _register(store, members)
            filled.write_text(json.dumps(result))
        first, last = date(2026, 1, 1), date(2026, 12, 31)

        async def heat_map() -> None:
            await completeness(store, members, first, last)

        async def plain() -> None:
            low = int(datetime.combine(first, datetime.min.time(), UTC).timestamp())
            for source in (SOURCE_MEMBER, DISTRIBUTOR):
                async with store.transaction() as tx:
                    await tx.execute(PLAIN_GROUP_BY, (source, low, low + 365 * 86400))

        result["completeness_year"] = _summary(await _timed(heat_map))
        # The plain alternative takes seconds: a few runs tell it.
        result["plain_group_by_year"] = _summary(await _timed(plain, repeats=3))
    finally:
        await store.close()
    return result


def bench_web() -> dict[str, Any]:
    """Fill the store and time the answers (see the module's docstring)."""
    with tempfile.TemporaryDirectory(prefix="ioe-bench-web-") as tmp:
        directory = Path(os.environ.get("IOE_BENCH_WEB_DATA") or tmp)
        directory.mkdir(parents=True, exist_ok=True)
        measured = asyncio.run(_measure(directory))
        measured |= _served(directory, f"sqlite:///{directory}/bench.db")
    readings = MEMBERS * DAYS * (96 + 24) + DAYS * 96  # imports, distributor, the plant
    return {"members": MEMBERS, "days": DAYS, "readings": readings, **measured}


def print_table(results: dict[str, Any]) -> None:
    """Print the results as docs/benchmarks.md's table."""
    print("| answer | median | p95 |")
    print("|---|---:|---:|")
    for key, name in (
        ("completeness_year", "completeness, 200 members × 365 days, both sources (in process)"),
        ("plain_group_by_year", "the same from the readings (plain GROUP BY, no day split)"),
        ("overview", "GET /api/v1/community/overview (HTTP)"),
        ("members_status", "GET /api/v1/members/status (HTTP)"),
        ("completeness_http", f"GET /api/v1/completeness?{YEAR} (HTTP)"),
        ("member_day", f"GET /api/v1/members/{MEMBER}/energy?period=day (HTTP)"),
        ("member_month", f"GET /api/v1/members/{MEMBER}/energy?period=month (HTTP)"),
        ("member_year", f"GET /api/v1/members/{MEMBER}/energy?period=year (HTTP)"),
        ("member_reconciliation", f"GET /api/v1/reconciliation?member={MEMBER}, a year (HTTP)"),
        ("overview_rendered", "Overview drawn in Chromium (from a blank tab)"),
        ("member_rendered", "A member's page drawn in Chromium (from a blank tab)"),
        ("portal_session", "Portal: GET /api/v1/portal/session (HTTP, the member's cookie)"),
        ("portal_months", f"Portal: GET /api/v1/members/{MEMBER}/months?year=2026 (HTTP)"),
        ("portal_day", f"Portal: GET /api/v1/members/{MEMBER}/energy?period=day (HTTP)"),
        ("portal_kpis", "Portal: GET /api/v1/community/kpis, a half month, ≥ 5 rule (HTTP)"),
        ("portal_rendered", "Portal: the member's page drawn in Chromium (from a blank tab)"),
        ("portal_data_json", "Portal: all my data, JSON, two years of hours (download)"),
        ("portal_data_csv", "Portal: all my data, CSV, two years of hours (download)"),
        ("display_page", "Public display: GET /display (HTTP, no login)"),
        ("display_data", "Public display: GET /api/public/v1/community (HTTP, no login)"),
    ):
        row = results[key]
        print(f"| {name} | {row['median_ms']:.0f} ms | {row['p95_ms']:.0f} ms |")
    print(f"\nFilled {results['readings']:,} readings in {results['fill_s']:.0f} s.")
    print(f"The display's first figures (a year of days) in {results['display_first_s']:.1f} s.")
