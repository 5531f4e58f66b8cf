"""``/api/v1/community/overview``: the community at a glance, for the control centre's first page.

Nothing here is a second path to the data: power now is the community state the results
publisher computed last (from the homes' live reports), the day's and month's energy are the
KPIs' totals (``community.kpis``), members online come from their homes' retained statuses,
data gaps from the completeness counts and Datadis from its ledger and the service's syncs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ioe_aggregator.api.auth import require
from ioe_aggregator.api.community import kpis
from ioe_aggregator.api.members import member_activities
from ioe_aggregator.auth.roles import Permission
from ioe_aggregator.history.completeness import completeness, yesterday
from ioe_aggregator.keys import CONFIG, DATADIS_RUNS, RESULTS, STORE
from ioe_aggregator.members.activity import DATADIS_LOGIN_REFUSED, Alert, member_alerts
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.results.engine import Snapshot
from ioe_aggregator.store import Store

routes = web.RouteTableDef()


def _now(snapshot: Snapshot) -> dict[str, Any]:
    """Return the powers of a snapshot, and the share of the plant's the members use now."""
    power = snapshot.now_w
    generation, consumption = power["generation"], power["consumption"]
    return {
        "at": utc_text(snapshot.computed_at),
        "generation_w": round(generation, 1),
        "consumption_w": round(consumption, 1),
        "import_w": round(power["import"], 1),
        "export_w": round(power["export"], 1),
        "self_consumed_share": round(min(generation, consumption) / generation, 4)
        if generation > 0
        else None,
    }


async def _period(store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    # The overview's callers read every member's figures: nothing is withheld from them.
    totals = await store.totals(start, end, min_contributors=None)
    return {"start": utc_text(start), "end": utc_text(end), **kpis(totals)}


@routes.get("/api/v1/community/overview")
async def community_overview(request: web.Request) -> web.Response:
    """Return the community now, today and this month, its members, gaps and alerts (read)."""
    require(request, Permission.READ)
    app = request.app
    store = app[STORE]
    zone = app[CONFIG].results.zone
    now = datetime.now(UTC)
    snapshot = app[RESULTS].latest or await app[RESULTS].compute(now)
    found = await member_activities(request, now)
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    active = [activity for activity in found.members if activity.member.active]
    gap_day = yesterday(zone, now)
    gaps = await completeness(store, [a.member.id for a in active], gap_day, gap_day)
    datadis = found.datadis
    alerts = member_alerts(found.members, now)
    if datadis["login_refused"]:
        alerts.append(
            Alert(
                kind=DATADIS_LOGIN_REFUSED,
                since=datetime.fromisoformat(datadis["last_login"]["at"]),
                detail="Datadis refused the login: enter the account's password again",
            )
        )
    online = sum(1 for activity in active if activity.link is not None and activity.link.online)
    linked = datadis["members"]
    return web.json_response(
        {
            "at": utc_text(now),
            "timezone": str(zone),
            "now": _now(snapshot),
            "today": await _period(store, day_start, now),
            "month": await _period(store, month_start.astimezone(UTC), now),
            "members": {"active": len(active), "online": online, "offline": len(active) - online},
            "data_gaps": {
                "day": gap_day.isoformat(),
                "members": [
                    a.member.id for a in active if gaps.incomplete(a.member.id) == [gap_day]
                ],
            },
            "datadis": {
                "configured": datadis["configured"],
                "running": app[DATADIS_RUNS].current is not None,
                "last_sync": None if datadis["last_login"] is None else datadis["last_login"]["at"],
                "login_refused": datadis["login_refused"],
                "members_linked": len(linked),
                "members_authorised": sum(1 for m in linked if m["authorised"] is True),
                "members_not_authorised": sum(1 for m in linked if m["authorised"] is False),
            },
            "alerts": [alert.as_dict() for alert in alerts],
        }
    )
