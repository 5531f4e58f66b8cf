"""The community as its manager runs it, for any test: its files, its broker, its service.

Fixtures: ``community`` (the generated broker files and Mosquitto on them; members added with
the aggregator's command line) and ``start_aggregator`` (the service as its own process), and
``module_community`` and ``module_start_aggregator``, the same shared by a module's tests.
Test packages that use them import them into their ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
import itertools
import json
import os
from pathlib import Path
import re
import sqlite3
import ssl
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
import pytest
import pytest_socket
import yaml

from custom_components.ioe_community.link.client import LinkSettings, new_client_suffix
from custom_components.ioe_community.link.join_code import JoinCode as HomeJoinCode
from custom_components.ioe_community.link.outbox import Outbox
from ioe_aggregator.distributor.timeline import day_length
from ioe_aggregator.members.join_code import JoinCode, decode as decode_join_code
from ioe_aggregator.protocol.codec import Reading, ReadingsBatch
from ioe_aggregator.store import open_store
from ioe_dev.aggregator_cli import run_aggregator
from ioe_dev.mosquitto import Broker, broker_certificate, start_broker
from ioe_dev.pki import ServerCertificate
from ioe_dev.processes import Service, free_port
from ioe_dev.synthetic import cups as make_cups, make_community
from tests.conftest import ADDON, AGGREGATOR_PASSWORD, AGGREGATOR_USER, REPO

SCRIPTS_LIB = REPO / "scripts" / "lib"


def aggregator_command(*args: str) -> list[str]:
    """Return the command line of ``python -m ioe_aggregator ARGS``."""
    return [sys.executable, "-m", "ioe_aggregator", *args]


def aggregator_env(**overrides: str) -> dict[str, str]:
    """Return the service's environment: ours, without stray IOE_AGGREGATOR_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOE_AGGREGATOR_")}
    env["PYTHONPATH"] = str(ADDON)
    env.update(overrides)
    return env


@pytest.fixture
def start_aggregator(tmp_path: Path) -> Iterator[Callable[..., tuple[Service, int]]]:
    """Start the service with the given options (plus a database and a port); stop it after."""
    yield from _aggregators(tmp_path)


def _aggregators(tmp_path: Path) -> Iterator[Callable[..., tuple[Service, int]]]:
    started: list[Service] = []

    def start(**options: Any) -> tuple[Service, int]:
        port = free_port()
        config = tmp_path / f"config-{len(started)}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": f"sqlite:///{tmp_path / 'ioe.db'}",
                    "http_host": "127.0.0.1",
                    "http_port": port,
                    **options,
                }
            )
        )
        service = Service(
            "aggregator",
            aggregator_command("serve", "--config", str(config)),
            tmp_path / "aggregator.log",
            env=aggregator_env(),
        )
        started.append(service)
        service.start(port=port)
        return service, port

    yield start
    for service in started:
        service.stop()


StartAggregator = Callable[..., tuple[Service, int]]
# The tasks of a service with a broker and no Datadis account, in the order they start: the
# replica leads at once (alone on its SQLite database) and starts the last two.
SERVICE_TASKS = (
    "ingest",
    "broker",
    "replicas",
    "results",
    "failed-logins",
    "comparisons",
    "webhooks",
)
INGRESS_TOKEN = "ioe-test-token"


@pytest.fixture
def ingress_proxy(tmp_path: Path) -> Iterator[Callable[[int, str, str], str]]:
    """Start stand-ins for Home Assistant's ingress (``ioe_dev.ingress``), one per user.

    Call it with the aggregator's port, a Home Assistant user id and display name; it returns
    the page's URL under the ingress prefix. The aggregator's ``ingress_proxy`` is 127.0.0.1.
    """
    started: list[Service] = []

    def start(target: int, user_id: str, name: str) -> str:
        port = free_port()
        proxy = Service(
            f"ingress-{user_id}",
            [sys.executable, "-m", "ioe_dev.ingress", "--port", str(port),
             "--target", str(target), "--token", INGRESS_TOKEN,
             "--user", user_id, name.lower(), name],
            tmp_path / f"ingress-{user_id}.log",
            env=aggregator_env(PYTHONPATH=os.pathsep.join([str(ADDON), str(SCRIPTS_LIB)])),
        )  # fmt: skip
        proxy.start(port=port)
        started.append(proxy)
        return f"http://127.0.0.1:{port}/api/hassio_ingress/{INGRESS_TOKEN}/"

    yield start
    for proxy in started:
        proxy.stop()


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """GET a JSON document; return the status and the body, also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def wait_for_broker_status(port: int, wanted: str, timeout_s: float = 20) -> dict[str, Any]:
    """Poll /api/health until the broker reaches the wanted status; return the last body."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = get_json(f"http://127.0.0.1:{port}/api/health")
        assert status == 200, body
        if body["broker"]["status"] == wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


@dataclass
class MqttClient:
    """A raw paho MQTT v5 client over TLS, as a member's home (or an intruder) would use."""

    client: mqtt.Client
    connected: ReasonCode | None = None
    disconnected: ReasonCode | None = None
    messages: list[mqtt.MQTTMessage] = field(default_factory=list)
    granted: list[ReasonCode] = field(default_factory=list)

    def payloads(self, topic: str) -> list[bytes]:
        """Return what arrived on a topic, in order."""
        return [message.payload for message in list(self.messages) if message.topic == topic]

    def wait_for(self, check: Callable[[], object], timeout_s: float = 10) -> None:
        """Wait until ``check()`` is true; fail the test when it never is."""
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {check}")
            time.sleep(0.02)

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the broker's answer."""
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        self.wait_for(lambda: len(self.granted) > before)

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait until the broker has it."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_connect(
    broker: Broker, username: str, password: str, *, tls: bool = True, client_id: str | None = None
) -> MqttClient:
    """Connect a paho client and wait for the broker's CONNACK (success or refusal)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"{username}-{next(_clients)}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=str(broker.ca_file))
    wrapper = MqttClient(client)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, code: ReasonCode, _p: object) -> None:
        wrapper.connected = code

    def on_disconnect(
        _c: mqtt.Client, _u: object, _f: object, code: ReasonCode, _p: object
    ) -> None:
        wrapper.disconnected = code

    def on_subscribe(
        _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: object
    ) -> None:
        wrapper.granted.extend(codes)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_subscribe = on_subscribe
    client.on_message = lambda _c, _u, message: wrapper.messages.append(message)
    client.connect(broker.host, broker.port)
    client.loop_start()
    wrapper.wait_for(lambda: wrapper.connected is not None or wrapper.disconnected is not None)
    return wrapper


_clients = itertools.count()


@dataclass
class Community:
    """A community as the manager runs it.

    The aggregator's configuration, and the TLS broker that reads the password file and access
    list the aggregator generates (nothing else).
    """

    directory: Path
    options: dict[str, Any]
    broker: Broker
    clients: list[MqttClient] = field(default_factory=list)

    def connect(
        self, username: str, password: str, *, tls: bool = True, client_id: str | None = None
    ) -> MqttClient:
        """Connect a raw MQTT client to the community's broker (closed after the test)."""
        client = mqtt_connect(self.broker, username, password, tls=tls, client_id=client_id)
        self.clients.append(client)
        return client

    @property
    def config_file(self) -> Path:
        """The configuration file the command line and the service share."""
        return self.directory / "aggregator.yaml"

    def cli(
        self, *args: str, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m ioe_aggregator ARGS --config …`` (with ``input_text`` on its stdin)."""
        result = run_aggregator(
            [*args, "--config", str(self.config_file)], env=aggregator_env(), input_text=input_text
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def token(self, scope: str) -> str:
        """Issue an API token of ``scope`` (admin, public…) with the command line."""
        result = self.cli("tokens", "add", "--scope", scope, "--label", scope, "--json")
        return str(json.loads(result.stdout)["token"])

    def add_member(
        self, member_id: str, number: int | None = None, *, cups: str | None = None, **fields: str
    ) -> JoinCode:
        """Register a member through the command line; return its decoded join code.

        Its supply point is ``cups``, else the synthetic one of ``number`` (else of the next).
        """
        number = number if number is not None else next(_cups_numbers)
        options = {
            "--name": f"Hogar {member_id}",
            "--cups": cups or make_cups(number),
            "--contracted-kw": "4.6",
            "--investment-share": "0.1",
            **fields,
        }
        arguments = [item for pair in options.items() for item in pair]
        result = self.cli("members", "add", member_id, *arguments, "--json")
        return decode_join_code(json.loads(result.stdout)["join_code"])


_cups_numbers = itertools.count(1)


def community_options(
    directory: Path, broker_port: int, certificate: ServerCertificate
) -> dict[str, Any]:
    """Return the aggregator's options for a community whose broker files live in directory.

    The API's HTTPS listener for homes uses the broker's certificate (both are 127.0.0.1,
    signed by the CA the join codes carry).
    """
    https_port = free_port()
    return {
        "community_id": "molinos",
        "database_url": f"sqlite:///{directory / 'ioe.db'}",
        "https_port": https_port,
        "api_certfile": str(certificate.cert_file),
        "api_keyfile": str(certificate.key_file),
        "public_api_url": f"https://127.0.0.1:{https_port}",
        "mqtt_host": "127.0.0.1",
        "mqtt_port": broker_port,
        "mqtt_ca_file": str(certificate.ca_file),
        "mqtt_username": AGGREGATOR_USER,
        "mqtt_password": AGGREGATOR_PASSWORD,
        "broker_files_dir": str(directory / "broker-files"),
        "broker_full_access": [],
        "mosquitto_pid_file": str(directory / "broker" / "mosquitto.pid"),
    }


@pytest.fixture
def community(tmp_path: Path) -> Iterator[Community]:
    """Start a community with no members yet: its generated files, and the broker on them."""
    yield from _community(tmp_path, addon_listener=False)


@pytest.fixture
def addon_community(tmp_path: Path) -> Iterator[Community]:
    """Start the same on a broker whose listener is like the Mosquitto add-on's (ids unbound)."""
    yield from _community(tmp_path, addon_listener=True)


def _community(tmp_path: Path, *, addon_listener: bool) -> Iterator[Community]:
    port = free_port()
    certificate = broker_certificate(tmp_path / "broker")
    options = community_options(tmp_path, port, certificate)
    (tmp_path / "aggregator.yaml").write_text(yaml.safe_dump(options))
    result = run_aggregator(
        ["members", "broker-files", "--config", str(tmp_path / "aggregator.yaml")],
        env=aggregator_env(),
    )
    assert result.returncode == 0, result.stderr
    broker = start_broker(
        tmp_path / "broker",
        port,
        include_dir=tmp_path / "broker-files",
        addon_listener=addon_listener,
    )
    made = Community(directory=tmp_path, options=options, broker=broker)
    yield made
    for client in made.clients:
        client.close()
    broker.service.stop()


@pytest.fixture(scope="module")
def module_community(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Community]:
    """Start a community for the tests of a module, as ``community`` does for one test.

    It is set up before the first test's ``allow_local_sockets``, so it lifts Home Assistant's
    socket guard itself (each test's setup puts the guard back).
    """
    pytest_socket.enable_socket()
    yield from _community(tmp_path_factory.mktemp("community"), addon_listener=False)


@pytest.fixture(scope="module")
def module_start_aggregator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., tuple[Service, int]]]:
    """Start services for the tests of a module, as ``start_aggregator`` does for one test."""
    pytest_socket.enable_socket()
    yield from _aggregators(tmp_path_factory.mktemp("aggregator"))


def start_service(community: Community, start_aggregator: StartAggregator) -> tuple[Service, int]:
    """Start the community's aggregator service and wait until it is on the broker."""
    service, port = start_aggregator(**community.options)
    assert wait_for_broker_status(port, "connected")["broker"]["status"] == "connected"
    return service, port


def stored_rows(community: Community) -> list[tuple[Any, ...]]:
    """Return the readings the community's (SQLite) store holds, by member and time."""
    path = Path(community.options["database_url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT member, meter, quantity, start_s, value, changes FROM readings "
            "ORDER BY member, start_s"
        ).fetchall()


@dataclass
class Answer:
    """An HTTP answer, error statuses included."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        """Return the body as JSON."""
        return json.loads(self.body)


def call(
    base: str,
    method: str,
    path: str,
    token: str | None = None,
    body: bytes | dict[str, Any] | None = None,
    context: ssl.SSLContext | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(  # noqa: S310
        base + path, data=data, method=method, headers=dict(headers or {})
    )
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.read(), dict(err.headers))


def wait_until(check: Callable[[], object], attempts: int = 600) -> None:
    """Wait up to a minute, in steps of 0.1 s of real time, until ``check()`` holds.

    Counted in steps, not by the clock: tests that move Home Assistant's clock call it in an
    executor thread, and the clock they froze must not decide when it gives up.
    """
    for _ in range(attempts):
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {check}")


# A member's results as the aggregator publishes them (results.v1.json).
RESULTS = {
    "schema": "ioe.results.v1",
    "computed_at": "2026-11-24T10:16:00Z",
    "scheme": "static",
    "coefficient_now": 0.0712,
    "coefficient_valid": {"from": "2026-01-01", "to": None},
    "allocated_w_now": 310.0,
    "today": {
        "allocated_kwh": 4.1,
        "self_consumed_kwh": 3.2,
        "surplus_kwh": 0.9,
        "import_kwh": 5.0,
    },
    "month": {
        "allocated_kwh": 88.0,
        "self_consumed_kwh": 61.0,
        "surplus_kwh": 27.0,
        "import_kwh": 140.0,
        "savings_eur": 9.85,
    },
    "kpis": {"self_sufficiency": 0.30, "self_consumption": 0.69},
}

# Homes as raw MQTT clients: the readings batches they send and the acks they get.
# The topics of the test community (community_id "molinos").
PREFIX = "ioe/v1/molinos"
# Batches start at midnight (UTC) ten days ago: measured, and well within what a member may
# send (the aggregator refuses readings from the future or from long before it joined).
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
QUARTER = timedelta(minutes=15)


def home_settings(code: JoinCode, password: str | None = None) -> LinkSettings:
    """Return the home's link settings from a join code (another password if given)."""
    made = LinkSettings.from_join_code(HomeJoinCode(**asdict(code)), "test", new_client_suffix())
    return replace(made, mqtt_password=password) if password else made


def put_quarters(outbox: Outbox, member: str, first: int, count: int, day: datetime) -> None:
    """Keep one batch per quarter hour of ``day`` (grid import 0.25 kWh) from quarter ``first``."""
    for n in range(first, first + count):
        message = batch(member, f"q-{n}", first=n, count=1, value=0.25, day=day)
        outbox.put(f"q-{n}", json.dumps(message).encode(), day)


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_message(now: datetime, generation_w: float) -> dict[str, Any]:
    """Return the community's state as the aggregator publishes it every minute."""
    return {
        "schema": "ioe.community_state.v1",
        "ts": _utc(now.astimezone(UTC)),
        "generation_w": generation_w,
        "consumption_w": 4000.0,
        "members_online": 3,
        "members_total": 4,
        "today": {"generation_kwh": 12.0, "consumption_kwh": 20.0, "self_consumed_kwh": 9.0},
    }


def batch(
    member: str,
    batch_id: str,
    *,
    first: int = 0,
    count: int = 4,
    value: float = 0.25,
    day: datetime = T0,
) -> dict[str, Any]:
    """Return a readings batch: grid imports for ``count`` quarter hours from quarter ``first``.

    Quarters count from ``day``'s midnight (UTC): ``T0`` unless told.
    """
    return {
        "schema": "ioe.readings.v1",
        "member": member,
        "batch": batch_id,
        "sent_at": _utc(day + timedelta(days=1)),
        "readings": [
            {
                "meter": "grid",
                "quantity": "import_kwh",
                "start": _utc(day + (first + i) * QUARTER),
                "end": _utc(day + (first + i + 1) * QUARTER),
                "value": value,
                "quality": "measured",
            }
            for i in range(count)
        ],
    }


def plant_batch(member: str) -> dict[str, Any]:
    """Return a plant's day at ``member``'s: 0.5 kWh a quarter from 08:00 to 18:00 UTC of T0."""
    sun = batch(member, "sun", count=96)
    for reading in sun["readings"]:
        start = datetime.fromisoformat(reading["start"])
        daylight = timedelta(hours=8) <= start - T0 < timedelta(hours=18)
        reading.update(meter="plant", quantity="generation_kwh", value=0.5 if daylight else 0.0)
    return sun


def live_batch(member: str, batch_id: str, **powers: float) -> dict[str, Any]:
    """Return a batch of one quarter hour of T0 with a live report of ``powers`` (W) now."""
    message = batch(member, batch_id, count=1)
    message["live"] = {"ts": _utc(datetime.now(UTC)), **powers}
    return message


def payload(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def acks(client: MqttClient, member: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in client.payloads(f"{PREFIX}/m/{member}/ack")]


def home(community: Community, member: str, **fields: str) -> MqttClient:
    """Register a member and connect it as its home does, listening for its acks."""
    code = community.add_member(member, **fields)
    client = community.connect(member, code.mqtt_password)
    client.subscribe(f"{PREFIX}/m/{member}/ack")
    return client


# A community's measured history, written through the store before its service starts (a
# comparison reads it back from there).
HISTORY_TZ = "Europe/Madrid"


def _hourly_batch(member: str, meter: str, quantity: str, values: Any) -> ReadingsBatch:
    hour = timedelta(hours=1)
    return ReadingsBatch(
        member=member,
        batch=f"history-{member}-{meter}",
        sent_at=values.index[-1].to_pydatetime() + hour,
        readings=tuple(
            Reading(
                meter=meter,
                quantity=quantity,
                start=start.to_pydatetime(),
                end=start.to_pydatetime() + hour,
                value=float(value),
                quality="measured",
            )
            for start, value in values.items()
        ),
        live=None,
    )


async def write_history(url: str, members: int, year: int, months: range) -> None:
    """Store the synthetic members' consumption and the plant's (at m-0001) for local months."""
    synthetic = make_community(members)
    hours = synthetic.consumption_kwh.index
    local = hours.tz_convert(HISTORY_TZ)
    chosen = hours[(local.year == year) & local.month.isin(list(months))]
    store = await open_store(url)
    try:
        batches = [
            _hourly_batch(member, "grid", "import_kwh", synthetic.consumption_kwh[member][chosen])
            for member in synthetic.consumption_kwh.columns
        ]
        batches.append(
            _hourly_batch("m-0001", "plant", "generation_kwh", synthetic.generation_kwh[chosen])
        )
        await store.store_batches(batches)
    finally:
        await store.close()


def validate_coefficient_file(
    path: Path, members: list[dict[str, Any]], directory: Path, *, year: int
) -> subprocess.CompletedProcess[str]:
    """Run ``sharing validate FILE`` on the API's members, as the manager would."""
    members_csv = directory / "members.csv"
    members_csv.write_text(
        "member_id,cups,contracted_power_kw,investment_eur,vulnerable\n"
        + "".join(f"{m['id']},{m['cups']},{m['contracted_kw']},1,false\n" for m in members)
    )
    return run_aggregator(
        ["sharing", "validate", str(path), "--members", str(members_csv), "--year", str(year)],
        env=aggregator_env(),
    )


def distributor_day(cups: str, day: date, kwh: float) -> tuple[bytes, dict[str, float]]:
    """Return a CNMC export of a local day (hours numbered as they elapse, 23 to 25 of them).

    Also return the kWh it gives each local month.
    """
    zone = ZoneInfo(HISTORY_TZ)
    hours = day_length(day, zone) // timedelta(hours=1)
    lines = ["CUPS;Fecha;Hora;Consumo_kWh;Metodo_obtencion"]
    lines += [
        f"{cups};{day:%d/%m/%Y};{hour};{kwh:.3f}".replace(".", ",") + ";R"
        for hour in range(1, hours + 1)
    ]
    return "\n".join(lines).encode(), {f"{day:%Y-%m}": hours * kwh}


# The metrics' text exposition format (Prometheus 0.0.4), as a scraper reads it.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(
    rf'^(?P<name>{_NAME})(?:\{{(?P<labels>[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    rf'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)\}})? (?P<value>\S+)$'
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

type Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


def parse_metrics(text: str) -> tuple[Samples, dict[str, str]]:
    """Return each metric's samples by labels and its type (``GET /api/v1/metrics``).

    Fail on a line the text format forbids.
    """
    samples: Samples = {}
    types: dict[str, str] = {}
    helped: set[str] = set()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helped, f"HELP twice for {name}"
            helped.add(name)
        elif line.startswith("# TYPE "):
            _hash, _type, name, kind = line.split(" ")
            assert kind in {"counter", "gauge"}, line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match is not None, f"not a sample: {line!r}"
            name = match["name"]
            assert name in types, f"{name} sampled before its TYPE"
            labels = frozenset(_LABEL.findall(match["labels"] or ""))
            assert labels not in samples.setdefault(name, {}), f"{line!r} twice"
            samples[name][labels] = float(match["value"])
    assert helped == set(types)
    return samples, types
