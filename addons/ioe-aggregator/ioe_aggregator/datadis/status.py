"""How the Datadis sync goes, per member: for ``datadis status`` and the API alike.

No secret leaves here: the account's password never, the NIFs that authorised the manager
only masked (``12******Z``), as they are shown and logged everywhere.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from ioe_aggregator.config import Config
from ioe_aggregator.datadis.client import DISTRIBUTORS
from ioe_aggregator.datadis.ledger import Ledger, Link, MonthState
from ioe_aggregator.datadis.sync import (
    DEFAULT_HISTORY_MONTHS,
    OK,
    REFUSED,
    history_window,
    month_key,
    utc_now,
)
from ioe_aggregator.protocol.messages import utc_text
from ioe_aggregator.sharing.calendar import add_months
from ioe_aggregator.store import Store

# A member's status when the NIF owner has not authorised the manager in Datadis.
NOT_AUTHORIZED = "not_authorized"


def masked(nif: str) -> str:
    """Return a NIF with its middle hidden, as it is shown and logged."""
    return nif[:2] + "*" * (len(nif) - 3) + nif[-1]


def authorised(status: str) -> bool | None:
    """Whether a member's supply may be read (None: not known before a sync answered)."""
    if status == OK:
        return True
    return False if status == NOT_AUTHORIZED else None


async def datadis_status(store: Store, config: Config) -> dict[str, Any]:
    """Return whether Datadis is configured, the account's last login, and each member's sync.

    ``login_refused``: Datadis refused the account's last login (the manager must enter the
    password again).
    """
    ledger = Ledger(store)
    zone = config.results.zone
    history = config.datadis.history_months if config.datadis else DEFAULT_HISTORY_MONTHS
    login = await ledger.login_state()
    members = [
        _member_status(link, await ledger.months(link.member), zone, history)
        for link in await ledger.links()
    ]
    return {
        "configured": config.datadis is not None,
        "last_login": None if login is None else {"at": utc_text(login[0]), "outcome": login[1]},
        "login_refused": login is not None and login[1] == REFUSED,
        "members": members,
    }


def _member_status(
    link: Link, months: dict[str, MonthState], zone: ZoneInfo, history: int
) -> dict[str, Any]:
    supply_from = link.supply.valid_from if link.supply else None
    oldest, current = history_window(utc_now(), zone, history, supply_from)
    missing = []
    month = oldest
    while month < current:
        state = months.get(month_key(month))
        if state is None or not (state.outcome == OK and state.complete):
            missing.append(month_key(month))
        month = add_months(month, 1)
    successes = [state.success for state in months.values() if state.success is not None]
    failures = sorted(
        (state for state in months.values() if state.outcome != OK), key=lambda s: s.asked
    )
    last_error = link.detail if link.status != OK and link.detail else None
    if last_error is None and failures:
        last_error = f"{failures[-1].month}: {failures[-1].detail}"
    return {
        "member": link.member,
        "nif": None if link.nif is None else masked(link.nif),
        "cups": link.supply.cups if link.supply else None,
        "distributor": DISTRIBUTORS.get(link.supply.distributor_code) if link.supply else None,
        "status": link.status,
        "authorised": authorised(link.status),
        "last_success": utc_text(max(successes)) if successes else None,
        "months_missing": missing,
        "last_error": last_error,
        "contract": link.contract,
    }
