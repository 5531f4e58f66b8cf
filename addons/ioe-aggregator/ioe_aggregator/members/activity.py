"""What each member is doing now, and what the manager should look at: the control centre's view.

A member's activity puts together what the service already knows of it: its home's retained
status (online since when, its outbox's backlog: ``ingest.status``), its latest reading, its
Datadis link and its share (β) in the agreement in force. Alerts are stable codes the control
centre translates:

``member_silent``
    an active member sent no reading for more than ``SILENT_AFTER``;
``outbox_backlog``
    a home said, when it connected, that its outbox held at least ``BACKLOG_ALERT`` batches,
    and no reading newer than that has arrived since (homes tell their backlog only as they
    connect: once newer readings arrive, it has drained);
``datadis_login_refused``
    Datadis refused the account's last login (its password must be entered again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ioe_aggregator.agreements import Agreement, Agreements
from ioe_aggregator.config import Config
from ioe_aggregator.datadis.status import datadis_status
from ioe_aggregator.ingest.status import LinkState
from ioe_aggregator.members.registry import Member, Registry
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.store import Store

SILENT_AFTER = timedelta(hours=1)
# An hour of a home's quarter-hour batches waiting.
BACKLOG_ALERT = 4
MEMBER_SILENT = "member_silent"
OUTBOX_BACKLOG = "outbox_backlog"
DATADIS_LOGIN_REFUSED = "datadis_login_refused"


@dataclass(frozen=True, kw_only=True)
class Activity:
    """One member now (``share``: β in the agreement in force this hour, None without one)."""

    member: Member
    link: LinkState | None
    last_reading: datetime | None
    datadis: Mapping[str, Any] | None
    share: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the member's activity as ``/api/v1/members/status`` gives it."""
        link, datadis = self.link, self.datadis
        return {
            "member": self.member.id,
            "name": self.member.name,
            "active": self.member.active,
            "revoked": None if self.member.revoked is None else utc_text(self.member.revoked),
            "online": None if link is None else link.online,
            "online_since": None if link is None else utc_text(link.since),
            "backlog": None if link is None else link.backlog,
            "backlog_at": None if link is None or link.backlog is None else utc_text(link.seen),
            "last_reading": None if self.last_reading is None else utc_text(self.last_reading),
            "datadis": None
            if datadis is None
            else {
                "status": datadis["status"],
                "authorised": datadis["authorised"],
                "last_success": datadis["last_success"],
            },
            "share": self.share,
        }


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Something the manager should look at: a stable ``kind``, since when, and a detail."""

    kind: str
    since: datetime
    detail: str
    member: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the alert as the overview gives it."""
        return {
            "kind": self.kind,
            "member": self.member,
            "since": utc_text(self.since),
            "detail": self.detail,
        }


@dataclass(frozen=True, kw_only=True)
class Activities:
    """Every member's activity, the agreement in force, and the Datadis sync's status."""

    members: list[Activity]
    agreement: Agreement | None
    datadis: Mapping[str, Any]


async def activities(
    *,
    store: Store,
    registry: Registry,
    agreements: Agreements,
    links: Mapping[str, LinkState],
    config: Config,
    now: datetime,
) -> Activities:
    """Return each member's activity at ``now`` (``links``: the homes' last statuses)."""
    datadis = await datadis_status(store, config)
    agreement, shares = await agreements.in_force(now)
    last_readings = await store.last_readings()
    by_member = {status["member"]: status for status in datadis["members"]}
    found = [
        Activity(
            member=member,
            link=links.get(member.id),
            last_reading=last_readings.get(member.id),
            datadis=by_member.get(member.id),
            share=None if agreement is None else round(shares.get(member.id, 0.0), 6),
        )
        for member in await registry.members()
    ]
    return Activities(members=found, agreement=agreement, datadis=datadis)


def member_alerts(found: Sequence[Activity], now: datetime) -> list[Alert]:
    """Return the alerts of active members: silent ones, and homes with a backlog."""
    alerts = []
    for activity in found:
        member, link, last = activity.member, activity.link, activity.last_reading
        if not member.active:
            continue
        heard = last or member.created
        if now - heard > SILENT_AFTER:
            detail = "no reading yet" if last is None else "no reading for more than an hour"
            alerts.append(Alert(kind=MEMBER_SILENT, member=member.id, since=heard, detail=detail))
        if (
            link is not None
            and link.backlog is not None
            and link.backlog >= BACKLOG_ALERT
            and (last is None or last < link.seen)
        ):
            alerts.append(
                Alert(
                    kind=OUTBOX_BACKLOG,
                    member=member.id,
                    since=link.seen,
                    detail=f"{link.backlog} batches waiting in the home's outbox",
                )
            )
    return alerts
