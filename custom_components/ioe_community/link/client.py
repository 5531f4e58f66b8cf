"""The home's connection to its community's broker: MQTT v5 over TLS, draining the outbox.

The client logs in as its member with the join code's password, trusting only the join code's
CA certificate. At every connection it says it is online (its last will says offline),
subscribes to its acknowledgements, its results and forecast and the community's state and
signal, and sends
what waits in the outbox, oldest first, with at most ``window`` batches unacknowledged at a
time. A batch leaves the outbox only when an acknowledgement names it; a batch is sent again
after ``resend_after_s`` without its acknowledgement, and at every new connection (storing it
twice changes nothing at the aggregator). paho reconnects by itself with a backoff of 1 s
doubling to 60 s.

The client id ends in a random suffix the home keeps (``new_client_suffix``): on a broker
that does not bind a client's id to its login, another member who knew the id could connect
with it and knock the home off (take its session over).

One membership, one home. Every status the home publishes (and its last will) carries its
*installation* (a digest of its client id) as an MQTT v5 user property, and the home follows
its own status topic: an online status of another installation that arrives while it is
connected, or that it finds when it connects again, means another Home Assistant logs in as
this member since; the link stops (``LinkState.DISPLACED``) instead of knocking the other off
every second, and says so. Which one came later is told by the *claim* each online status
carries (another user property: when the installation first said online, in microseconds of
its clock), not by when a status arrives: on a broker that binds client ids to logins the two
installations share one session, and a status left in it can reach either of them long after.
What arrives at the home's first connection before its own online status is older than the
home: the household chose to move the membership here (the config flow asks), and the home's
claim goes past it even when the other's clock is ahead. The last will
waits ``WILL_DELAY_S``: a connection that takes the session over for a moment (the config
flow's probe, on a broker that binds client ids to logins) does not mark the home offline.

``probe`` tries the connection once, as the config flow does before it saves a join code, says
what is wrong when it fails, and whether another installation is online as the member.

paho runs the connection in its own thread; the callbacks given here are called from the
link's threads (paho's, and the caller's of ``keep``, ``resend`` and ``stop``), never from an
event loop: the integration hands them over to its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import json
import logging
import secrets
import ssl
import threading
import time
from typing import Any, Final

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .join_code import JoinCode
from .keeper import Kept, OutboxKeeper, put_readings
from .messages import Ack, Message, MessageKind, Retained
from .outbox import Outbox, OutboxError, OutboxState
from .protocol import ControlledDevice, ProtocolError, Reading, decode_message, encode_status

_LOGGER = logging.getLogger(__name__)
DEFAULT_WINDOW: Final = 20
# A batch not acknowledged this long after it was sent is sent again (the aggregator may have
# been away while the broker had it).
DEFAULT_RESEND_AFTER_S: Final = 60.0
RECONNECT_MIN_S: Final = 1
RECONNECT_MAX_S: Final = 60
# CONNACK reason codes (MQTT v5) that mean the login itself is refused.
_REFUSED_LOGIN: Final = {134, 135}  # bad user name or password; not authorized
# How long the broker waits before publishing the home's last will: a home that reconnects (or
# whose session a probe took for a moment) within it is not shown offline.
WILL_DELAY_S: Final = 60
# The user property of a status that names the installation which published it.
INSTALLATION_PROPERTY: Final = "installation"
# The user property of an online status that says since when the installation holds the
# membership (microseconds since the epoch): the latest claim keeps it.
CLAIMED_PROPERTY: Final = "claimed"
# How long a home that connects again waits for the member's status before saying online.
ANNOUNCE_AFTER_S: Final = 1.0
# How long a probe waits for the member's retained status once subscribed.
_STATUS_WAIT_S: Final = 1.5


class LinkState(StrEnum):
    """Where the link stands, for the household's diagnostic sensor."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    REFUSED = "refused"  # the broker refused the login: rotated or revoked credentials
    DISPLACED = "displaced"  # another installation logs in as this member since
    STOPPED = "stopped"


class LinkProblem(StrEnum):
    """Why a connection to the community's broker failed, as the household is told."""

    CANNOT_CONNECT = "cannot_connect"  # nothing answers at the broker's address
    TLS_REFUSED = "tls_refused"  # something answers, but does not speak TLS
    CERTIFICATE_MISMATCH = "certificate_mismatch"  # not the broker the join code's CA signed
    CERTIFICATE_EXPIRED = "certificate_expired"  # the broker's certificate (or CA) expired
    INVALID_AUTH = "invalid_auth"  # the login was refused: revoked or rotated credentials


class LinkError(Exception):
    """A connection attempt failed; ``problem`` says which way."""

    def __init__(self, problem: LinkProblem, detail: str) -> None:
        """Keep the kind of failure with its readable reason."""
        super().__init__(detail)
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class LinkSettings:
    """What the join code says about the community and this member."""

    community: str
    member: str
    # The member's broker login: its id, or member@community on a broker communities share.
    username: str
    client_id: str
    topic_prefix: str
    broker_host: str
    broker_port: int
    ca_certificate: str | None
    mqtt_password: str
    version: str

    @classmethod
    def from_join_code(cls, code: JoinCode, version: str, client_suffix: str) -> LinkSettings:
        """Return the settings a join code gives, for a home running ``version``.

        ``client_suffix`` is the random end of the client id the home keeps
        (``new_client_suffix``).
        """
        return cls(
            community=code.community,
            member=code.member,
            username=code.mqtt_username or code.member,
            # With a login that names the community (member@community), the login: on a broker
            # communities share, "-" could not tell community sol's member norte-m1 from
            # community sol-norte's m1.
            client_id=(
                f"ioe-home-{code.mqtt_username}-{client_suffix}"
                if code.mqtt_username
                else f"ioe-home-{code.community}-{code.member}-{client_suffix}"
            ),
            topic_prefix=code.topic_prefix,
            broker_host=code.broker_host,
            broker_port=code.broker_port,
            ca_certificate=code.ca_certificate,
            mqtt_password=code.mqtt_password,
            version=version,
        )

    @property
    def installation(self) -> str:
        """Return what names this home to other installations of the member (not its id)."""
        return hashlib.sha256(self.client_id.encode()).hexdigest()[:16]

    @property
    def status_topic(self) -> str:
        """Return the member's status topic."""
        return f"{self.topic_prefix}/m/{self.member}/status"


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """Where the link stands and what waits in its outbox (None: the file cannot be read)."""

    state: LinkState
    outbox: OutboxState | None


@dataclass(frozen=True)
class Presence:
    """The member's retained status as a probe found it."""

    state: str | None = None  # online, offline, or None: no status yet
    installation: str | None = None
    claimed: int | None = None  # None: a version of the integration that did not say

    def claim(self) -> tuple[int, str]:
        """Return what orders claims: the latest wins, the installation breaks a tie."""
        return (self.claimed or 0, self.installation or "")

    def online_elsewhere(self, installation: str) -> bool:
        """Return whether another installation than ``installation`` is online as the member."""
        return (
            self.state == "online"
            and self.installation is not None
            and self.installation != installation
        )


def new_client_suffix() -> str:
    """Return a new random end for a home's client id (64 bits, as 16 hex digits)."""
    return secrets.token_hex(8)


type MessageHandler = Callable[[Retained], None]
type ChangeHandler = Callable[[LinkStatus], None]
# X509_V_ERR_CERT_HAS_EXPIRED: OpenSSL's verification code for an expired certificate.
_EXPIRED: Final = 10


def tls_context(ca_certificate: str | None) -> ssl.SSLContext:
    """Return a client TLS context trusting the join code's CA (or the system's when none)."""
    # Without cadata (nor cafile) the default context loads the system's certificates.
    context = ssl.create_default_context(cadata=ca_certificate or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _client(settings: LinkSettings, ending: str = "") -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{settings.client_id}{ending}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(settings.username, settings.mqtt_password)
    client.tls_set_context(tls_context(settings.ca_certificate))
    return client


def _status_properties(settings: LinkSettings, packet: int, claimed: int | None) -> Properties:
    properties = Properties(packet)  # type: ignore[no-untyped-call]  # paho has no annotations
    said = [(INSTALLATION_PROPERTY, settings.installation)]
    if claimed is not None:
        said.append((CLAIMED_PROPERTY, str(claimed)))
    properties.UserProperty = said
    return properties


def _presence(message: mqtt.MQTTMessage) -> Presence:
    """Return what a status message says (nothing for a payload that is not one)."""
    said = dict(getattr(message.properties, "UserProperty", None) or ())
    claimed = said.get(CLAIMED_PROPERTY, "")
    try:
        state = json.loads(message.payload).get("state")
    except ValueError, AttributeError:
        return Presence()
    return Presence(
        state if isinstance(state, str) else None,
        said.get(INSTALLATION_PROPERTY),
        int(claimed) if claimed.isdigit() else None,
    )


def probe(settings: LinkSettings, timeout_s: float = 10) -> Presence:
    """Connect once, log in and read the member's status (blocking).

    Raise LinkError saying what failed; return the status found (who is online as the member).
    """
    # Not the link's own id: a probe while the link runs must not take its session over.
    client = _client(settings, "-probe")
    answer: list[ReasonCode] = []
    arrived = threading.Event()
    subscribed = threading.Event()
    found: list[Presence] = []
    status = threading.Event()

    def connected(
        _client: mqtt.Client, _data: Any, _flags: Any, code: ReasonCode, _props: Any
    ) -> None:
        answer.append(code)
        arrived.set()

    def received(_client: mqtt.Client, _data: Any, message: mqtt.MQTTMessage) -> None:
        found.append(_presence(message))
        status.set()

    client.on_connect = connected
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = received
    try:
        client.connect(settings.broker_host, settings.broker_port, keepalive=int(timeout_s) + 5)
    except ssl.SSLCertVerificationError as err:
        problem = (
            LinkProblem.CERTIFICATE_EXPIRED
            if err.verify_code == _EXPIRED
            else LinkProblem.CERTIFICATE_MISMATCH
        )
        raise LinkError(problem, f"the broker's certificate: {err.verify_message}") from err
    except (ssl.SSLError, ConnectionResetError) as err:
        raise LinkError(LinkProblem.TLS_REFUSED, f"no TLS at the broker's port: {err}") from err
    except OSError as err:  # refused, unreachable, unknown host, timed out
        raise LinkError(LinkProblem.CANNOT_CONNECT, f"cannot reach the broker: {err}") from err
    client.loop_start()
    try:
        if not arrived.wait(timeout_s):
            raise LinkError(LinkProblem.CANNOT_CONNECT, "the broker did not answer the login")
        code = answer[0]
        if code.is_failure:
            problem = (
                LinkProblem.INVALID_AUTH
                if code.value in _REFUSED_LOGIN
                else LinkProblem.CANNOT_CONNECT
            )
            raise LinkError(problem, f"the broker refused the login: {code}")
        client.subscribe(settings.status_topic, qos=1)
        # A retained status comes right after the subscription is granted.
        if subscribed.wait(timeout_s):
            status.wait(_STATUS_WAIT_S)
        return found[0] if found else Presence()
    finally:
        client.disconnect()
        client.loop_stop()


class LinkClient:
    """Keeps one home connected to its community and its outbox drained."""

    def __init__(
        self,
        settings: LinkSettings,
        outbox: Outbox,
        *,
        on_message: MessageHandler | None = None,
        on_change: ChangeHandler | None = None,
        window: int = DEFAULT_WINDOW,
        resend_after_s: float = DEFAULT_RESEND_AFTER_S,
    ) -> None:
        """Prepare the connection; ``start`` opens it.

        ``on_message`` gets the member's results and forecast and the community's state and
        signal, once
        checked against their schemas and typed; ``on_change`` gets the link's status when the
        state, the backlog or the last acknowledgement changes. Both are called in the link's
        threads.
        """
        self.settings = settings
        self._outbox = outbox
        self._keeper = OutboxKeeper(outbox, settings.member)
        self._on_message = on_message
        self._on_change = on_change or (lambda _status: None)
        self._window = window
        self._resend_after_s = resend_after_s
        self._lock = threading.Lock()
        # Batches sent and not yet acknowledged, with when (monotonic seconds) they were sent.
        self._in_flight: dict[str, float] = {}
        # Live batches lately sent: their acknowledgements concern no outbox batch.
        self._live: deque[str] = deque(maxlen=64)
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._state = LinkState.STOPPED
        self.last_error: str | None = None
        self.last_ack: datetime | None = None
        prefix = f"{settings.topic_prefix}/m/{settings.member}"
        self._topics = {
            "readings": f"{prefix}/readings",
            "status": settings.status_topic,
            "ack": f"{prefix}/ack",
            "results": f"{prefix}/results",
            "forecast": f"{prefix}/forecast",
            # The JSON ones: not community/availability, which is a plain online/offline.
            "state": f"{settings.topic_prefix}/community/state",
            "signal": f"{settings.topic_prefix}/community/signal",
        }
        self._kinds = {
            self._topics["ack"]: MessageKind.ACK,
            self._topics["results"]: MessageKind.RESULTS,
            self._topics["forecast"]: MessageKind.FORECAST,
            self._topics["state"]: MessageKind.COMMUNITY_STATE,
            self._topics["signal"]: MessageKind.SIGNAL,
        }
        # Connections made since start: the first finds the status of whoever was here before.
        self._connections = 0
        # What the home controls, said in its online status (None: nothing said).
        self._control: Sequence[ControlledDevice] | None = None
        self._heard_self = False  # this connection's own online status came back
        # Since when this home holds the membership (its last will says it too).
        self._claimed = time.time_ns() // 1000
        self._announcing: threading.Timer | None = None
        self.displaced_by: str | None = None
        self._client = _client(settings)
        self._set_will()
        self._client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self._client.on_connect = self._connected
        self._client.on_disconnect = self._disconnected
        self._client.on_message = self._received
        self._client.on_connect_fail = self._connect_failed

    def _set_will(self) -> None:
        """Set the last will (offline, with the claim), for this connection or the next."""
        will = _status_properties(self.settings, mqtt.PacketTypes.WILLMESSAGE, self._claimed)
        will.WillDelayInterval = WILL_DELAY_S
        self._client.will_set(
            self._topics["status"], self._status("offline"), qos=1, retain=True, properties=will
        )

    @property
    def state(self) -> LinkState:
        """Where the link stands."""
        return self._state

    @state.setter
    def state(self, state: LinkState) -> None:
        changed = state is not self._state
        self._state = state
        if changed:
            self._changed()

    @property
    def holding(self) -> int:
        """Return how many finished readings wait in memory for room in the outbox."""
        return self._keeper.holding

    def status(self) -> LinkStatus:
        """Return where the link stands and what waits in its outbox (blocking: a file read)."""
        try:
            outbox = self._outbox.state()
        except OutboxError as err:
            _LOGGER.error("The community link's outbox failed: %s", err)  # noqa: TRY400
            outbox = None
        return LinkStatus(self._state, outbox)

    def _changed(self) -> None:
        self._on_change(self.status())

    def keep(self, readings: Sequence[Reading], checkpoint: str, now: datetime) -> Kept:
        """Keep finished readings (a quarter's) in the outbox and send what waits (blocking).

        One call for all of it: the outbox policy (``keeper``), the sending, the new status.
        """
        kept = self._keeper.keep(readings, checkpoint, now)
        self.drain()
        self._changed()
        return kept

    def resend(self, readings: Sequence[Reading], now: datetime) -> Kept:
        """Put readings made again in the outbox (no checkpoint: they are past) and send them."""
        kept = put_readings(self._outbox, self.settings.member, readings, now)
        self.drain()
        self._changed()
        return kept

    def save_checkpoint(self, checkpoint: str) -> None:
        """Save the counters' state, unless readings are held (blocking)."""
        self._keeper.save_checkpoint(checkpoint)

    def _status(self, state: str) -> bytes:
        online = state == "online"
        return encode_status(
            state,
            version=self.settings.version,
            backlog=self._outbox.state().batches if online else None,
            control=self._control if online else None,
        )

    def set_control(self, devices: Sequence[ControlledDevice] | None) -> None:
        """Say what the home controls, in its status: now if online, else when it is again."""
        if devices == self._control:
            return
        self._control = devices
        if self.state is LinkState.CONNECTED:
            self._publish_status(self._client, "online")

    def start(self) -> None:
        """Connect in the background (and keep reconnecting)."""
        self.state = LinkState.CONNECTING
        properties = Properties(mqtt.PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        # The broker keeps the subscriptions while the home is away for up to a day.
        properties.SessionExpiryInterval = 24 * 3600
        self._client.connect_async(
            self.settings.broker_host,
            self.settings.broker_port,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._stopping.clear()
        self._ticker = threading.Thread(target=self._tick, name="ioe-link-resend", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        """Look for batches to send again, a few times per resend period."""
        while not self._stopping.wait(max(self._resend_after_s / 4, 0.1)):
            self.drain()

    def _publish_status(self, client: mqtt.Client, state: str) -> mqtt.MQTTMessageInfo:
        return client.publish(
            self._topics["status"],
            self._status(state),
            qos=1,
            retain=True,
            properties=_status_properties(self.settings, mqtt.PacketTypes.PUBLISH, self._claimed),
        )

    def stop(self) -> None:
        """Say offline, disconnect and stop the network thread."""
        if self.state is LinkState.CONNECTED:
            self._publish_status(self._client, "offline").wait_for_publish(5)
        self._stopping.set()
        if self._announcing is not None:
            self._announcing.cancel()
            self._announcing.join()
        if self._ticker is not None:
            self._ticker.join()
        self._client.disconnect()
        self._client.loop_stop()
        self.state = LinkState.STOPPED

    def drain(self) -> None:
        """Send waiting batches, oldest first, up to the window (safe from any thread)."""
        if self.state is not LinkState.CONNECTED:
            return
        with self._lock:
            now = time.monotonic()
            for batch, sent in list(self._in_flight.items()):
                if now - sent > self._resend_after_s:
                    del self._in_flight[batch]  # it goes again below
            room = self._window - len(self._in_flight)
            if room <= 0:
                return
            try:
                waiting = [
                    p for p in self._outbox.pending(self._window) if p.batch not in self._in_flight
                ][:room]
            except OutboxError as err:
                self.last_error = str(err)
                _LOGGER.error("The community link cannot read its outbox: %s", err)  # noqa: TRY400
                return
            for pending in waiting:
                self._client.publish(self._topics["readings"], pending.payload, qos=1)
                self._in_flight[pending.batch] = now
        if waiting:
            try:
                self._outbox.mark_sent([p.batch for p in waiting], datetime.now(UTC))
            except OutboxError as err:  # only the attempt count is lost
                _LOGGER.warning("The community link cannot count its sends: %s", err)

    def send_live(self, batch: str, payload: bytes) -> bool:
        """Send a live-power batch now if connected (it is not kept: the next one replaces it)."""
        if self.state is not LinkState.CONNECTED:
            return False
        with self._lock:
            self._live.append(batch)
        self._client.publish(self._topics["readings"], payload, qos=0)
        return True

    def _connect_failed(self, _client: mqtt.Client, _data: Any) -> None:
        self.last_error = "cannot reach the community's broker"
        if self.state is LinkState.CONNECTING:
            self.state = LinkState.DISCONNECTED

    def _connected(
        self, client: mqtt.Client, _data: Any, _flags: Any, code: ReasonCode, _props: Any
    ) -> None:
        if code.is_failure:
            self.last_error = f"the broker refused the connection: {code}"
            if code.value in _REFUSED_LOGIN:
                self.state = LinkState.REFUSED
            _LOGGER.warning("Community broker refused %s: %s", self.settings.username, code)
            return
        with self._lock:
            self._in_flight.clear()  # whatever was unacknowledged goes again
            self._connections += 1
            first = self._connections == 1
            self._heard_self = False
        # The status first: what was there before this home's own arrives ahead of it.
        for topic in ("status", "ack", "results", "forecast", "state", "signal"):
            client.subscribe(self._topics[topic], qos=1)
        if first:  # the home takes the membership: whoever was online as it will stop
            self._announce(client)
        else:  # back after a while: first see whether another installation took it since
            with self._lock:
                if self._announcing is not None:
                    self._announcing.cancel()
                self._announcing = threading.Timer(ANNOUNCE_AFTER_S, self._announce, (client,))
                self._announcing.start()

    def _announce(self, client: mqtt.Client) -> None:
        """Say online and start sending, unless the home stopped or was displaced meanwhile."""
        if self._stopping.is_set() or self.state is LinkState.DISPLACED:
            return
        self._publish_status(client, "online")
        self.last_error = None
        self.state = LinkState.CONNECTED
        self.drain()

    def _disconnected(
        self, _client: mqtt.Client, _data: Any, _flags: Any, code: ReasonCode, _props: Any
    ) -> None:
        if self.state not in (LinkState.REFUSED, LinkState.STOPPED, LinkState.DISPLACED):
            self.state = LinkState.DISCONNECTED
            if code.is_failure:
                self.last_error = f"disconnected: {code}"

    def _received(self, client: mqtt.Client, _data: Any, message: mqtt.MQTTMessage) -> None:
        # An exception out of a callback would end paho's network thread, and the link with it
        # (no more acks, resends or reconnections) while its state still said connected.
        try:
            self._handle(client, message)
        except Exception:
            _LOGGER.exception("Could not handle a message on %s; the link goes on", message.topic)

    def _handle(self, client: mqtt.Client, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._topics["status"]:
            self._status_arrived(client, message)
            return
        kind = self._kinds.get(message.topic)
        if kind is None:
            return
        try:
            body: Message = decode_message(message.payload, kind)
        except ProtocolError as err:
            _LOGGER.warning("Ignored a message on %s: %s", message.topic, err)
            return
        if isinstance(body, Ack):
            self._acknowledged(body)
        elif self._on_message is not None:
            self._on_message(body)

    def _status_arrived(self, client: mqtt.Client, message: mqtt.MQTTMessage) -> None:
        """Stop when another installation claimed the membership after this home.

        At the first connection, what arrives before the home's own online status is older
        whatever its claim says (the household moved the membership here): the home's claim
        goes past it. Later, the claims decide; an older one (a status left in a shared
        session, or an installation coming back that stops on hearing this home) is answered
        by saying online again, so that the retained status names the latest claim.
        """
        presence = _presence(message)
        if presence.installation == self.settings.installation:
            self._heard_self = self._heard_self or presence.state == "online"
            return
        mine = Presence("online", self.settings.installation, self._claimed)
        first = not self._heard_self and self._connections <= 1
        if first and presence.installation is not None and presence.claim() > mine.claim():
            # The other's clock is ahead of this one's (online, or offline by its last will:
            # it may come back): this home's claim goes past it.
            self._claimed = (presence.claimed or 0) + 1
            self._set_will()
            self._publish_status(client, "online")
        if first or not presence.online_elsewhere(self.settings.installation):
            return
        if presence.claim() < mine.claim():
            if self.state is LinkState.CONNECTED:
                self._publish_status(client, "online")
            return
        _LOGGER.warning(
            "Another installation (%s) logs in as member %s of %s: this home's link stops",
            presence.installation,
            self.settings.member,
            self.settings.community,
        )
        self.displaced_by = presence.installation
        self.last_error = f"another installation ({presence.installation}) uses this membership"
        self.state = LinkState.DISPLACED
        # A clean disconnect: no last will (the member is online, elsewhere), no reconnection.
        client.disconnect()

    def _acknowledged(self, ack: Ack) -> None:
        with self._lock:
            names = [name for name in ack.batches if name not in self._live]
        now = datetime.now(UTC)
        try:
            if names:
                self._outbox.acknowledge(names, now)
        except OutboxError as err:
            self.last_error = str(err)
            _LOGGER.error("The community link cannot update its outbox: %s", err)  # noqa: TRY400
            return
        with self._lock:
            for name in names:
                self._in_flight.pop(name, None)
        self.last_ack = now
        self._changed()
        self.drain()
