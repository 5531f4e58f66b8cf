"""Who is calling and what they may do: roles, their permissions, and the caller of a request.

People reach the control centre with a role (their Home Assistant user mapped by an admin, or
a user of the aggregator's own with a password); other systems with a token whose scope is a
role, ``public`` or ``member``. A role grants permissions, and every route asks for one:

========  ====================================================================
viewer    ``read``: the community's and each member's figures, never a secret
operator  ``read`` and ``manage``: members, data and agreements
admin     ``read``, ``manage`` and ``administer``: tokens, roles, users, audit
========  ====================================================================

A member's token reaches only its own member's data, a public token only the community's
aggregates; neither has a role, so neither reaches the control centre. A member signed in to
their portal (``auth.portal``) reads their own data only, and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What a person (or a token standing for one) is to the community."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(StrEnum):
    """What a route needs."""

    READ = "read"
    MANAGE = "manage"
    ADMINISTER = "administer"


GRANTS: Final[dict[Role, frozenset[Permission]]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.MANAGE}),
    Role.ADMIN: frozenset(Permission),
}


class Via(StrEnum):
    """How a caller proved who they are."""

    TOKEN = "token"  # noqa: S105 - a name, not a secret
    SESSION = "session"
    INGRESS = "ingress"
    PORTAL = "portal"


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who is behind a request.

    ``actor`` is how the audit log names them (``token:ID``, ``user:ID``); ``member`` the
    member a member's token speaks for; ``role`` None for tokens without one and for people an
    admin has not given one yet.
    """

    actor: str
    name: str
    via: Via
    role: Role | None = None
    member: str | None = None
    public: bool = False
    # A cluster broker asking who may log in (``api.broker_hook``), nothing else.
    broker: bool = False

    @property
    def permissions(self) -> frozenset[Permission]:
        """What the caller may do."""
        return frozenset() if self.role is None else GRANTS[self.role]

    def can(self, permission: Permission) -> bool:
        """Whether the caller's role grants ``permission``."""
        return permission in self.permissions
