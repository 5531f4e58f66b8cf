"""The hook a cluster broker (EMQX) asks, through the real service, against the real Mosquitto.

The hook must decide what Mosquitto decides on the files the same registry generates: every
concrete topic of the table below is tried on the real broker (a message published, or sent to
a subscription, then a barrier message both sides may carry) and asked of the hook, for member
ids as logins and for ``member@community`` logins. Wildcards, shared subscriptions and
``$``-topics, which Mosquitto's access list only filters at delivery, are asked of the hook
alone. The request and answer shapes are EMQX 5's HTTP authentication and authorization
(docs.emqx.com, access-control/authn/http and authz/http); the unwrapping of ``$share`` and
the ``#`` that never matches a ``$``-topic are EMQX's as emqx/emqx-docs#3884 describes them.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any
import uuid

import pytest
import yaml

from custom_components.ioe_community.link.client import probe
from ioe_aggregator.members.join_code import decode
from tests.community import (
    PREFIX,
    Community,
    MqttClient,
    StartAggregator,
    call,
    home_settings,
    start_service,
    wait_until,
)
from tests.conftest import AGGREGATOR_PASSWORD, AGGREGATOR_USER

A, B, C = "m-0001", "m-0002", "m-0003"
SUFFIX = "0123456789abcdef"
PUBLISH, SUBSCRIBE = "publish", "subscribe"
# (action, topic, allowed) for member A; every topic concrete, so Mosquitto can be asked too.
CONCRETE = [
    (PUBLISH, f"{PREFIX}/m/{A}/readings", True),
    (PUBLISH, f"{PREFIX}/m/{A}/status", True),
    (PUBLISH, f"{PREFIX}/m/{A}/ack", False),
    (PUBLISH, f"{PREFIX}/m/{A}/results", False),
    (PUBLISH, f"{PREFIX}/m/{B}/readings", False),
    (PUBLISH, f"{PREFIX}/m/{B}/status", False),
    (PUBLISH, f"{PREFIX}/community/state", False),
    (PUBLISH, "elsewhere/readings", False),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/ack", True),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/results", True),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/forecast", True),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/status", True),
    (SUBSCRIBE, f"{PREFIX}/community/state", True),
    (SUBSCRIBE, f"{PREFIX}/community/signal", True),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/readings", False),
    (SUBSCRIBE, f"{PREFIX}/m/{B}/ack", False),
    (SUBSCRIBE, f"{PREFIX}/m/{B}/status", False),
    (SUBSCRIBE, f"{PREFIX}/m/{B}/readings", False),
    (SUBSCRIBE, "elsewhere/state", False),
]
# Filters a cluster broker checks at SUBSCRIBE (Mosquitto only filters what it delivers).
FILTERS = [
    (SUBSCRIBE, f"{PREFIX}/community/#", True),
    (SUBSCRIBE, f"{PREFIX}/community/+", True),
    (SUBSCRIBE, f"{PREFIX}/m/{A}/+", False),
    (SUBSCRIBE, f"{PREFIX}/m/+/ack", False),
    (SUBSCRIBE, f"{PREFIX}/#", False),
    (SUBSCRIBE, "#", False),
    (SUBSCRIBE, f"$share/g/{PREFIX}/m/{A}/ack", True),
    (SUBSCRIBE, f"$share/g/{PREFIX}/m/{B}/readings", False),
    (SUBSCRIBE, f"$queue/q/{PREFIX}/m/{A}/ack", False),
    (SUBSCRIBE, "$SYS/#", False),
    (PUBLISH, f"{PREFIX}/m/+/readings", False),
]


@dataclass
class Hook:
    """The service's broker hook, asked as EMQX asks it (with the broker's token)."""

    base: str
    token: str
    community: Community
    log: Path

    def ask(self, kind: str, token: str | None = "", **body: Any) -> tuple[int, Any]:
        """Post a question (with the broker's token unless another, or None, is given)."""
        answer = call(
            self.base, "POST", f"/api/v1/broker/{kind}", self.token if token == "" else token, body
        )
        return answer.status, answer.json()

    def authn(self, username: str, password: str, clientid: str) -> dict[str, Any]:
        """Return the answer to a connection."""
        status, body = self.ask("authn", username=username, password=password, clientid=clientid)
        assert status == 200, body
        return body

    def authz(self, username: str, action: str, topic: str, clientid: str = "") -> str:
        """Return the decision on a publish or subscribe (by the member's home by default)."""
        clientid = clientid or _home_id(self.community, username.partition("@")[0])
        status, body = self.ask(
            "authz", username=username, clientid=clientid, action=action, topic=topic
        )
        assert status == 200, body
        return str(body["result"])


def _configure(community: Community, *, with_community: bool) -> None:
    community.options["broker_login_community"] = with_community
    community.config_file.write_text(yaml.safe_dump(community.options))


def _start(community: Community, start_aggregator: StartAggregator) -> Hook:
    token = community.token("broker")
    service, port = start_service(community, start_aggregator)
    return Hook(f"http://127.0.0.1:{port}", token, community, service.log_file)


LOGINS = pytest.mark.parametrize(
    "with_community", [False, True], ids=["member-logins", "member@community-logins"]
)


def _login(community: Community, member: str) -> str:
    return f"{member}@molinos" if community.options.get("broker_login_community") else member


def _home_id(community: Community, member: str) -> str:
    """Return a client id of the member's homes (the format its link makes, a fixed suffix)."""
    if community.options.get("broker_login_community"):
        return f"ioe-home-{member}@molinos-{SUFFIX}"
    return f"ioe-home-molinos-{member}-{SUFFIX}"


def _emqx_match(name: str, rule: str) -> bool:
    """EMQX's topic match (emqx_topic:match/2), word by word, written from its description."""
    if name.startswith("$") and rule[:1] in ("+", "#"):
        return False
    names, rules = name.split("/"), rule.split("/")
    for index, word in enumerate(rules):
        if word == "#":
            return True
        if index >= len(names) or (word != "+" and word != names[index]):
            return False
    return len(names) == len(rules)


def _emqx_decides(acl: list[dict[str, str]], action: str, topic: str) -> str:
    """Return what EMQX makes of an access list: the first rule that matches, else no_match."""
    if topic.startswith("$share/"):  # authorized as its real topic
        topic = topic.split("/", 2)[2]
    for rule in acl:
        if rule["action"] in ("all", action) and _emqx_match(topic, rule["topic"]):
            return rule["permission"]
    return "deny"  # no_match = deny, as docs/scale.md configures it


def _mosquitto_allows(
    member: MqttClient, watcher: MqttClient, action: str, topic: str, barrier: tuple[str, str]
) -> bool:
    """Try one action on the real broker: whether the message got through before a barrier."""
    mark = uuid.uuid4().hex.encode()
    own_status, own_ack = barrier
    if action == PUBLISH:
        member.publish(topic, mark)
        member.publish(own_status, mark + b"-barrier")
        receiver = watcher
        barrier_topic = own_status
    else:
        member.subscribe(topic)
        watcher.publish(topic, mark)
        watcher.publish(own_ack, mark + b"-barrier")
        receiver = member
        barrier_topic = own_ack
    receiver.wait_for(lambda: mark + b"-barrier" in receiver.payloads(barrier_topic))
    return mark in receiver.payloads(topic)


@LOGINS
def test_the_hook_decides_what_mosquitto_decides(
    community: Community, start_aggregator: StartAggregator, with_community: bool
) -> None:
    _configure(community, with_community=with_community)
    code = community.add_member(A, 1)
    community.add_member(B, 2)
    login = _login(community, A)
    assert code.mqtt_username == (login if login != A else None)
    # The home takes its login from its join code, and the generated files let it in.
    home = home_settings(code)
    assert home.username == login
    probe(home, timeout_s=10)

    member = community.connect(login, code.mqtt_password)
    assert member.connected is not None
    assert not member.connected.is_failure
    watcher = community.connect(AGGREGATOR_USER, AGGREGATOR_PASSWORD)
    watcher.subscribe("#")
    member.subscribe(f"{PREFIX}/m/{A}/ack")
    barrier = (f"{PREFIX}/m/{A}/status", f"{PREFIX}/m/{A}/ack")
    # On Mosquitto first: the watcher takes the aggregator's login (and session).
    on_mosquitto = [
        _mosquitto_allows(member, watcher, action, topic, barrier) for action, topic, _ in CONCRETE
    ]
    assert on_mosquitto == [expected for _, _, expected in CONCRETE]
    watcher.close()

    hook = _start(community, start_aggregator)
    # The client ids the home's link and its connection test use are its own.
    for client_id in (home.client_id, home.client_id + "-probe"):
        assert hook.authn(login, code.mqtt_password, client_id)["result"] == "allow"
    allowed = hook.authn(login, code.mqtt_password, _home_id(community, A))
    assert allowed["result"] == "allow"
    assert allowed["is_superuser"] is False
    acl = allowed["acl"]
    assert acl[-1] == {"permission": "deny", "action": "all", "topic": "#"}
    for action, topic, expected in CONCRETE + FILTERS:
        answer = hook.authz(login, action, topic)
        assert answer == ("allow" if expected else "deny"), (action, topic)
        assert _emqx_decides(acl, action, topic) == answer, (action, topic)


@LOGINS
def test_who_is_let_in(
    community: Community, start_aggregator: StartAggregator, with_community: bool
) -> None:
    _configure(community, with_community=with_community)
    code = community.add_member(A, 1)
    other = community.add_member(B, 2)
    revoked = community.add_member(C, 3)
    community.cli("members", "revoke", C)
    hook = _start(community, start_aggregator)
    login = _login(community, A)
    own = _home_id(community, A)

    assert hook.authn(login, code.mqtt_password, own)["result"] == "allow"
    # Whoever connects with another member's client id takes over its session: refused.
    assert hook.authn(login, code.mqtt_password, _home_id(community, B))["result"] == "deny"
    assert hook.authn(login, code.mqtt_password, login)["result"] == "deny"
    elsewhere = own.replace("molinos", "molinos-x")  # another community's home, by its id
    assert hook.authn(login, code.mqtt_password, elsewhere)["result"] == "deny"
    assert hook.authn(login, other.mqtt_password, own)["result"] == "deny"
    assert hook.authn(login, "", own)["result"] == "deny"
    revoked_login = _login(community, C)
    assert hook.authn(revoked_login, revoked.mqtt_password, _home_id(community, C))["result"] == (
        "deny"
    )
    assert hook.authz(revoked_login, SUBSCRIBE, f"{PREFIX}/m/{C}/ack") == "deny"
    # A member's topics, asked with another client id.
    assert hook.authz(login, PUBLISH, f"{PREFIX}/m/{A}/readings", clientid=own) == "allow"
    assert hook.authz(login, PUBLISH, f"{PREFIX}/m/{A}/readings", clientid="x") == "deny"
    # New credentials: the old password stops at once.
    answer = community.cli("members", "rotate", A, "--json").stdout
    rotated = decode(json.loads(answer)["join_code"])
    assert hook.authn(login, code.mqtt_password, own)["result"] == "deny"
    assert hook.authn(login, rotated.mqtt_password, own)["result"] == "allow"

    # The aggregator's own login, under its own client ids: every topic of the community,
    # its shared subscription too, and its sensors' discovery topics, those only.
    aggregator_id = "ioe-aggregator-molinos-r1-0123"
    service = hook.authn(AGGREGATOR_USER, AGGREGATOR_PASSWORD, aggregator_id)
    assert service["result"] == "allow"
    assert service["acl"][0] == {"permission": "allow", "action": "all", "topic": f"{PREFIX}/#"}
    discovery = "homeassistant/sensor/ioe_molinos_generation_power/config"
    assert {"permission": "allow", "action": "publish", "topic": discovery} in service["acl"]
    for action, topic, expected in [
        (SUBSCRIBE, f"$share/g/{PREFIX}/m/+/readings", "allow"),
        (SUBSCRIBE, f"{PREFIX}/m/+/status", "allow"),
        (PUBLISH, f"{PREFIX}/community/availability", "allow"),
        (PUBLISH, f"{PREFIX}/m/{A}/ack", "allow"),
        (PUBLISH, discovery, "allow"),
        (PUBLISH, "homeassistant/sensor/ioe_another_generation_power/config", "deny"),
        (PUBLISH, "ioe/v1/another/m/x/ack", "deny"),
    ]:
        assert hook.authz(AGGREGATOR_USER, action, topic, clientid=aggregator_id) == expected
        assert _emqx_decides(service["acl"], action, topic) == expected, topic
    assert hook.authn(AGGREGATOR_USER, "wrong", aggregator_id)["result"] == "deny"
    for client_id in ("any-client", "ioe-aggregator-another-r1-0123", own):
        assert hook.authn(AGGREGATOR_USER, AGGREGATOR_PASSWORD, client_id)["result"] == "deny"

    # Logins that are not this community's: the broker's next source decides.
    foreign = ["homeassistant", "m-0001@another", "someone@another", "@molinos"]
    if with_community:
        foreign.append(A)  # a plain id is not a login here
        for nobody in ("nobody@molinos", "a@b@molinos", "M-0001@molinos"):
            assert hook.authn(nobody, code.mqtt_password, own)["result"] == "deny"
    for name in foreign:
        assert hook.authn(name, code.mqtt_password, own) == {"result": "ignore"}
        assert hook.authz(name, PUBLISH, f"{PREFIX}/m/{A}/readings") == "ignore"


def test_only_a_brokers_token_asks(community: Community, start_aggregator: StartAggregator) -> None:
    code = community.add_member(A, 1)
    hook = _start(community, start_aggregator)
    body = {"username": A, "password": code.mqtt_password, "clientid": f"ioe-home-molinos-{A}-x"}
    assert hook.ask("authn", token=None, **body)[0] == 401
    for scope in ("admin", "operator", "viewer", "public", "provider"):
        assert hook.ask("authn", token=community.token(scope), **body)[0] == 403, scope
    assert hook.ask("authn", token=code.api_token, **body)[0] == 403  # a member's
    # Malformed questions are refused (EMQX reads a 400 as ignore: nobody let in).
    status, answer = hook.ask("authn", username=A, clientid="c")
    assert (status, answer["error"]) == (400, "invalid")
    assert "password" in answer["message"]
    status, answer = hook.ask("authz", username=A, clientid="c", action="delete", topic="t")
    assert status == 400
    status, answer = hook.ask("authz", username=A, clientid="c", action=PUBLISH, topic="")
    assert status == 400
    # A refusal is logged with its reason, never with the password tried.
    tried = code.mqtt_password + "x"
    assert hook.ask("authn", username=A, password=tried, clientid="c") == (200, {"result": "deny"})
    wait_until(lambda: f"Broker login '{A}' refused: wrong password" in hook.log.read_text())
    assert tried not in hook.log.read_text()
    assert code.mqtt_password not in hook.log.read_text()
