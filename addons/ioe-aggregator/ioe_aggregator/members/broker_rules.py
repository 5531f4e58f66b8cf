"""Who may log in to the broker and what each login may publish and subscribe to: one set of rules.

Mosquitto reads them from the files ``broker_files`` writes; a cluster broker (EMQX) asks the
aggregator's HTTP hook (``api.broker_hook``), which answers from these same rules.

A member's login is its member id or, when the community's logins carry it
(``broker_login_community``), ``member@community``: a broker shared by many communities then
knows whose each login is. Member ids and community ids have no ``@``, so neither can be read
two ways. A member may write its own readings and status and read its own ack, results,
forecast and status, and the community's topics; nothing else.

A member's MQTT client id is ``ioe-home-<community>-<member>-<16 hex digits>``, or
``ioe-home-<member>@<community>-<16 hex digits>`` when logins carry the community (``-probe``
for the home's connection test): with ``-`` in both ids, only the ``@`` keeps two communities'
ids apart. Mosquitto replaces it by the login (``use_username_as_clientid``); a cluster broker
keeps it, so the hook refuses a member whose client id is not one of its own, and the
aggregator's login a client id that is not ``ioe-aggregator-<community>-…`` (whose end is a
secret of the service): whoever connects with another's client id takes over that session and
the messages waiting in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
import re
from typing import Final


class Access(StrEnum):
    """What a rule lets a login do with a topic, in Mosquitto's words."""

    READ = "read"
    WRITE = "write"
    READWRITE = "readwrite"

    def allows(self, action: Action) -> bool:
        """Whether this access allows ``action``."""
        if self is Access.READWRITE:
            return True
        return (self is Access.READ) == (action is Action.SUBSCRIBE)


class Action(StrEnum):
    """What a client asks to do, in EMQX's words."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


# Relative to the topic prefix; {member} is the member's id.
MEMBER_TOPICS: Final[tuple[tuple[Access, str], ...]] = (
    (Access.WRITE, "m/{member}/readings"),
    (Access.READWRITE, "m/{member}/status"),
    (Access.READ, "m/{member}/ack"),
    (Access.READ, "m/{member}/results"),
    (Access.READ, "m/{member}/forecast"),
    (Access.READ, "community/#"),
)
SHARE: Final = "$share/"
_SUFFIX: Final = "[0-9a-f]{16}(-probe)?"


@dataclass(frozen=True)
class Rule:
    """A topic filter and what a login may do with it."""

    access: Access
    topic: str


def member_rules(prefix: str, member: str) -> tuple[Rule, ...]:
    """Return what a member may do: its own topics and the community's."""
    return tuple(
        Rule(access, f"{prefix}/{topic.format(member=member)}") for access, topic in MEMBER_TOPICS
    )


def service_rules(prefix: str, discovery_topics: Iterable[str] = ()) -> tuple[Rule, ...]:
    """Return what the aggregator's own login may do.

    Every topic of the community, and the configuration topics of its sensors in the
    manager's Home Assistant (MQTT discovery), those exactly: another community's are not its.
    """
    return (
        Rule(Access.READWRITE, f"{prefix}/#"),
        *(Rule(Access.WRITE, topic) for topic in discovery_topics),
    )


def covers(rule: str, wanted: str) -> bool:
    """Whether a rule's topic filter covers a topic, or a subscription's whole filter.

    A wildcard asked for is covered only by a wildcard at least as wide in the rule: a member
    allowed ``p/community/#`` may subscribe to ``p/community/state`` or ``p/community/+``, never
    to ``p/#``.
    """
    rule_levels = rule.split("/")
    wanted_levels = wanted.split("/")
    for index, level in enumerate(rule_levels):
        if level == "#":
            return True
        if index >= len(wanted_levels):
            return False
        asked = wanted_levels[index]
        if level == "+":
            if asked == "#":
                return False
        elif level != asked:
            return False
    return len(wanted_levels) == len(rule_levels)


def allowed(rules: tuple[Rule, ...], action: Action, topic: str) -> bool:
    """Whether the rules let a client do ``action`` on ``topic``."""
    return any(rule.access.allows(action) and covers(rule.topic, topic) for rule in rules)


def without_share(topic: str) -> str:
    """Return a shared subscription's topic filter (``$share/<group>/<filter>``), else the topic."""
    if not topic.startswith(SHARE):
        return topic
    _group, _, rest = topic.removeprefix(SHARE).partition("/")
    return rest


@dataclass(frozen=True, kw_only=True)
class Logins:
    """How the community's members log in to the broker."""

    community_id: str
    # Logins are member@community (a broker shared by many communities), else the member ids.
    with_community: bool

    def login_of(self, member: str) -> str:
        """Return a member's broker login."""
        return f"{member}@{self.community_id}" if self.with_community else member

    def member_of(self, login: str) -> str | None:
        """Return the member whose login this is; None when it is not a member login here."""
        if not self.with_community:
            return None if "@" in login else login
        member, at, community = login.rpartition("@")
        return member if at and member and community == self.community_id else None

    def client_id_is_members(self, client_id: str, member: str) -> bool:
        """Whether a client id is one a member's home uses."""
        home = self.login_of(member) if self.with_community else f"{self.community_id}-{member}"
        return re.fullmatch(f"ioe-home-{re.escape(home)}-{_SUFFIX}", client_id) is not None

    def client_id_is_services(self, client_id: str) -> bool:
        """Whether a client id is one the aggregator's replicas use."""
        return client_id.startswith(f"ioe-aggregator-{self.community_id}-")
