"""Repairs a household can make from the repair issue itself.

- *Another installation uses this membership*: take the membership back on this home (the
  other one's link stops in turn) or leave the community here.
- *The outbox file cannot be used*: set the damaged file aside (renamed with its log, not
  deleted), start with a new one, and send again what the recorder kept since the home joined
  (up to ``MAX_RESEND_PERIOD``): what waited in the damaged file among it. The aggregator
  keeps each quarter once (a quarter it had is at most replaced by its value made again).
- *A deleted home's distributor history*: delete its statistics, or keep them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from homeassistant.components.recorder import DOMAIN as RECORDER_DOMAIN, get_instance
from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .community import ISSUE_DISPLACED, ISSUE_OUTBOX_UNUSABLE, membership_store, outbox_path
from .const import CONF_CUPS, DOMAIN, LOGGER
from .distributor_history import QUANTITIES, statistic_id
from .link.intervals import QUARTER, quarter_ceil, quarter_floor
from .membership import async_leave_community
from .services import MAX_RESEND_PERIOD

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

ISSUE_STATISTICS_LEFT = "statistics_left"
# How long after a quarter ends its last samples are surely in the recorder.
RECORDED_AFTER = timedelta(minutes=1)


class _EntryRepair(RepairsFlow):
    """A repair of one home entry (named by the issue's data)."""

    def __init__(self, issue_id: str, entry_id: str) -> None:
        """Keep the issue and the entry it concerns."""
        self._issue_id = issue_id
        self._entry_id = entry_id

    async def _async_done(self) -> RepairsFlowResult:
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id)
        if self.hass.config_entries.async_get_entry(self._entry_id) is not None:
            await self.hass.config_entries.async_reload(self._entry_id)
        return self.async_create_entry(data={})


class DisplacedRepair(_EntryRepair):
    """Take the membership back, or leave the community on this home."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Offer both ways out."""
        return self.async_show_menu(step_id="init", menu_options=["take_back", "leave"])

    async def async_step_take_back(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Start this home's link again: the other installation's stops."""
        if user_input is None:
            return self.async_show_form(step_id="take_back")
        await membership_store(self.hass, self._entry_id).async_remove()
        LOGGER.info("The household takes the community membership back on %s", self._entry_id)
        return await self._async_done()

    async def async_step_leave(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Leave the community on this home (its devices stay)."""
        if user_input is None:
            return self.async_show_form(step_id="leave")
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id)
        if (entry := self.hass.config_entries.async_get_entry(self._entry_id)) is not None:
            async_leave_community(self.hass, entry)
        return self.async_create_entry(data={})


class OutboxRepair(_EntryRepair):
    """Set a damaged outbox file aside and start with a new one."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the question (the repairs panel's input is the issue's)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Say what happens to the file, then do it."""
        path = outbox_path(self.hass, self._entry_id)
        if user_input is None:
            return self.async_show_form(step_id="confirm")
        aside = path.with_name(f"{path.name}.damaged-{dt_util.utcnow():%Y%m%dT%H%M%S}")
        await self.hass.async_add_executor_job(_set_aside, path, aside)
        LOGGER.warning("The damaged outbox %s was set aside as %s", path.name, aside.name)
        done = await self._async_done()
        _send_recorded_again(self.hass, self._entry_id)
        return done


def _set_aside(path: Path, aside: Path) -> None:
    """Rename the file and its write-ahead log (it may hold the newest batches) together."""
    if path.exists():
        path.rename(aside)
    wal = path.with_name(f"{path.name}-wal")
    if wal.exists():
        wal.rename(aside.with_name(f"{aside.name}-wal"))
    path.with_name(f"{path.name}-shm").unlink(missing_ok=True)


@callback
def _send_recorded_again(hass: HomeAssistant, entry_id: str) -> None:
    """Send again, in the background, what the recorder kept since the home joined.

    At once up to the quarter under way (a period at most), then that quarter once it has
    ended: the new outbox's counters start at the next one.
    """
    entry: IoeCommunityConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return  # unloaded meanwhile (a new file that fails raises the issue again itself)
    now = dt_util.utcnow()
    under_way = quarter_floor(now)
    start = max(quarter_ceil(entry.created_at), under_way - MAX_RESEND_PERIOD)
    if start < under_way:
        entry.async_create_background_task(
            hass, _async_resend(entry, start, under_way), "ioe_community resend after repair"
        )

    @callback
    def quarter_ended(_now: datetime) -> None:
        entry.async_create_background_task(
            hass,
            _async_resend(entry, under_way, under_way + QUARTER),
            "ioe_community resend after repair",
        )

    entry.async_on_unload(
        async_call_later(hass, under_way + QUARTER + RECORDED_AFTER - now, quarter_ended)
    )


async def _async_resend(entry: IoeCommunityConfigEntry, start: datetime, end: datetime) -> None:
    """Send [start, end) again from the recorder; log why not when it cannot."""
    if (link := entry.runtime_data.community) is None:
        return  # the home left its community meanwhile
    try:
        await link.async_resend(start, end)
    except Exception as err:  # noqa: BLE001 - a background task: the log says why
        LOGGER.warning(
            "The readings of %s from %s to %s cannot be sent again after its outbox was "
            'damaged: %s (the action "Resend readings" sends them once it is fixed)',
            entry.title,
            start,
            end,
            err,
        )


class StatisticsRepair(RepairsFlow):
    """Delete the statistics a deleted home left, after asking."""

    def __init__(self, issue_id: str, statistic_ids: list[str]) -> None:
        """Keep the issue and the statistics it names."""
        self._issue_id = issue_id
        self._statistic_ids = statistic_ids

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the question (the repairs panel's input is the issue's)."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """Ask, then delete them."""
        if user_input is None:
            return self.async_show_form(
                step_id="confirm",
                description_placeholders={"count": str(len(self._statistic_ids))},
            )
        get_instance(self.hass).async_clear_statistics(self._statistic_ids)
        LOGGER.info("Deleted the statistics of a deleted home: %s", self._statistic_ids)
        ir.async_delete_issue(self.hass, DOMAIN, self._issue_id)
        return self.async_create_entry(data={})


@callback
def async_offer_statistics_removal(hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
    """Ask (with a repair issue) whether to delete the statistics a deleted home leaves.

    Its sensors' statistics (those with a state class) and its distributor history.
    """
    if RECORDER_DOMAIN not in hass.config.components:
        return
    sensors = [
        registered.entity_id
        for registered in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if registered.domain == Platform.SENSOR
        and (registered.capabilities or {}).get("state_class")
    ]
    external = [statistic_id(entry.data[CONF_CUPS], quantity) for quantity in QUANTITIES]
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{ISSUE_STATISTICS_LEFT}_{entry.entry_id}",
        is_fixable=True,
        is_persistent=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_STATISTICS_LEFT,
        translation_placeholders={"home": entry.title},
        data={"statistic_ids": ",".join([*sensors, *external])},
    )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the flow that fixes ``issue_id``."""
    data = data or {}
    if issue_id.startswith(ISSUE_STATISTICS_LEFT):
        return StatisticsRepair(issue_id, str(data.get("statistic_ids", "")).split(","))
    entry_id = str(data.get("entry_id"))
    if issue_id.startswith(ISSUE_DISPLACED):
        return DisplacedRepair(issue_id, entry_id)
    if issue_id.startswith(ISSUE_OUTBOX_UNUSABLE):
        return OutboxRepair(issue_id, entry_id)
    raise ValueError(f"no repair for {issue_id}")
