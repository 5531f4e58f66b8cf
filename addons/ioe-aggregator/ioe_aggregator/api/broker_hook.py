"""``/api/v1/broker/*``: a cluster broker asks who may log in and what each login may do.

EMQX (5.x) asks an HTTP service at every connection (authentication) and, unless the answer
carried the client's access list (EMQX 5.8 and later), at every publish and subscribe it has
not cached (authorization); ``docs/scale.md`` shows its configuration. Both answer from the
registry and ``members.broker_rules``, the rules Mosquitto's generated files hold, and only a
token of scope ``broker`` may ask.

Answers follow EMQX's contract: ``allow`` or ``deny`` for a login of this community (a member,
or the aggregator's own login), ``ignore`` for any other, so that the next source in the
broker's chain decides and, with ``no_match = deny``, nobody unknown gets in. An error (the
database away) is answered 5xx, which EMQX reads as ``ignore``: refused, never let in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
import hmac
import logging
from typing import Any, Final

from aiohttp import web

from ioe_aggregator.api.auth import require_broker
from ioe_aggregator.api.requests import json_body
from ioe_aggregator.auth import secrets
from ioe_aggregator.config import BrokerAccountsConfig
from ioe_aggregator.keys import CONFIG, RESULTS, STORE
from ioe_aggregator.members.broker_accounts import SELECT_LOGIN
from ioe_aggregator.members.broker_rules import (
    Action,
    Rule,
    allowed,
    member_rules,
    service_rules,
    without_share,
)

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()

ALLOW: Final = "allow"
DENY: Final = "deny"
IGNORE: Final = "ignore"
# EMQX matches a rule's "#" against no topic starting with "$" ($queue/…, $SYS/…): what the
# list does not allow is refused by the broker's no_match = deny.
_EMQX_ACTIONS: Final = {"read": "subscribe", "write": "publish", "readwrite": "all"}


@dataclass(frozen=True, kw_only=True)
class _Login:
    """Whose a login is, as far as this community knows: the service's, a member's, or nobody's."""

    # What the login may do; None: not a login of this community (the answer is ignore).
    rules: tuple[Rule, ...] | None
    member: str | None = None
    # The member's password hash; None for the service's own login.
    password_hash: str | None = None
    # Why a login of this community is refused whatever its password.
    refusal: str | None = None


NOT_OURS: Final = _Login(rules=None)
# Checked against when a login has no password here, so that refusing it takes as long as
# checking a member's (nobody learns which members exist from the time it takes).
_NO_PASSWORD: Final = secrets.mosquitto_hash("")


async def _login(request: web.Request, username: str) -> _Login:
    """Return what this community knows of a login (the password not yet checked)."""
    accounts = request.app[CONFIG].members.accounts
    if username in accounts.full_access:
        # The aggregator's own login, when its password is known; the others (Home
        # Assistant's users on the Mosquitto add-on) are not the hook's to judge.
        if accounts.service_login is None or username != accounts.service_login[0]:
            return NOT_OURS
        discovery = request.app[RESULTS].discovery_topics
        return _Login(rules=service_rules(accounts.topic_prefix, discovery))
    member = accounts.logins.member_of(username)
    return NOT_OURS if member is None else await _member_login(request, accounts, member)


async def _member_login(
    request: web.Request, accounts: BrokerAccountsConfig, member: str
) -> _Login:
    async with request.app[STORE].transaction() as tx:
        rows = await tx.execute(SELECT_LOGIN, (member,))
    if rows and rows[0][0]:
        rules = member_rules(accounts.topic_prefix, member)
        return _Login(rules=rules, member=member, password_hash=str(rows[0][1]))
    if rows:
        return _Login(rules=(), member=member, refusal="the member is revoked")
    # A plain login no member has may be another service's (on a broker of its own, which the
    # community shares); member@community is this community's, and nobody's.
    if not accounts.logins.with_community:
        return NOT_OURS
    return _Login(rules=(), member=member, refusal="no such member")


async def _password_matches(login: _Login, accounts: BrokerAccountsConfig, password: str) -> bool:
    if login.member is not None:
        # PBKDF2 in a thread: a reconnecting community must not hold the event loop.
        stored = login.password_hash or _NO_PASSWORD
        matches = await asyncio.to_thread(secrets.mosquitto_matches, password, stored)
        return matches and login.password_hash is not None
    service = accounts.service_login
    return service is not None and hmac.compare_digest(password.encode(), service[1].encode())


def _acl(rules: Sequence[Rule]) -> list[dict[str, str]]:
    """Return rules as EMQX's access list, ending with a refusal of everything else."""
    listed = [
        {"permission": ALLOW, "action": _EMQX_ACTIONS[rule.access], "topic": rule.topic}
        for rule in rules
    ]
    return [*listed, {"permission": DENY, "action": "all", "topic": "#"}]


def _client_refusal(accounts: BrokerAccountsConfig, login: _Login, client_id: str) -> str | None:
    logins = accounts.logins
    if login.member is None:
        if logins.client_id_is_services(client_id):
            return None
        return f"client id {client_id!r} is not one of the aggregator's"
    if logins.client_id_is_members(client_id, login.member):
        return None
    return f"client id {client_id!r} is not one of the member's homes'"


def _answer(result: str, **more: Any) -> web.Response:
    return web.json_response({"result": result, **more})


@routes.post("/api/v1/broker/authn")
async def broker_authn(request: web.Request) -> web.Response:
    """Answer whether a login may connect, with its access list (EMQX HTTP authentication)."""
    require_broker(request)
    body = await json_body(request)
    username, client_id = body["username"], body["clientid"]
    accounts = request.app[CONFIG].members.accounts
    login = await _login(request, username)
    if login.rules is None:
        return _answer(IGNORE)
    refusal: str | None
    if not await _password_matches(login, accounts, body["password"]):
        refusal = login.refusal or "wrong password"
    else:
        refusal = login.refusal or _client_refusal(accounts, login, client_id)
    if refusal is not None:
        _LOGGER.warning("Broker login %r refused: %s", username, refusal)
        return _answer(DENY)
    return _answer(ALLOW, is_superuser=False, acl=_acl(login.rules))


@routes.post("/api/v1/broker/authz")
async def broker_authz(request: web.Request) -> web.Response:
    """Answer whether a login may publish or subscribe to a topic (EMQX HTTP authorization)."""
    require_broker(request)
    body = await json_body(request)
    username, action, topic = body["username"], Action(body["action"]), body["topic"]
    accounts = request.app[CONFIG].members.accounts
    login = await _login(request, username)
    if login.rules is None:
        return _answer(IGNORE)
    refusal = login.refusal or _client_refusal(accounts, login, body["clientid"])
    if refusal is None and allowed(login.rules, action, without_share(topic)):
        return _answer(ALLOW)
    _LOGGER.info(
        "Broker refused %r %s to %r: %s", username, action, topic, refusal or "not its topic"
    )
    return _answer(DENY)
