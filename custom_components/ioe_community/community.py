"""The home's link to its energy community, in Home Assistant.

``link/`` does the work (readings, the outbox and its policy, MQTT); this module feeds it the
energy model's entity states, runs its timers on Home Assistant's clock, and hands the link's
state and what the community sends to the community sensors through a coordinator
(``CommunityCoordinator``, fed as the link reports, never polled):

- every counter of the energy model is sampled when its state is written and once a minute
  (on the minute, so each quarter-hour boundary has a sample of its own); finished quarter
  hours go into the outbox with the counters' checkpoint, then to the broker, in one call of
  the link client in the executor;
- the live power goes out every ``LIVE_INTERVAL`` while connected, never through the outbox;
- a full outbox raises a repair issue (nothing is dropped: the readings wait in memory and
  the counters' checkpoint is not advanced), a refused login starts the reauthentication flow;
- another Home Assistant logging in as the member displaces the link: it stops (also after a
  restart, until the household decides) and a repair issue offers to take the membership back
  or leave the community;
- the community's device takes the name its manager gives the community, also a new one;
- the last forecast of the home's share is kept on disk (an outage, a restart: automations
  plan on it), and each new one fires ``EVENT_FORECAST`` on Home Assistant's bus;
- a past period can be sent again (``async_resend``), made from the recorder's history of the
  same counters;
- a device added, changed or removed gives the link the home's new model (``async_follow``):
  the connection stays up and the counters' state carries over, as across a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.recorder import DOMAIN as RECORDER_DOMAIN, get_instance, history
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.event import (
    async_track_point_in_utc_time,
    async_track_state_change_event,
    async_track_state_report_event,
    async_track_time_interval,
    async_track_utc_time_change,
)
from homeassistant.helpers.storage import STORAGE_DIR, Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import CONF_COMMUNITY, CONF_COMMUNITY_NAME, CONF_LINK_CLIENT_SUFFIX, DOMAIN, LOGGER
from .devices.energy_model import ENERGY_QUANTITIES, POWER_QUANTITIES, EnergyModel
from .energy_entities import state_in_model_unit
from .link.client import LinkClient, LinkSettings, LinkState, LinkStatus
from .link.intervals import QUARTER
from .link.join_code import JoinCode
from .link.keeper import Kept
from .link.messages import CommunityState, Forecast, Results, Retained, Signal, as_json, from_json
from .link.outbox import Outbox, OutboxError, OutboxState
from .link.protocol import ControlledDevice, Reading, live_batch, preload as preload_schemas
from .link.readings import HomeReadings, Sample, live_report, replay
from .share import next_hours_kwh, rest_of_day_kwh, state_fresh_until

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

LIVE_INTERVAL: Final = timedelta(seconds=10)
# Fired on Home Assistant's bus with each new forecast of the home's share.
EVENT_FORECAST: Final = f"{DOMAIN}_forecast"
# A forecast is written to disk a little after it comes (one write for a burst of them).
FORECAST_SAVE_DELAY_S: Final = 5
ISSUE_OUTBOX_FULL: Final = "outbox_full"
ISSUE_OUTBOX_UNUSABLE: Final = "outbox_unusable"
ISSUE_DISPLACED: Final = "membership_displaced"


def outbox_path(hass: HomeAssistant, entry_id: str) -> Path:
    """Return the file of a home's outbox (its SQLite database)."""
    return Path(hass.config.path(STORAGE_DIR, f"{DOMAIN}.{entry_id}.outbox.db"))


def remove_outbox(path: Path) -> None:
    """Remove an outbox file and SQLite's journal files beside it (blocking)."""
    for name in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        name.unlink(missing_ok=True)


def forecast_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return where a home keeps the last forecast of its share (the message, as sent)."""
    return Store(hass, 1, f"{DOMAIN}.{entry_id}.forecast")


def membership_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return where a home keeps that another installation displaced its link."""
    return Store(hass, 1, f"{DOMAIN}.{entry_id}.membership")


def join_code_data(code: JoinCode) -> dict[str, Any]:
    """Return a join code as the entry keeps it."""
    return asdict(code)


def community_title(membership: Mapping[str, Any]) -> str:
    """Return how texts name the community of a membership (as the entry keeps it)."""
    return str(membership.get(CONF_COMMUNITY_NAME) or membership["community"])


def membership_identifier(entry_id: str, code: JoinCode) -> tuple[str, str]:
    """Return the device registry identifier of a home's membership of its community."""
    return DOMAIN, f"{entry_id}_{code.community}"


@dataclass(frozen=True, kw_only=True, slots=True)
class CommunityData:
    """What the household sees of its membership: the link, and what the community sent."""

    state: LinkState = LinkState.STOPPED
    # What waits in the outbox; None until it is read (or while its file cannot be).
    outbox: OutboxState | None = None
    results: Results | None = None
    community_state: CommunityState | None = None
    # Until when the community's state is "now" (``share.state_fresh_until``).
    state_fresh_until: datetime | None = None
    signal: Signal | None = None
    # The last forecast of the member's share: kept through outages and restarts.
    forecast: Forecast | None = None


class CommunityCoordinator(DataUpdateCoordinator[CommunityData]):
    """Holds what the community sensors show; the link feeds it (nothing is polled)."""

    def __init__(self, hass: HomeAssistant, entry: IoeCommunityConfigEntry) -> None:
        """Start with a stopped link and nothing from the community."""
        super().__init__(
            hass, LOGGER, config_entry=entry, name=f"{entry.title} community", update_interval=None
        )
        self.data = CommunityData()

    async def _async_update_data(self) -> CommunityData:
        """Return what the link last gave (asked for a refresh, there is nothing to fetch)."""
        return self.data

    @callback
    def async_change(self, **changes: Any) -> None:
        """Show the link's new figures (``CommunityData``'s fields) on every community sensor."""
        self.async_set_updated_data(replace(self.data, **changes))


def _recorded_samples(
    hass: HomeAssistant,
    counters: Mapping[str, str],
    current: Mapping[str, State],
    start: datetime,
    end: datetime,
) -> dict[str, list[Sample]]:
    """Return each counter's values from ``start`` on (in the recorder's thread).

    A state gives a sample when it was written and one when it was last reported unchanged,
    so a counter that stood still is known to have stood still. The recorder notes that last
    report only when the next state comes: the counters' ``current`` states give their own.
    """
    samples: dict[str, list[Sample]] = {}
    for entity_id, quantity in counters.items():
        states = history.state_changes_during_period(hass, start, end, entity_id)
        known = [
            *states.get(entity_id, ()),
            *([current[entity_id]] if entity_id in current else []),
        ]
        samples[entity_id] = sorted(
            (moment, state_in_model_unit(state, quantity))
            for state in known
            for moment in {state.last_updated, state.last_reported}
        )
    return samples


def _sources(model: EnergyModel, quantities: Iterable[str]) -> dict[str, str]:
    """Return {entity id: quantity} of the model's entities measuring ``quantities``."""
    found: dict[str, str] = {}
    for quantity in quantities:
        for term in model.terms.get(quantity, ()):
            found.setdefault(term.source, quantity)
    return found


class CommunityLink:
    """One home's membership of its community while its entry is loaded."""

    def __init__(self, hass: HomeAssistant, entry: IoeCommunityConfigEntry, code: JoinCode) -> None:
        """Prepare the link; ``async_start`` opens it once the energy model is known."""
        self.hass = hass
        self.entry = entry
        self.code = code
        self.coordinator = CommunityCoordinator(hass, entry)
        self._client: LinkClient | None = None
        self._outbox: Outbox | None = None
        self._readings: HomeReadings | None = None
        self._model: EnergyModel | None = None
        self._energy: dict[str, str] = {}
        self._power: dict[str, str] = {}
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._tracking: list[CALLBACK_TYPE] = []  # the model's counters' states
        # Quarters go into the outbox in the order they finished: a later checkpoint never
        # lands before the readings of an earlier minute.
        self._keeping = asyncio.Lock()
        self._membership = membership_store(hass, entry.entry_id)
        self._forecasts = forecast_store(hass, entry.entry_id)
        # The installation that took the membership over, once this home's link stopped for it.
        self.displaced_by: str | None = None
        # What the home controls, for its status (the control says it; the client sends it).
        self._control: tuple[ControlledDevice, ...] | None = None
        # The community's state growing old: its sensors turn to the forecast at that moment.
        self._state_grows_old: CALLBACK_TYPE | None = None

    @property
    def state(self) -> LinkState:
        """Where the link stands."""
        if self.displaced_by is not None:
            return LinkState.DISPLACED
        return self._client.state if self._client else LinkState.STOPPED

    async def async_start(self, model: EnergyModel, version: str) -> None:
        """Open the outbox, go on from its checkpoint, connect, and follow the model.

        Not while another installation has the membership (until the household decides).
        """
        self._set_model(model)
        await self._load_forecast()
        if (kept := await self._membership.async_load()) is not None:
            self.displaced_by = str(kept["displaced_by"])
            LOGGER.warning(
                "The community link of %s stays stopped: another installation (%s) uses its "
                "membership",
                self.entry.title,
                self.displaced_by,
            )
            self._raise_displaced()
            self.coordinator.async_change(state=self.state)
            return
        issue = f"{ISSUE_OUTBOX_UNUSABLE}_{self.entry.entry_id}"
        try:
            outbox = await self.hass.async_add_executor_job(
                Outbox, outbox_path(self.hass, self.entry.entry_id)
            )
            checkpoint = await self.hass.async_add_executor_job(outbox.checkpoint)
        except OutboxError as err:
            # The home's devices go on; the link stays stopped until the file is fixed.
            LOGGER.error("The community link cannot start: %s", err)
            self._issue(issue, ISSUE_OUTBOX_UNUSABLE, fixable=True)
            return
        ir.async_delete_issue(self.hass, DOMAIN, issue)
        self._outbox = outbox
        self._readings = HomeReadings(
            model,
            json.loads(checkpoint) if checkpoint else None,
            not_before=self.entry.created_at,
        )
        # Building the client loads the CA and the schemas (file reads): not on the event loop.
        self._client = await self.hass.async_add_executor_job(self._make_client, outbox, version)
        self._client.set_control(self._control)
        await self.hass.async_add_executor_job(self._client.start)
        self._track_counters()
        self._unsubscribe += [
            async_track_utc_time_change(self.hass, self._each_minute, second=0),
            async_track_time_interval(self.hass, self._send_live, LIVE_INTERVAL),
        ]

    @callback
    def async_follow(self, model: EnergyModel) -> None:
        """Follow the home's new energy model (a device added, changed or removed), connected.

        The old model's counters are sampled now and the quarters they finished go out first.
        Their state then carries over as it does across a restart: a counter the new model
        keeps counts on, a new one starts afresh, one it no longer has is dropped with the
        quarter it was in (its device is gone).
        """
        if self._readings is not None and self._client is not None:
            self._sample(dt_util.utcnow())
            self._keep_finished(self._client, self._readings)
            self._readings = HomeReadings(
                model, self._readings.as_dict(), not_before=self.entry.created_at
            )
        self._set_model(model)
        self._track_counters()

    def _set_model(self, model: EnergyModel) -> None:
        self._model = model
        self._energy = _sources(model, ENERGY_QUANTITIES)
        self._power = _sources(model, POWER_QUANTITIES)

    def _track_counters(self) -> None:
        """Sample each counter the readings follow whenever its state is written."""
        self._untrack_counters()
        if self._readings is None:
            return
        sources = sorted(self._readings.sources)
        self._tracking = [
            async_track_state_change_event(self.hass, sources, self._counter_written),
            async_track_state_report_event(self.hass, sources, self._counter_written),
        ]

    def _untrack_counters(self) -> None:
        while self._tracking:
            self._tracking.pop()()

    @callback
    def async_set_control(self, devices: tuple[ControlledDevice, ...] | None) -> None:
        """Say in the home's status what it controls and in which mode (never a command)."""
        if devices == self._control:
            return
        self._control = devices
        if self._client is not None:  # its status is read from the outbox: not on the loop
            self.hass.async_add_executor_job(self._client.set_control, devices)

    def _make_client(self, outbox: Outbox, version: str) -> LinkClient:
        preload_schemas()  # the live batch is checked on the event loop: no file read there
        return LinkClient(
            LinkSettings.from_join_code(
                self.code, version, self.entry.data[CONF_LINK_CLIENT_SUFFIX]
            ),
            outbox,
            on_message=self._message_arrived,
            on_change=self._link_changed,
        )

    async def async_stop(self) -> None:
        """Save the counters' state, say offline and close the outbox."""
        self._untrack_counters()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._client is not None:
            await self.hass.async_add_executor_job(self._client.stop)
            # Once the link's thread stopped: a state it handed over meanwhile set one too.
            self._forget_state_timer()
            if self._readings is not None:
                checkpoint = json.dumps(self._readings.as_dict())
                await self.hass.async_add_executor_job(self._client.save_checkpoint, checkpoint)
        if self._outbox is not None:
            await self.hass.async_add_executor_job(self._outbox.close)

    @callback
    def _counter_written(self, event: Event[EventStateChangedData] | Event[Any]) -> None:
        entity_id = event.data["entity_id"]
        state = event.data.get("new_state") or self.hass.states.get(entity_id)
        if self._readings is not None and (quantity := self._energy.get(entity_id)):
            self._readings.add(entity_id, dt_util.utcnow(), state_in_model_unit(state, quantity))

    @callback
    def _each_minute(self, now: datetime) -> None:
        if self._readings is None or self._client is None:
            return
        self._sample(now)
        self._keep_finished(self._client, self._readings)

    def _sample(self, at: datetime) -> None:
        """Give the readings every counter's value now."""
        if self._readings is None:
            return
        for entity_id, quantity in self._energy.items():
            self._readings.add(
                entity_id, at, state_in_model_unit(self.hass.states.get(entity_id), quantity)
            )

    def _keep_finished(self, client: LinkClient, readings: HomeReadings) -> None:
        """Put what the readings finished (and what waited) in the outbox, in the background."""
        if (finished := readings.finished()) or client.holding:
            checkpoint = json.dumps(readings.as_dict())
            self.entry.async_create_background_task(
                self.hass,
                self._async_keep(client, finished, checkpoint),
                "ioe_community outbox",
            )

    async def _async_keep(
        self, client: LinkClient, readings: Sequence[Reading], checkpoint: str
    ) -> None:
        """Keep finished readings with the checkpoint and send what waits: one executor job.

        When the outbox is full, what did not go in waits in memory for the next minute.
        """
        full_issue = f"{ISSUE_OUTBOX_FULL}_{self.entry.entry_id}"
        async with self._keeping:
            kept = await self.hass.async_add_executor_job(
                client.keep, readings, checkpoint, dt_util.utcnow()
            )
        if kept.full is not None:
            LOGGER.error("The community link keeps readings in memory: %s", kept.full)
            self._issue(full_issue, ISSUE_OUTBOX_FULL)
        else:
            ir.async_delete_issue(self.hass, DOMAIN, full_issue)

    async def async_resend(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Send the readings of [start, end) again, made from the recorder's history.

        The aggregator keeps the new values (a changed one replaces the old and is counted).
        Raise HomeAssistantError (translated) when there is nothing to send or no room.
        """
        if self._client is None or self._model is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="link_not_running",
                translation_placeholders={"home": self.entry.title},
            )
        if RECORDER_DOMAIN not in self.hass.config.components:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="recorder_needed"
            )
        current = {
            entity_id: state
            for entity_id in self._energy
            if (state := self.hass.states.get(entity_id)) is not None
        }
        samples = await get_instance(self.hass).async_add_executor_job(
            _recorded_samples, self.hass, self._energy, current, start - QUARTER, end + QUARTER
        )
        readings = await self.hass.async_add_executor_job(replay, self._model, samples, start, end)
        period = {
            "start": dt_util.as_local(start).isoformat(),
            "end": dt_util.as_local(end).isoformat(),
        }
        if not readings:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="no_history",
                translation_placeholders=period,
            )
        kept: Kept = await self.hass.async_add_executor_job(
            self._client.resend, readings, dt_util.utcnow()
        )
        if kept.full is not None:
            LOGGER.error("Resending %s to %s: %s", start, end, kept.full)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="resend_outbox_full",
                translation_placeholders={
                    "kept": str(kept.readings),
                    "readings": str(len(readings)),
                    "reason": str(kept.full),
                },
            ) from kept.full
        LOGGER.info(
            "Sending %d readings of %s to %s again, in %d batches",
            len(readings),
            start,
            end,
            kept.batches,
        )
        return {
            **period,
            "readings": len(readings),
            "batches": kept.batches,
            "quarters": len({reading.start for reading in readings}),
        }

    def _issue(self, issue_id: str, translation_key: str, *, fixable: bool = False) -> None:
        """Raise a repair issue about this home (its reason is in the log, not in the text)."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=fixable,
            severity=ir.IssueSeverity.ERROR,
            translation_key=translation_key,
            translation_placeholders={"home": self.entry.title},
            data={"entry_id": self.entry.entry_id},
        )

    def _raise_displaced(self) -> None:
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{ISSUE_DISPLACED}_{self.entry.entry_id}",
            is_fixable=True,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_DISPLACED,
            translation_placeholders={
                "home": self.entry.title,
                "community": self.code.community_name or self.code.community,
                "member": self.code.member,
            },
            data={"entry_id": self.entry.entry_id},
        )

    @callback
    def _send_live(self, now: datetime) -> None:
        if self._client is None or self._model is None or self.state is not LinkState.CONNECTED:
            return
        powers = {
            entity_id: state_in_model_unit(self.hass.states.get(entity_id), quantity)
            for entity_id, quantity in self._power.items()
        }
        report = live_report(self._model, powers, now)
        if report is None:
            return
        batch, payload = live_batch(self.code.member, report, now)
        self.hass.async_add_executor_job(self._client.send_live, batch, payload)

    def _message_arrived(self, message: Retained) -> None:
        """Take what the community sent (called in the link's thread)."""
        self.hass.loop.call_soon_threadsafe(self._keep_message, message)

    async def _load_forecast(self) -> None:
        """Show the last forecast kept, until the community sends a newer one."""
        try:
            kept = await self._forecasts.async_load()
            forecast = None if kept is None else from_json(Forecast, kept)
        except (HomeAssistantError, KeyError, TypeError, ValueError) as err:
            # A damaged file costs the old forecast, nothing else: the next one replaces it.
            LOGGER.warning("The last forecast of %s could not be read: %s", self.entry.title, err)
            return
        if forecast is not None and self.coordinator.data.forecast is None:
            self.coordinator.async_change(forecast=forecast)

    @callback
    def _keep_forecast(self, forecast: Forecast) -> None:
        """Show a forecast, keep it on disk and say it came, once per forecast."""
        if forecast == self.coordinator.data.forecast:
            return  # the retained message again, at a new connection
        self.coordinator.async_change(forecast=forecast)
        self._forecasts.async_delay_save(lambda: as_json(forecast), FORECAST_SAVE_DELAY_S)
        now = dt_util.utcnow()
        self.hass.bus.async_fire(
            EVENT_FORECAST,
            {
                "entry_id": self.entry.entry_id,
                "member": self.code.member,
                "computed_at": dt_util.as_local(forecast.computed_at).isoformat(),
                "next_24h_kwh": next_hours_kwh(forecast, now, 24),
                "today_kwh": rest_of_day_kwh(forecast, now),
            },
        )

    @callback
    def _keep_message(self, message: Retained) -> None:
        if isinstance(message, Results):
            self.coordinator.async_change(results=message)
        elif isinstance(message, Forecast):
            self._keep_forecast(message)
        elif isinstance(message, CommunityState):
            self._follow_name(message.name)
            now = dt_util.utcnow()
            fresh_until = state_fresh_until(message, now)
            self.coordinator.async_change(community_state=message, state_fresh_until=fresh_until)
            self._forget_state_timer()
            if fresh_until > now:  # else it is old already, and shown so
                self._state_grows_old = async_track_point_in_utc_time(
                    self.hass, self._state_grew_old, fresh_until
                )
        else:
            self.coordinator.async_change(signal=message)

    @callback
    def _state_grew_old(self, _now: datetime) -> None:
        """Show every share figure from the forecast at once, when the state grows old."""
        self._state_grows_old = None
        self.coordinator.async_update_listeners()

    def _forget_state_timer(self) -> None:
        if self._state_grows_old is not None:
            self._state_grows_old()
            self._state_grows_old = None

    @callback
    def _follow_name(self, name: str | None) -> None:
        """Keep the name the manager gives the community, and name its device after it.

        A name the manager takes away stays: the household has read it on its screens.
        """
        if name is None or name == self.code.community_name:
            return
        self.code = replace(self.code, community_name=name)
        kept = self.entry.data.get(CONF_COMMUNITY)
        if kept is None or kept.get("api_token") != self.code.api_token:
            return  # the home left, or took a new code, since: that membership is not this one
        # Only the name, and not a change the home is set up from (``entry_settings``).
        self.hass.config_entries.async_update_entry(
            self.entry,
            data={**self.entry.data, CONF_COMMUNITY: {**kept, CONF_COMMUNITY_NAME: name}},
        )
        devices = dr.async_get(self.hass)
        identifier = membership_identifier(self.entry.entry_id, self.code)
        if device := devices.async_get_device_by_identifier(identifier, self.entry.entry_id):
            devices.async_update_device(device.id, name=name)

    def _link_changed(self, status: LinkStatus) -> None:
        """Note a change of state or an acknowledgement (called in the link's threads)."""
        self.hass.loop.call_soon_threadsafe(self._async_link_changed, status)

    @callback
    def _async_link_changed(self, status: LinkStatus) -> None:
        if status.state is LinkState.DISPLACED and self.displaced_by is None:
            self.displaced_by = (self._client and self._client.displaced_by) or "?"
            self.entry.async_create_background_task(
                self.hass,
                self._membership.async_save({"displaced_by": self.displaced_by}),
                "ioe_community membership",
            )
            self._raise_displaced()
        if status.state is LinkState.REFUSED and self.displaced_by is None:
            LOGGER.warning(
                "The community refused the login of %s: the credentials were rotated or revoked",
                self.code.member,
            )
            self.entry.async_start_reauth(self.hass)
        self.coordinator.async_change(state=self.state, outbox=status.outbox)
