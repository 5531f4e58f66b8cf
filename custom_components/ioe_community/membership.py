"""A home's membership of its community: leaving it, and what leaving (or deleting) clears."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from . import dashboard
from .community import (
    ISSUE_DISPLACED,
    ISSUE_OUTBOX_FULL,
    ISSUE_OUTBOX_UNUSABLE,
    membership_store,
    outbox_path,
    remove_outbox,
)
from .const import CONF_COMMUNITY, CONF_LINK_CLIENT_SUFFIX, DOMAIN, LOGGER
from .dashboard import CONF_DASHBOARD

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry


@callback
def async_leave_community(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Leave the home's community: the entry forgets the join code and reloads without a link.

    The home's devices and sensors stay; the outbox and what the link kept go once it stopped
    (``async_forget_membership``, when the home starts again without a community), and so does
    the community's dashboard, whose figures are gone.
    """
    community = entry.data.get(CONF_COMMUNITY, {})
    data = {
        key: value
        for key, value in entry.data.items()
        if key not in (CONF_COMMUNITY, CONF_LINK_CLIENT_SUFFIX)
    }
    LOGGER.info(
        "%s leaves community %s (member %s)",
        entry.title,
        community.get("community"),
        community.get("member"),
    )
    options = {key: value for key, value in entry.options.items() if key != CONF_DASHBOARD}
    # The hass's task, not the entry's: the entry reloads (and cancels its tasks) right away.
    hass.async_create_background_task(
        dashboard.async_delete(hass, entry, entry.options.get(CONF_DASHBOARD)),
        "ioe_community dashboard",
    )
    hass.config_entries.async_update_entry(entry, data=data, options=options)


async def async_forget_membership(hass: HomeAssistant, entry_id: str) -> None:
    """Remove what a home's link kept: its outbox file, its displacement, its repair issues."""
    await hass.async_add_executor_job(remove_outbox, outbox_path(hass, entry_id))
    await membership_store(hass, entry_id).async_remove()
    for issue in (ISSUE_DISPLACED, ISSUE_OUTBOX_FULL, ISSUE_OUTBOX_UNUSABLE):
        ir.async_delete_issue(hass, DOMAIN, f"{issue}_{entry_id}")
