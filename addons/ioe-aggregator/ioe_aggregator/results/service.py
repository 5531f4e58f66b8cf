"""Results out: computed every minute, published retained to the members and the manager's HA.

Every minute the community's state and signal are refreshed; each member's results when a
quarter-hour has completed (and its readings have had ``RESULTS_DELAY`` to arrive), when the
distributor's data changed (a Datadis sync or a CSV import stored new values:
``publish_results_soon``) and on demand. At every connection the aggregator says it is online
(the broker says offline for it when it goes away) and publishes the MQTT discovery messages
that give the manager's Home Assistant the community's sensors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import logging
import re
from typing import Any

import aiomqtt

from ioe_aggregator import __version__
from ioe_aggregator.broker import BrokerConnection, BrokerUnavailable
from ioe_aggregator.protocol import Live, MessageKind, ProtocolError, decode, encode
from ioe_aggregator.results import QUARTER, ResultsEngine, Snapshot
from ioe_aggregator.store import StoreError

_LOGGER = logging.getLogger(__name__)
UPDATE_INTERVAL_S = 60.0
# Homes send a quarter's readings just after it ends; results wait this long for them.
RESULTS_DELAY = timedelta(seconds=90)
SHUTDOWN_TIMEOUT_S = 5.0
ONLINE = b"online"
OFFLINE = b"offline"


def availability_topic(prefix: str) -> str:
    """Return where the aggregator says online (and the broker, for it, offline)."""
    return f"{prefix}/community/availability"


class MemberStatus:
    """Listens to every member's retained status (its home's last will says offline)."""

    def __init__(self, prefix: str) -> None:
        """Listen under a community's topic prefix."""
        self._prefix = prefix
        self._topic = re.compile(rf"^{re.escape(prefix)}/m/(?P<member>[^/]+)/status$")
        self.online: set[str] = set()

    @property
    def subscriptions(self) -> list[str]:
        """Every replica follows every member's status."""
        return [f"{self._prefix}/m/+/status"]

    async def handle(self, _client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        """Record a member's state; a bad status is logged and leaves the state as it was."""
        match = self._topic.match(str(message.topic))
        if match is None:
            return
        member = match["member"]
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        if not payload:
            # A retained status being cleared: nothing is known any more.
            self.online.discard(member)
            return
        try:
            status = decode(bytes(payload), MessageKind.STATUS)
        except ProtocolError as err:
            _LOGGER.warning("Ignored a status of %s: %s", member, err)
            return
        if status["state"] == "online":
            self.online.add(member)
        else:
            self.online.discard(member)


@dataclass(frozen=True, kw_only=True)
class _Sensor:
    key: str
    topic: str  # "state" or "signal"
    template: str
    names: Mapping[str, str]
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = None
    icon: str | None = None
    options: tuple[str, ...] = ()


_SENSORS = (
    _Sensor(
        key="generation_power",
        topic="state",
        template="{{ value_json.generation_w }}",
        names={"en": "Generation", "es": "Generación"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="consumption_power",
        topic="state",
        template="{{ value_json.consumption_w }}",
        names={"en": "Consumption", "es": "Consumo"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="surplus_power",
        topic="state",
        template="{{ value_json.surplus_w }}",
        names={"en": "Surplus", "es": "Excedente"},
        unit="W",
        device_class="power",
        state_class="measurement",
    ),
    _Sensor(
        key="generation_today",
        topic="state",
        template="{{ value_json.today.generation_kwh }}",
        names={"en": "Generation today", "es": "Generación hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="consumption_today",
        topic="state",
        template="{{ value_json.today.consumption_kwh }}",
        names={"en": "Consumption today", "es": "Consumo hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="self_consumption_today",
        topic="state",
        template="{{ value_json.today.self_consumed_kwh }}",
        names={"en": "Self-consumption today", "es": "Autoconsumo hoy"},
        unit="kWh",
        device_class="energy",
        state_class="total_increasing",
    ),
    _Sensor(
        key="members_online",
        topic="state",
        template="{{ value_json.members_online }}",
        names={"en": "Members online", "es": "Miembros conectados"},
        state_class="measurement",
        icon="mdi:home-group",
    ),
    _Sensor(
        key="members_total",
        topic="state",
        template="{{ value_json.members_total }}",
        names={"en": "Members", "es": "Miembros"},
        state_class="measurement",
        icon="mdi:account-group",
    ),
    _Sensor(
        key="signal",
        topic="signal",
        template="{{ value_json.kind }}",
        names={"en": "Community signal", "es": "Señal de la comunidad"},
        device_class="enum",
        icon="mdi:traffic-light",
        options=("surplus", "deficit", "normal"),
    ),
)


def discovery_messages(
    *, prefix: str, discovery_prefix: str, community: str, name: str | None, language: str
) -> dict[str, dict[str, Any]]:
    """Return the discovery configuration of each community sensor, by its config topic.

    Unique ids depend only on the community id, so the entities survive restarts, upgrades
    and a move to another machine.
    """
    device = {
        "identifiers": [f"ioe_community_{community}"],
        "name": name or f"IoE Community {community}",
        "manufacturer": "IoE Community",
        "model": "Aggregator",
        "sw_version": __version__,
    }
    messages = {}
    for sensor in _SENSORS:
        unique_id = f"ioe_{community}_{sensor.key}".replace("-", "_")
        config: dict[str, Any] = {
            "name": sensor.names[language],
            "unique_id": unique_id,
            "state_topic": f"{prefix}/community/{sensor.topic}",
            "value_template": sensor.template,
            "availability_topic": availability_topic(prefix),
            "payload_available": ONLINE.decode(),
            "payload_not_available": OFFLINE.decode(),
            "device": device,
            "origin": {"name": "IoE Community aggregator", "sw_version": __version__},
        }
        optional = {
            "unit_of_measurement": sensor.unit,
            "device_class": sensor.device_class,
            "state_class": sensor.state_class,
            "icon": sensor.icon,
            "options": list(sensor.options) or None,
        }
        config.update({key: value for key, value in optional.items() if value is not None})
        messages[f"{discovery_prefix}/sensor/{unique_id}/config"] = config
    return messages


class ResultsService:
    """Publishes what the engine computes; ``run`` is its task."""

    def __init__(
        self,
        engine: ResultsEngine,
        broker: BrokerConnection,
        status: MemberStatus,
        live: Mapping[str, Live],
        *,
        prefix: str,
        discovery: dict[str, dict[str, Any]],
    ) -> None:
        """Publish under a topic prefix; ``live`` is the ingest's latest live reports."""
        self._engine = engine
        self._broker = broker
        self._status = status
        self._live = live
        self._prefix = prefix
        self._discovery = discovery
        self._results_quarter: datetime | None = None
        self._results_wanted = False
        # Set to publish at once rather than at the next minute.
        self._wake = asyncio.Event()
        self.latest: Snapshot | None = None
        self.last_error: str | None = None

    async def announce(self, client: aiomqtt.Client) -> None:
        """Say the aggregator is online and (re)publish the discovery messages."""
        await client.publish(availability_topic(self._prefix), ONLINE, qos=1, retain=True)
        for topic, config in self._discovery.items():
            await client.publish(topic, json.dumps(config).encode(), qos=1, retain=True)
        self._wake.set()

    def publish_results_soon(self) -> None:
        """Have every member's results published at once, not at the next quarter hour.

        For data that changes results outside the members' quarters: the distributor's, when
        a Datadis sync or a CSV import stored new or corrected values.
        """
        self._results_wanted = True
        self._wake.set()

    async def compute(self, now: datetime | None = None) -> Snapshot:
        """Compute a snapshot now (or at ``now``) with the latest live reports and statuses."""
        return await self._engine.compute(
            now or datetime.now(UTC), live=self._live, online=frozenset(self._status.online)
        )

    async def publish(self, *, results: bool = True) -> Snapshot:
        """Compute and publish the state and signal, and each member's results if asked."""
        snapshot = await self.compute()
        await self._broker.publish(
            f"{self._prefix}/community/state",
            encode(snapshot.state, MessageKind.COMMUNITY_STATE),
        )
        await self._broker.publish(
            f"{self._prefix}/community/signal", encode(snapshot.signal, MessageKind.SIGNAL)
        )
        if results:
            for member, message in snapshot.results.items():
                await self._broker.publish(
                    f"{self._prefix}/m/{member}/results", encode(message, MessageKind.RESULTS)
                )
        self.latest = snapshot
        return snapshot

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
            with contextlib.suppress(BrokerUnavailable, TimeoutError):
                async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                    await self._broker.publish(availability_topic(self._prefix), OFFLINE)

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), UPDATE_INTERVAL_S)
            self._wake.clear()
            due = self._results_due(datetime.now(UTC))
            wanted, self._results_wanted = self._results_wanted, False
            if await self._turn(results=due is not None or wanted):
                if due is not None:
                    self._results_quarter = due
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

    def _failed(self, reason: str) -> None:
        if reason != self.last_error:
            _LOGGER.warning("Results not published: %s", reason)
        self.last_error = reason
