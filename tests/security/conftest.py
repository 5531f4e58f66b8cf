"""Attacks on a real community: its service, its broker (on the files it generates), its database.

Each test plays a careful attacker who holds an ordinary member's credentials (the
least-trusted login there is), or none, against a community on 127.0.0.1.
"""

from __future__ import annotations

# The community's fixtures, for every security test.
from tests.community import addon_community, community, ingress_proxy, start_aggregator  # noqa: F401
