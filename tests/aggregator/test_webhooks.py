"""Webhooks: events recorded with their changes, delivered signed, once, in order, retried.

The dispatcher works on a real store (both backends) and posts to a real HTTP receiver that
verifies each signature by the Standard Webhooks specification (``tests.webhook_receiver``);
its clock is the test's, so that an hour of a receiver being down takes a moment. Through the
real service: registering, the events of the API's changes, retries, replays and refusals.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
import json
from pathlib import Path
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from ioe_aggregator.agreements import Agreements, shares_from_scheme
from ioe_aggregator.members.registry import Registry
from ioe_aggregator.replicas import SoleReplica
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.store import Store
from ioe_aggregator.webhooks.dispatch import RETRY_CAP, Dispatcher
from ioe_aggregator.webhooks.subscriptions import Webhooks
from ioe_dev.processes import free_port
from tests.community import Community, StartAggregator, call, make_cups, start_service, wait_until
from tests.webhook_receiver import Receiver

from .conftest import config, register_members

MADRID = ZoneInfo("Europe/Madrid")
WANTED = ["member.joined", "member.left", "agreement.adopted", "month.closed"]


class Clock:
    """The test's time (Unix seconds), moved by hand; never behind the real one.

    Events are recorded at the real time: the dispatcher's clock starts there, or later.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (a moment to come), or now."""
        self.now = time.time() if start is None else start.timestamp()

    def __call__(self) -> float:
        """Return the time now."""
        return self.now


async def _run(dispatcher: Dispatcher, clock: Clock, until: float, *, step_s: float = 1.0) -> None:
    """Deliver what is due, moving the clock to each next attempt, until ``until``."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while clock.now < until:
            wait = await dispatcher.deliver_due(session)
            clock.now += max(min(wait, until - clock.now), step_s)


async def _community(store: Store, receiver: Receiver) -> tuple[Webhooks, Registry]:
    hooks = Webhooks(store)
    _hook, receiver.secret = await hooks.add(receiver.url, WANTED, "ERP", actor="test")
    return hooks, Registry(store, config().members)


async def test_a_receiver_down_for_an_hour_gets_every_event_once_and_in_order(
    store: Store,
) -> None:
    clock = Clock()
    receiver = Receiver(free_port(), clock)
    hooks, registry = await _community(store, receiver)
    # Three changes, told in the order they were made.
    members = await register_members(store, {"m-1": make_cups(1), "m-2": make_cups(2)})
    await registry.revoke("m-1", actor="test")
    agreements = Agreements(store, tz="Europe/Madrid", min_months=4)
    await agreements.add(
        "Igual", shares_from_scheme("equal", members[1:]), valid_from=date(2026, 3, 1),
        actor="test",
    )  # fmt: skip
    dispatcher = Dispatcher(
        store, community="molinos", zone=MADRID, replicas=SoleReplica(store), clock=clock
    )
    start = clock.now

    # Half an hour refusing connections, half an hour answering 503.
    await _run(dispatcher, clock, start + 1800)
    receiver.answer = 503
    receiver.start()
    try:
        await _run(dispatcher, clock, start + 3600)
        refused = list(receiver.received)
        receiver.answer = 200
        # Back up: within the longest wait between attempts, everything arrives.
        await _run(dispatcher, clock, clock.now + RETRY_CAP.total_seconds() + 5)
    finally:
        receiver.stop()

    # While it was down only the first event was tried (the others wait behind it).
    assert refused
    assert {r.event for r in refused} == {refused[0].event}
    assert all(r.verified for r in receiver.received)
    delivered = receiver.delivered()
    assert [r.body["type"] for r in delivered] == [
        "member.joined", "member.joined", "member.left", "agreement.adopted",
    ]  # fmt: skip
    assert [r.body["data"].get("member") for r in delivered[:3]] == ["m-1", "m-2", "m-1"]
    assert len({r.event for r in delivered}) == len(delivered)  # each once
    assert delivered[0].body["community"] == "molinos"
    assert delivered[3].body["data"]["agreement"]["name"] == "Igual"
    # Backoff: tried after 10 s, 20 s, 40 s … then every 10 minutes: 12 times in the hour
    # and a bit, not once a second; the others once each.
    hook = (await hooks.all())[0]
    attempts = {d["event"]: d["attempts"] for d in await hooks.deliveries(hook["id"], limit=9)}
    assert attempts[delivered[0].event] == 12
    assert [attempts[r.event] for r in delivered[1:]] == [1, 1, 1]


async def test_months_close_once_and_a_delivery_fails_after_three_days(store: Store) -> None:
    # Half a minute before the next month begins in Madrid.
    this_month = datetime.now(MADRID).date().replace(day=1)
    coming = add_months(this_month, 1)
    clock = Clock(datetime(coming.year, coming.month, 1, tzinfo=MADRID) - timedelta(seconds=30))
    receiver = Receiver(free_port(), clock)
    hooks, _registry = await _community(store, receiver)
    dispatcher = Dispatcher(
        store, community="molinos", zone=MADRID, replicas=SoleReplica(store), clock=clock
    )

    assert await dispatcher.close_month() is True  # last month
    assert await dispatcher.close_month() is False
    clock.now += 60
    assert await dispatcher.close_month() is True  # this one, at midnight
    # Nobody answers for three days: the first is failed, the second goes on being tried.
    await _run(dispatcher, clock, clock.now + 3 * 86400 + 700, step_s=60)
    hook = (await hooks.all())[0]
    assert (hook["failed"], hook["pending"]) == (2, 0)
    deliveries = await hooks.deliveries(hook["id"], limit=10)
    assert [d["type"] for d in deliveries] == ["month.closed", "month.closed"]
    assert all(d["state"] == "failed" for d in deliveries)
    assert "connect" in deliveries[0]["last_error"].lower()

    # Replayed once the receiver answers: delivered, in the order replayed.
    receiver.start()
    try:
        for delivery in reversed(deliveries):
            await hooks.replay(hook["id"], delivery["event"], actor="test")
        await _run(dispatcher, clock, clock.now + 5)
    finally:
        receiver.stop()
    months = [r.body["data"]["month"] for r in receiver.delivered()]
    last = add_months(this_month, -1)
    assert months == [f"{last:%Y-%m}", f"{this_month:%Y-%m}"]
    assert receiver.delivered()[0].body["data"]["billing"] == f"/api/v1/billing/{last:%Y-%m}"
    assert all(r.verified for r in receiver.received)


# Through the service -------------------------------------------------------------------------


def _admin(base: str, admin: str, method: str, path: str, body: Any = None) -> Any:
    answer = call(base, method, path, admin, body)
    assert answer.status < 300, (path, answer.status, answer.body)
    return answer.json()


def test_the_services_changes_reach_a_webhook_signed_retried_and_replayable(
    community: Community, start_aggregator: StartAggregator, tmp_path: Path
) -> None:
    community.options.update(webhook_retry_s=1)
    admin, operator = community.token("admin"), community.token("operator")
    service, port = start_service(community, start_aggregator)
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver(free_port())
    wanted = {"url": receiver.url, "events": ["member.joined"], "description": "ERP"}
    made = _admin(base, admin, "POST", "/api/v1/webhooks", wanted)
    receiver.secret = made["secret"]
    assert made["secret"].startswith("whsec_")
    receiver.answer = 503
    receiver.start()
    try:
        _admin(base, admin, "POST", "/api/v1/members", {
            "id": "m-0001", "name": "Casa", "cups": make_cups(1), "contracted_kw": 4.6,
        })  # fmt: skip
        wait_until(lambda: len(receiver.received) >= 2)
        receiver.answer = 200
        wait_until(receiver.delivered)
        hook = made["id"]
        deliveries = _admin(base, admin, "GET", f"/api/v1/webhooks/{hook}/deliveries")
        assert deliveries[0]["state"] == "delivered"
        assert deliveries[0]["attempts"] >= 3
        assert deliveries[0]["last_status"] == 200
        first = receiver.delivered()[0]
        assert first.verified
        assert first.body["data"] == {"member": "m-0001", "cups": make_cups(1)}

        # Replayed: the same event again, under the same id.
        _admin(base, admin, "POST", f"/api/v1/webhooks/{hook}/deliveries/{first.event}/replay")
        wait_until(lambda: len(receiver.delivered()) == 2)
        assert receiver.delivered()[1].event == first.event
        # A ping, to that webhook alone.
        ping = _admin(base, admin, "POST", f"/api/v1/webhooks/{hook}/ping")
        wait_until(lambda: receiver.delivered()[-1].event == ping["event"])
        assert receiver.delivered()[-1].body["type"] == "webhook.ping"
    finally:
        receiver.stop()

    listed = _admin(base, admin, "GET", "/api/v1/webhooks")
    assert listed[0]["delivered"] == 2
    assert "secret" not in listed[0]
    # Refusals: a bad address and events (all named), and no operator registers webhooks.
    wrong = {"url": "ftp://user:pw@example.com/x", "events": ["member.joined"]}
    bad = call(base, "POST", "/api/v1/webhooks", admin, wrong)
    assert bad.status == 400
    assert bad.json()["error"] == "bad_webhook"
    for reason in ("http:// or https://", "no user or password"):
        assert reason in bad.json()["message"]
    unknown = {"url": receiver.url, "events": ["bill.paid"]}
    refused = call(base, "POST", "/api/v1/webhooks", admin, unknown)
    assert refused.status == 400
    assert "bill.paid" in refused.json()["message"]
    sent = {"url": receiver.url, "events": ["member.joined"]}
    assert call(base, "POST", "/api/v1/webhooks", operator, sent).status == 403
    assert call(base, "GET", f"/api/v1/webhooks/{hook}/deliveries", operator).status == 403
    assert (
        call(base, "POST", f"/api/v1/webhooks/{hook}/deliveries/evt_x/replay", admin).status == 404
    )
    # The secret and the receiver's query string are in no log and no audit entry.
    audit = json.dumps(_admin(base, admin, "GET", "/api/v1/audit?limit=200"))
    log = service.log_file.read_text()
    for secret in (made["secret"], "kept-out-of-logs"):
        assert secret not in audit
        assert secret not in log
    assert "not delivered (answered 503" in log
    removed = _admin(base, admin, "DELETE", f"/api/v1/webhooks/{hook}")
    assert removed["id"] == hook
    assert _admin(base, admin, "GET", "/api/v1/webhooks") == []
