"""Results out: computed every minute, published retained to the members and the manager's HA.

Every minute the community's state and signal are refreshed (a change of the signal's kind is
kept in its history: ``signal_history.py``); each member's results when a
quarter-hour has completed (and its readings have had ``RESULTS_DELAY`` to arrive), when the
distributor's data changed (a Datadis sync or a CSV import stored new values) or an agreement
did (``publish_results_soon``), and on demand. The forecasts of the plant and of each member's
allocation (``forecasts.py``) with the first results of each hour and with every change; a
forecast that fails is logged and leaves the results published. At every connection the
aggregator says it is online (the broker says offline for it when it goes away) and publishes
the MQTT discovery messages that give the manager's Home Assistant the community's sensors
(``discovery.py``).

Among several replicas (``replicas.py``) every one computes the snapshot the API shows, and only
the leader publishes and keeps the signal's history; results wanted on another replica (an
agreement changed there) are told to the leader. The community is online while a leader
publishes: when another replica goes away its last will says offline, and the leader, hearing
it, says online again at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from datetime import UTC, datetime, timedelta
import json
import logging
from typing import Any

import aiomqtt

from ioe_aggregator.broker import BrokerConnection, BrokerUnavailable
from ioe_aggregator.ingest.status import MemberStatus
from ioe_aggregator.protocol.codec import Live, encode
from ioe_aggregator.protocol.messages import Retained, as_json
from ioe_aggregator.replicas import Replicas
from ioe_aggregator.results.discovery import OFFLINE, ONLINE, availability_topic
from ioe_aggregator.results.engine import QUARTER, ResultsEngine, Snapshot
from ioe_aggregator.results.forecasts import Forecasts
from ioe_aggregator.results.signal_history import SignalHistory
from ioe_aggregator.store import StoreError

_LOGGER = logging.getLogger(__name__)
UPDATE_INTERVAL_S = 60.0
# Homes send a quarter's readings just after it ends; results wait this long for them.
RESULTS_DELAY = timedelta(seconds=90)
SHUTDOWN_TIMEOUT_S = 5.0
# The replicas' message asking the leader to publish every member's results now.
RESULTS_WANTED = "results_wanted"


class ResultsPublisher:
    """Publishes what the engine computes; ``run`` is its task."""

    def __init__(
        self,
        engine: ResultsEngine,
        broker: BrokerConnection,
        status: MemberStatus,
        live: Mapping[str, Live],
        history: SignalHistory,
        *,
        replicas: Replicas,
        prefix: str,
        discovery: dict[str, dict[str, Any]],
    ) -> None:
        """Publish under a topic prefix; ``live`` is the ingest's latest live reports."""
        self.history = history
        self._engine = engine
        self._broker = broker
        self._status = status
        self._live = live
        self._replicas = replicas
        replicas.on(RESULTS_WANTED, lambda _data: self._want_results())
        self._prefix = prefix
        self._discovery = discovery
        self._results_quarter: datetime | None = None
        self._results_wanted = False
        # The hour of the forecasts last published.
        self._forecast_hour: datetime | None = None
        # Set to publish at once rather than at the next minute.
        self._wake = asyncio.Event()
        # Whether to say online (and send the discovery messages) at the next turn.
        self._announce_wanted = False
        # The last snapshot computed, published or not (the broker may be away): what the
        # control centre shows as the community now.
        self.latest: Snapshot | None = None
        self.last_error: str | None = None
        # The last forecasts computed (published or not).
        self.forecasts: Forecasts | None = None

    @property
    def engine(self) -> ResultsEngine:
        """The engine whose figures are published (the API reads past periods from it too)."""
        return self._engine

    @property
    def subscriptions(self) -> list[str]:
        """The community's availability: the leader answers another replica's last will."""
        return [availability_topic(self._prefix)]

    async def handle(self, _client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Say online again when the community is said offline while this replica leads."""
        if (
            str(message.topic) == availability_topic(self._prefix)
            and message.payload == OFFLINE
            and self._replicas.leading
        ):
            self._announce_soon()

    async def announce(self, _client: aiomqtt.Client) -> None:
        """At each connection: say online and (re)publish the discovery messages at once."""
        self._announce_soon()

    def lead(self) -> None:
        """Start leading: say online, and publish everything at once."""
        self._announce_soon()
        self._want_results()

    def _announce_soon(self) -> None:
        """Have the loop say online and send the discovery messages (when leading) at once."""
        self._announce_wanted = True
        self._wake.set()

    def publish_results_soon(self) -> None:
        """Have every member's results published at once, not at the next quarter hour.

        For data that changes results outside the members' quarters: the distributor's, when
        a Datadis sync or a CSV import stored new or corrected values. The leader is told
        when it is another replica.
        """
        self._want_results()
        self._replicas.tell(RESULTS_WANTED)

    def _want_results(self) -> None:
        self._results_wanted = True
        self._wake.set()

    async def compute(self, now: datetime | None = None) -> Snapshot:
        """Compute a snapshot now (or at ``now``) with the latest live reports and statuses."""
        return await self._engine.compute(
            now or datetime.now(UTC), live=self._live, online=frozenset(self._status.online)
        )

    async def publish(self, *, results: bool = True) -> Snapshot:
        """Compute and publish the state and signal, and each member's results if asked.

        The signal's history records the signal once it is published. A replica that does
        not lead computes only.
        """
        snapshot = self.latest = await self.compute()
        if not self._replicas.leading:
            return snapshot
        messages: dict[str, Retained] = {
            f"{self._prefix}/community/state": snapshot.state,
            f"{self._prefix}/community/signal": snapshot.signal,
        }
        if results:
            for member, message in snapshot.results.items():
                messages[f"{self._prefix}/m/{member}/results"] = message
        await self._send(messages)
        state = snapshot.state
        await self.history.record(
            snapshot.computed_at, snapshot.signal.kind, state.generation_w - state.consumption_w
        )
        return snapshot

    @property
    def discovery_topics(self) -> tuple[str, ...]:
        """The topics of the community sensors' discovery messages (none when switched off)."""
        return tuple(self._discovery)

    async def publish_everything(self) -> tuple[Snapshot, Forecasts]:
        """Compute everything now and have it published: here when leading, else by the leader.

        What the manager's *publish results* asks, through whichever replica's API.
        """
        snapshot = await self.publish()
        forecasts = await self.publish_forecasts()
        if not self._replicas.leading:
            self._replicas.tell(RESULTS_WANTED)
        return snapshot, forecasts

    async def publish_forecasts(self, now: datetime | None = None) -> Forecasts:
        """Compute and publish the plant's forecast and each active member's."""
        forecasts = self.forecasts = await self._engine.forecasts(now or datetime.now(UTC))
        if not self._replicas.leading:
            return forecasts
        messages: dict[str, Retained] = {f"{self._prefix}/community/forecast": forecasts.community}
        for member, message in forecasts.members.items():
            messages[f"{self._prefix}/m/{member}/forecast"] = message
        await self._send(messages)
        return forecasts

    async def _send(self, messages: Mapping[str, Retained]) -> None:
        """Publish messages retained, every one written (and checked) before any is sent.

        A bad message is a bug, which publishes nothing rather than half of them.
        """
        payloads = {
            topic: encode(as_json(message), message.KIND) for topic, message in messages.items()
        }
        for topic, payload in payloads.items():
            await self._broker.publish(topic, payload)

    def _results_due(self, now: datetime) -> datetime | None:
        """Return the quarter whose results are due now, or None."""
        quarter = datetime.fromtimestamp(
            (now - RESULTS_DELAY).timestamp() // QUARTER.total_seconds() * QUARTER.total_seconds(),
            UTC,
        )
        return None if quarter == self._results_quarter else quarter

    async def run(self) -> None:
        """Publish every minute (and at each connection) until cancelled.

        A failure is logged once and retried at the next turn: the loop never stops.
        """
        try:
            await self._loop()
        finally:
            # Stopping cleanly: the broker would not send the last will, so say it here.
            if self._replicas.leading:
                with contextlib.suppress(BrokerUnavailable, TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                        await self._broker.publish(availability_topic(self._prefix), OFFLINE)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), UPDATE_INTERVAL_S)
            self._wake.clear()
            if self._announce_wanted and self._replicas.leading:
                self._announce_wanted = not await self._announce_turn()
            now = datetime.now(UTC)
            due = self._results_due(now)
            wanted, self._results_wanted = self._results_wanted, False
            if await self._turn(results=due is not None or wanted):
                if due is not None:
                    self._results_quarter = due
                hour = now.replace(minute=0, second=0, microsecond=0)
                if (wanted or hour != self._forecast_hour) and await self._forecast_turn(now):
                    self._forecast_hour = hour
            else:
                # Results asked for and not published are published at the next turn.
                self._results_wanted |= wanted

    async def _turn(self, *, results: bool) -> bool:
        """Publish (the results too if asked); return whether it was published."""
        try:
            await self.publish(results=results)
        except (BrokerUnavailable, StoreError) as err:
            self._failed(str(err))
        except Exception as err:
            # A bug must not end the results for good: log it whole, try again later.
            _LOGGER.exception("Computing the results failed")
            self.last_error = f"{type(err).__name__}: {err}"
        else:
            self.last_error = None
            return True
        return False

    async def _announce_turn(self) -> bool:
        """Say online and send the discovery messages; return whether they were sent."""
        messages = {availability_topic(self._prefix): ONLINE} | {
            topic: json.dumps(config).encode() for topic, config in self._discovery.items()
        }
        try:
            for topic, payload in messages.items():
                await self._broker.publish(topic, payload)
        except BrokerUnavailable as err:
            self._failed(str(err))
            return False
        return True

    async def _forecast_turn(self, now: datetime) -> bool:
        """Publish the forecasts; return whether they were published (else: the next turn)."""
        try:
            await self.publish_forecasts(now)
        except (BrokerUnavailable, StoreError) as err:
            self._failed(str(err))
        except Exception:
            # A forecast's bug must not stop the results: log it whole, try again next turn.
            _LOGGER.exception("Computing the forecasts failed")
        else:
            return True
        return False

    def _failed(self, reason: str) -> None:
        if reason != self.last_error:
            _LOGGER.warning("Results not published: %s", reason)
        self.last_error = reason
