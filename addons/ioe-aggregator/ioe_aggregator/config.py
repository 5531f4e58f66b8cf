"""The service's configuration: one file (the add-on's options.json, or YAML) and the environment.

Every key can be given in the file or as ``IOE_AGGREGATOR_<KEY>`` in the environment; the
environment wins. Unknown keys and bad values are errors that name the key, so a typo never
passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import ipaddress
import json
from pathlib import Path
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol
import yaml

from ioe_aggregator.members.broker_rules import Logins
from ioe_aggregator.sharing.calendar import DEFAULT_TZ

ENV_PREFIX = "IOE_AGGREGATOR_"
DEFAULT_HTTP_PORT = 8099
DEFAULT_HTTPS_PORT = 8443
DEFAULT_MQTT_PORT = 8883
# Rows (readings and batch records) one member's own data may take: years of a home with
# a dozen meters, far from what a member flooding the store could reach unseen.
DEFAULT_MEMBER_QUOTA_ROWS = 5_000_000
# A home sends a batch a quarter hour and a live report every 10 s; a backlog goes at the
# pace of its acknowledgements, within a minute's allowance (``ingest.writer.BatchRates``).
DEFAULT_MEMBER_BATCHES_PER_S = 20.0
# The fewest days of raw readings a limit may keep: the distributors revise their values for
# about two months, and a correction older than the readings kept is left out.
MIN_RAW_READINGS_DAYS = 90
# How often the public display's figures are computed again (s).
DEFAULT_DISPLAY_REFRESH_S = 60
DEFAULT_WEBHOOK_RETRY_S = 10
DEFAULT_EMONCMS_DIR = "/share/emoncms"
DATADIS_URL = "https://datadis.es"
LOG_LEVELS = ("debug", "info", "warning", "error")
LANGUAGES = ("es", "en")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file or key and the reason."""


def _boolean(value: Any) -> bool:
    """Accept the spellings of a boolean that files and environment variables use."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise vol.Invalid(f"expected a boolean (true/false), got {value!r}")


def _port(value: Any) -> int:
    try:
        port = int(value)
    except TypeError, ValueError:
        raise vol.Invalid(f"expected a port number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise vol.Invalid(f"expected a port number from 1 to 65535, got {port}")
    return port


def _address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise vol.Invalid(f"expected an IP address, got {value!r}") from None


def _database_url(value: Any) -> str:
    text = str(value)
    if text.startswith(("postgresql://", "postgres://")) and text.partition("://")[2]:
        return text
    if not text.startswith("sqlite:///") or text == "sqlite:///":
        # Never echo a URL back: it may hold a password.
        raise vol.Invalid(
            "expected sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return text


def _topic_prefix(value: Any) -> str:
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", text):
        raise vol.Invalid(
            "expected topic levels of letters, digits, - and _ separated by / "
            "(no wildcards, no leading or trailing /)"
        )
    return text


def _timezone(value: Any) -> str:
    try:
        zone = ZoneInfo(str(value))
    except ValueError, ZoneInfoNotFoundError:
        raise vol.Invalid(f"expected a time zone such as Europe/Madrid, got {value!r}") from None
    # The store sums readings per hour and local day: a day must start on a whole UTC hour.
    year = datetime.now(UTC).year
    for month in (1, 7):
        offset = datetime(year, month, 1, tzinfo=zone).utcoffset()
        if offset is not None and offset.total_seconds() % 3600:
            raise vol.Invalid(
                f"expected a time zone whose offset from UTC is whole hours, as Spain's are, "
                f"got {value!r}"
            )
    return str(value)


def _clock_time(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise vol.Invalid(f"expected a time of day as HH:MM (24 hours), got {value!r}")
    return text


def _number(low: float, high: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=low, max=high))


def _logins(value: Any) -> list[str]:
    """Accept a list of broker logins, or one string of them separated by commas."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise vol.Invalid("expected a list of broker logins")
    logins = [str(item).strip() for item in items if str(item).strip()]
    for login in logins:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", login):
            raise vol.Invalid(f"{login!r} is not a broker login (letters, digits, . - _)")
    return logins


_TOGETHER = "{} and {} go together"
_SCHEMA = vol.Schema(
    {
        vol.Optional("community_id", default="community"): vol.All(
            str, vol.Match(r"^[a-z0-9][a-z0-9-]{0,39}$", msg="expected 1-40 of a-z, 0-9 and -")
        ),
        # What people read: the homes' community device, the manager's sensors.
        vol.Optional("community_name"): vol.All(
            str, vol.Strip, vol.Length(min=1, max=60, msg="expected a name of 1-60 characters")
        ),
        vol.Optional("database_url", default="sqlite:////data/ioe-aggregator.db"): _database_url,
        vol.Optional("http_host", default="0.0.0.0"): str,  # noqa: S104 - the add-on's container
        vol.Optional("replica_name"): vol.Match(
            r"^[A-Za-z0-9_.-]{1,64}$", msg="letters, digits, '.', '_' and '-' (64 at most)"
        ),
        vol.Optional("http_port", default=DEFAULT_HTTP_PORT): _port,
        vol.Optional("ingress_proxy"): _address,
        vol.Optional("https_port"): _port,
        vol.Inclusive(
            "api_certfile", "api_tls", msg=_TOGETHER.format("api_certfile", "api_keyfile")
        ): str,
        vol.Inclusive("api_keyfile", "api_tls"): str,
        vol.Optional("mqtt_host"): str,
        vol.Optional("mqtt_port", default=DEFAULT_MQTT_PORT): _port,
        vol.Optional("mqtt_tls", default=True): _boolean,
        vol.Optional("mqtt_ca_file"): str,
        vol.Optional("mqtt_username"): str,
        vol.Optional("mqtt_password"): str,
        vol.Optional("topic_prefix"): _topic_prefix,
        vol.Optional("public_broker_host"): str,
        vol.Optional("public_broker_port"): _port,
        # Homes send their token to this address: never in clear.
        vol.Optional("public_api_url"): vol.All(
            str, vol.Match(r"^https://[^\s/]+(/\S*)?$", msg="expected an https:// address")
        ),
        vol.Optional("broker_files_dir"): str,
        vol.Optional("broker_full_access", default=["homeassistant", "addons"]): _logins,
        vol.Optional("mosquitto_pid_file"): str,
        # Members log in as member@community (a broker shared by many communities).
        vol.Optional("broker_login_community", default=False): _boolean,
        vol.Optional("member_batches_per_s", default=DEFAULT_MEMBER_BATCHES_PER_S): _number(
            0.1, 1_000_000.0
        ),
        vol.Optional("member_quota_rows", default=DEFAULT_MEMBER_QUOTA_ROWS): vol.All(
            vol.Coerce(int), vol.Range(min=1000)
        ),
        # 0: every raw reading is kept; else those of the last N days (their sums stay).
        vol.Optional("raw_readings_days", default=0): vol.All(
            vol.Coerce(int),
            vol.Any(0, vol.Range(min=MIN_RAW_READINGS_DAYS)),
            msg=f"0 (keep them all) or at least {MIN_RAW_READINGS_DAYS} days",
        ),
        vol.Optional("timezone", default=DEFAULT_TZ): _timezone,
        vol.Optional("agreement_min_months", default=4): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=12)
        ),
        vol.Inclusive(
            "import_price_eur_kwh",
            "prices",
            msg=_TOGETHER.format("import_price_eur_kwh", "surplus_price_eur_kwh"),
        ): _number(0.0, 10.0),
        vol.Inclusive("surplus_price_eur_kwh", "prices"): _number(-10.0, 10.0),
        vol.Optional("signal_threshold_w", default=500.0): _number(0.0, 10_000_000.0),
        vol.Optional("display_refresh_s", default=DEFAULT_DISPLAY_REFRESH_S): vol.All(
            vol.Coerce(int), vol.Range(min=2, max=3600)
        ),
        vol.Optional("display_emission_factor"): _number(0.0, 2.0),
        vol.Optional("webhook_retry_s", default=DEFAULT_WEBHOOK_RETRY_S): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=600)
        ),
        vol.Optional("emoncms_dir", default=DEFAULT_EMONCMS_DIR): vol.All(str, vol.Length(min=1)),
        vol.Inclusive(
            "plant_latitude",
            "plant_site",
            msg=_TOGETHER.format("plant_latitude", "plant_longitude"),
        ): _number(-90.0, 90.0),
        vol.Inclusive("plant_longitude", "plant_site"): _number(-180.0, 180.0),
        vol.Optional("plant_altitude_m", default=0.0): _number(-500.0, 9000.0),
        vol.Optional("mqtt_discovery", default=True): _boolean,
        vol.Optional("discovery_prefix", default="homeassistant"): _topic_prefix,
        vol.Optional("language", default="es"): vol.All(
            vol.Lower, vol.In(LANGUAGES, msg=f"expected one of {', '.join(LANGUAGES)}")
        ),
        vol.Inclusive(
            "datadis_username",
            "datadis",
            msg=_TOGETHER.format("datadis_username", "datadis_password"),
        ): vol.All(str, vol.Strip, vol.Upper),
        vol.Inclusive("datadis_password", "datadis"): str,
        vol.Optional("datadis_url", default=DATADIS_URL): vol.All(
            str, vol.Match(r"^https?://[^\s/]+(/\S*)?$", msg="expected an http(s):// address")
        ),
        vol.Optional("datadis_sync_time", default="06:00"): _clock_time,
        vol.Optional("datadis_spread_minutes", default=120): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=720)
        ),
        vol.Optional("datadis_history_months", default=24): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=24)
        ),
        vol.Optional("log_level", default="info"): vol.All(
            vol.Lower, vol.In(LOG_LEVELS, msg=f"expected one of {', '.join(LOG_LEVELS)}")
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


@dataclass(frozen=True, kw_only=True)
class BrokerConfig:
    """How the service reaches the community's MQTT broker."""

    host: str
    port: int
    tls: bool
    ca_file: Path | None
    username: str | None
    password: str | None


@dataclass(frozen=True, kw_only=True)
class BrokerAccountsConfig:
    """The broker's logins as the service writes them: a password file and an access list."""

    # Where to write them (None: the broker's logins are kept elsewhere).
    files_dir: Path | None
    topic_prefix: str
    # Logins with access to every topic (the service's own first, when it has one): no member
    # may take them.
    full_access: tuple[str, ...]
    # The service's own login and password, written with the members' (None: not written).
    service_login: tuple[str, str] | None
    mosquitto_pid_file: Path | None
    # How members log in: their id, or member@community on a broker many communities share.
    logins: Logins


@dataclass(frozen=True, kw_only=True)
class MembersConfig:
    """What the registry needs beyond the database: what join codes hold, the broker's logins."""

    community_id: str
    # The community's name as people read it (None: none given, its id stands for it).
    community_name: str | None
    topic_prefix: str
    public_broker_host: str | None
    public_broker_port: int
    public_api_url: str | None
    # The broker's CA certificate, which join codes carry to the homes.
    broker_ca_file: Path | None
    accounts: BrokerAccountsConfig
    # The rows a member's own data may take in the store.
    quota_rows: int
    # The readings batches (live reports included) a member may send per second, on average
    # over a minute (``ingest.writer.BatchRates``).
    batches_per_s: float


@dataclass(frozen=True, kw_only=True)
class ResultsConfig:
    """How results are computed and shown: the agreements' rules, prices, signal, discovery."""

    # The community's name as people read it (None: none given, its id stands for it).
    community_name: str | None
    timezone: str
    agreement_min_months: int
    # Flat prices (EUR/kWh) for each member's monthly savings; None: savings are not given.
    prices: tuple[float, float] | None
    signal_threshold_w: float
    # Where the plant is: (latitude, longitude, altitude in m) for its clear-sky model; None:
    # not said, its forecast learns the day's shape from its history alone.
    plant_site: tuple[float, float, float] | None
    # The manager's Home Assistant's discovery prefix, or None for no discovery messages.
    discovery_prefix: str | None
    language: str

    @property
    def zone(self) -> ZoneInfo:
        """The community's time zone: its local days."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, kw_only=True)
class DatadisConfig:
    """The manager's Datadis account and when the daily sync runs."""

    timezone: str
    username: str
    password: str
    url: str
    # Local time of day the daily sync starts, and over how many minutes it spreads members.
    sync_time: str
    spread_minutes: int
    history_months: int


@dataclass(frozen=True, kw_only=True)
class HttpsConfig:
    """The API's HTTPS listener: its port and its certificate chain and key."""

    port: int
    certfile: Path
    keyfile: Path


@dataclass(frozen=True, kw_only=True)
class DisplayConfig:
    """The public display: how often its figures are computed, and the manager's CO2 factor."""

    refresh_s: int = DEFAULT_DISPLAY_REFRESH_S
    # kg CO2-eq per kWh the manager states; None: REE's of the year (public.emissions).
    emission_factor_kg_kwh: float | None = None


@dataclass(frozen=True, kw_only=True)
class Config:
    """The validated configuration of the service."""

    community_id: str
    database_url: str
    http_host: str
    # This replica among several on one database (``replicas.py``): the part of its MQTT client
    # id that stays the same across its restarts, unlike the others'. None: the host's name.
    replica_name: str | None
    # Plain HTTP: the add-on's ingress port (only for the Supervisor's ingress proxy when
    # ``ingress_proxy`` names it), or the API on a trusted network.
    http_port: int
    ingress_proxy: str | None
    # HTTPS for homes and other systems, with this certificate chain and key; None: none.
    https: HttpsConfig | None
    broker: BrokerConfig | None
    topic_prefix: str
    members: MembersConfig
    results: ResultsConfig
    # None: Datadis is not used (no NIF and password given).
    datadis: DatadisConfig | None
    log_level: str
    display: DisplayConfig = field(default_factory=DisplayConfig)
    # Seconds before a webhook delivery that failed is tried again (then twice as long each time).
    webhook_retry_s: int = DEFAULT_WEBHOOK_RETRY_S
    # Where the manager copies an emoncms server's files to import them (``emoncms/files.py``).
    emoncms_dir: Path = Path(DEFAULT_EMONCMS_DIR)
    # Days of raw readings kept (their hourly and daily sums are kept for ever); 0: all.
    raw_readings_days: int = 0


def load_config(path: Path | None, environ: Mapping[str, str]) -> Config:
    """Read the file (if any), apply the environment over it, validate, and return the result.

    Raises ConfigError with the offending key and the reason.
    """
    raw: dict[str, Any] = _read_file(path) if path is not None else {}
    origin = {key: f"key '{key}'" for key in raw}
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != f"{ENV_PREFIX}CONFIG":
            key = name.removeprefix(ENV_PREFIX).lower()
            raw[key] = value
            origin[key] = f"environment variable {name}"
    # Add-on options leave optional strings empty (or blank) rather than absent.
    raw = {key: value for key, value in raw.items() if not _blank(value)}
    try:
        options = _SCHEMA(raw)
    except vol.MultipleInvalid as err:
        source = f" ({path})" if path is not None else ""
        reasons = "; ".join(_describe(error, origin) for error in err.errors)
        raise ConfigError(f"invalid configuration{source}: {reasons}") from err
    return _build(options)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read configuration file {path}: {err.strerror}") from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"configuration file {path} is not valid {_format(path)}: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a mapping of keys to values")
    return data


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"


def _describe(error: vol.Invalid, origin: dict[str, str]) -> str:
    key = str(error.path[0]) if error.path else ""
    where = origin.get(key, f"key '{key}'")
    if error.error_message == "extra keys not allowed":
        return f"unknown {where}"
    if isinstance(error, vol.InclusiveInvalid):
        return error.error_message
    return f"{where}: {error.error_message}"


def _build(options: dict[str, Any]) -> Config:
    url: str = options["database_url"]
    broker = None
    if "mqtt_host" in options:
        ca_file = options.get("mqtt_ca_file")
        broker = BrokerConfig(
            host=options["mqtt_host"],
            port=options["mqtt_port"],
            tls=options["mqtt_tls"],
            ca_file=Path(ca_file) if ca_file else None,
            username=options.get("mqtt_username"),
            password=options.get("mqtt_password"),
        )
    https = None
    if "api_certfile" in options:
        https = HttpsConfig(
            port=options.get("https_port", DEFAULT_HTTPS_PORT),
            certfile=Path(options["api_certfile"]),
            keyfile=Path(options["api_keyfile"]),
        )
    elif "https_port" in options:
        raise ConfigError("invalid configuration: https_port needs api_certfile and api_keyfile")
    if https is not None and https.port == options["http_port"]:
        raise ConfigError(
            "invalid configuration: https_port and http_port must differ "
            "(the ingress proxy speaks plain HTTP)"
        )
    prices = None
    if "import_price_eur_kwh" in options:
        prices = (options["import_price_eur_kwh"], options["surplus_price_eur_kwh"])
    datadis = None
    if "datadis_username" in options:
        datadis = DatadisConfig(
            timezone=options["timezone"],
            username=options["datadis_username"],
            password=options["datadis_password"],
            url=options["datadis_url"],
            sync_time=options["datadis_sync_time"],
            spread_minutes=options["datadis_spread_minutes"],
            history_months=options["datadis_history_months"],
        )
    topic_prefix = options.get("topic_prefix") or f"ioe/v1/{options['community_id']}"
    if options["broker_login_community"] and topic_prefix != f"ioe/v1/{options['community_id']}":
        # Every community at the same depth of one root: none's topics inside another's.
        raise ConfigError(
            "invalid configuration: with broker_login_community, topic_prefix must be "
            "ioe/v1/<community_id> (communities sharing a broker must not share topics)"
        )
    return Config(
        community_id=options["community_id"],
        database_url=url,
        http_host=options["http_host"],
        replica_name=options.get("replica_name"),
        http_port=options["http_port"],
        ingress_proxy=options.get("ingress_proxy"),
        https=https,
        broker=broker,
        topic_prefix=topic_prefix,
        members=MembersConfig(
            community_id=options["community_id"],
            community_name=options.get("community_name"),
            topic_prefix=topic_prefix,
            public_broker_host=options.get("public_broker_host") or options.get("mqtt_host"),
            public_broker_port=options.get("public_broker_port") or options["mqtt_port"],
            public_api_url=options.get("public_api_url"),
            broker_ca_file=None if broker is None else broker.ca_file,
            accounts=_accounts(options, broker, topic_prefix),
            quota_rows=options["member_quota_rows"],
            batches_per_s=options["member_batches_per_s"],
        ),
        results=ResultsConfig(
            community_name=options.get("community_name"),
            timezone=options["timezone"],
            agreement_min_months=options["agreement_min_months"],
            prices=prices,
            signal_threshold_w=options["signal_threshold_w"],
            plant_site=(
                (options["plant_latitude"], options["plant_longitude"], options["plant_altitude_m"])
                if "plant_latitude" in options
                else None
            ),
            discovery_prefix=options["discovery_prefix"] if options["mqtt_discovery"] else None,
            language=options["language"],
        ),
        datadis=datadis,
        raw_readings_days=options["raw_readings_days"],
        log_level=options["log_level"],
        display=DisplayConfig(
            refresh_s=options["display_refresh_s"],
            emission_factor_kg_kwh=options.get("display_emission_factor"),
        ),
        webhook_retry_s=options["webhook_retry_s"],
        emoncms_dir=Path(options["emoncms_dir"]),
    )


def _accounts(
    options: dict[str, Any], broker: BrokerConfig | None, topic_prefix: str
) -> BrokerAccountsConfig:
    files_dir = options.get("broker_files_dir")
    pid_file = options.get("mosquitto_pid_file")
    full_access = tuple(options["broker_full_access"])
    service_login = None
    if broker is not None and broker.username:
        full_access = (broker.username, *full_access)
        if broker.password:
            service_login = (broker.username, broker.password)
    return BrokerAccountsConfig(
        files_dir=Path(files_dir) if files_dir else None,
        topic_prefix=topic_prefix,
        full_access=full_access,
        service_login=service_login,
        mosquitto_pid_file=Path(pid_file) if pid_file else None,
        logins=Logins(
            community_id=options["community_id"],
            with_community=options["broker_login_community"],
        ),
    )
