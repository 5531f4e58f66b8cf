"""Configuration precedence and the add-on's own options, checked against the service's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ioe_aggregator.config import ConfigError, load_config
from tests.conftest import ADDON

# One value of each add-on option type, as the Supervisor would write it to options.json.
EXAMPLE_BY_TYPE = {
    "str": "x",
    "password": "secret",
    "port": 1883,
    "bool": False,
    "url": "https://ioe.example.org",
    "int": 3,
    "float": 0.2,
}


def test_environment_overrides_file(tmp_path: Path) -> None:
    config_file = tmp_path / "options.json"
    config_file.write_text(json.dumps({"community_id": "file", "http_port": 8000, "mqtt_host": ""}))

    config = load_config(
        config_file, {"IOE_AGGREGATOR_HTTP_PORT": "9000", "IOE_AGGREGATOR_MQTT_TLS": "false"}
    )

    assert config.community_id == "file"
    assert config.http_port == 9000
    assert config.broker is None  # an empty add-on option means "not set"


def test_broker_settings(tmp_path: Path) -> None:
    config = load_config(
        None,
        {
            "IOE_AGGREGATOR_MQTT_HOST": "core-mosquitto",
            "IOE_AGGREGATOR_MQTT_PORT": "1883",
            "IOE_AGGREGATOR_MQTT_TLS": "false",
            "IOE_AGGREGATOR_MQTT_USERNAME": "addons",
            "IOE_AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )

    assert config.broker is not None
    assert (config.broker.host, config.broker.port, config.broker.tls) == (
        "core-mosquitto",
        1883,
        False,
    )
    assert config.broker.username == "addons"
    assert config.broker.ca_file is None
    assert config.database_url == f"sqlite:///{tmp_path}/x.db"


def test_unrelated_environment_is_ignored() -> None:
    config = load_config(None, {"IOE_DEVENV": "/var/cache", "PATH": "/bin"})
    assert config.community_id == "community"


def _addon_config() -> dict:
    return yaml.safe_load((ADDON / "config.yaml").read_text())


def test_add_on_defaults_are_accepted(tmp_path: Path) -> None:
    """What the Supervisor writes on first install must start the service."""
    options = tmp_path / "options.json"
    options.write_text(json.dumps(_addon_config()["options"]))
    config = load_config(options, {})
    assert config.community_id == "community"
    assert config.members.accounts.full_access == ("homeassistant", "addons")


@pytest.mark.parametrize("option", sorted(_addon_config()["schema"]))
def test_every_add_on_option_is_a_service_setting(tmp_path: Path, option: str) -> None:
    declared = _addon_config()["schema"][option]
    if isinstance(declared, list):  # a list of one type
        value: Any = [EXAMPLE_BY_TYPE[declared[0]]]
    else:
        value = {
            "database_url": f"sqlite:///{tmp_path}/x.db",
            "community_id": "demo",
            "log_level": "debug",
            "timezone": "Atlantic/Canary",
            "language": "en",
            "datadis_sync_time": "05:30",
            "public_api_url": "https://ioe.example.org:8443",
            "member_quota_rows": 20_000,
            "raw_readings_days": 400,
        }.get(option, EXAMPLE_BY_TYPE.get(declared.rstrip("?").split("(")[0]))
    # Options that only make sense together are given with their partner.
    partners = {
        "api_certfile": ("api_keyfile", "y"),
        "api_keyfile": ("api_certfile", "y"),
        "import_price_eur_kwh": ("surplus_price_eur_kwh", 0.05),
        "surplus_price_eur_kwh": ("import_price_eur_kwh", 0.15),
        "datadis_username": ("datadis_password", "secret"),
        "datadis_password": ("datadis_username", "B12345678"),
        "plant_latitude": ("plant_longitude", -3.7),
        "plant_longitude": ("plant_latitude", 40.4),
    }
    given = {option: value} | (dict([partners[option]]) if option in partners else {})
    options = tmp_path / "options.json"
    options.write_text(json.dumps(given))

    try:
        load_config(options, {})
    except ConfigError as err:
        pytest.fail(f"add-on option {option}={value!r} is refused by the service: {err}")


def test_a_postgresql_database_url_is_accepted() -> None:
    url = "postgresql://ioe:pw@db.example:5432/community"
    assert load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url", ["postgresql://", "mysql://ioe:s3cret@db/ioe", "/data/x.db"])
def test_a_wrong_database_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="expected sqlite:///") as refused:
        load_config(None, {"IOE_AGGREGATOR_DATABASE_URL": url})
    assert "s3cret" not in str(refused.value)


def test_an_api_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="api_certfile and api_keyfile go together"):
        load_config(None, {"IOE_AGGREGATOR_API_CERTFILE": "/ssl/fullchain.pem"})


def test_results_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="expected a time zone such as Europe/Madrid"):
        load_config(None, {"IOE_AGGREGATOR_TIMEZONE": "Mars/Olympus"})
    # Days are summed per UTC hour: a zone half an hour off would split its hours between days.
    with pytest.raises(ConfigError, match="offset from UTC is whole hours"):
        load_config(None, {"IOE_AGGREGATOR_TIMEZONE": "Asia/Kolkata"})
    with pytest.raises(ConfigError, match="import_price_eur_kwh and surplus_price_eur_kwh go"):
        load_config(None, {"IOE_AGGREGATOR_IMPORT_PRICE_EUR_KWH": "0.15"})
    config = load_config(None, {"IOE_AGGREGATOR_MQTT_DISCOVERY": "false"})
    assert config.results.discovery_prefix is None
    assert config.results.agreement_min_months == 4


def test_the_plants_site_is_given_whole_or_not_at_all() -> None:
    assert load_config(None, {}).results.plant_site is None
    sited = load_config(
        None,
        {"IOE_AGGREGATOR_PLANT_LATITUDE": "40.4", "IOE_AGGREGATOR_PLANT_LONGITUDE": "-3.7"},
    )
    assert sited.results.plant_site == (40.4, -3.7, 0.0)
    with pytest.raises(ConfigError, match="plant_latitude and plant_longitude go together"):
        load_config(None, {"IOE_AGGREGATOR_PLANT_LATITUDE": "40.4"})
    with pytest.raises(ConfigError, match="PLANT_LONGITUDE: value must be at most 180"):
        load_config(
            None,
            {"IOE_AGGREGATOR_PLANT_LATITUDE": "40.4", "IOE_AGGREGATOR_PLANT_LONGITUDE": "200"},
        )


def test_the_community_name_is_what_people_read() -> None:
    assert load_config(None, {}).results.community_name is None
    named = load_config(None, {"IOE_AGGREGATOR_COMMUNITY_NAME": "  Comunidad Los Molinos "})
    assert named.results.community_name == "Comunidad Los Molinos"
    # A name cleared to a space in the add-on's form is no name, not a refusal to start.
    blank = load_config(None, {"IOE_AGGREGATOR_COMMUNITY_NAME": "   "})
    assert blank.results.community_name is None
    with pytest.raises(ConfigError, match="expected a name of 1-60 characters"):
        load_config(None, {"IOE_AGGREGATOR_COMMUNITY_NAME": "x" * 61})


def test_datadis_settings() -> None:
    config = load_config(
        None,
        {
            "IOE_AGGREGATOR_DATADIS_USERNAME": " b12345678 ",
            "IOE_AGGREGATOR_DATADIS_PASSWORD": "secret",
            "IOE_AGGREGATOR_DATADIS_SYNC_TIME": "04:15",
        },
    )

    assert config.datadis is not None
    assert (config.datadis.username, config.datadis.url) == ("B12345678", "https://datadis.es")
    assert (config.datadis.sync_time, config.datadis.spread_minutes) == ("04:15", 120)
    assert config.datadis.history_months == 24
    assert load_config(None, {}).datadis is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DATADIS_USERNAME": "B12345678"}, "datadis_username and datadis_password go together"),
        ({"DATADIS_SYNC_TIME": "25:00"}, "expected a time of day as HH:MM"),
        ({"DATADIS_HISTORY_MONTHS": "36"}, "DATADIS_HISTORY_MONTHS"),
        ({"DATADIS_URL": "datadis.es"}, r"expected an http\(s\)://"),
    ],
)
def test_bad_datadis_settings(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, {f"IOE_AGGREGATOR_{key}": value for key, value in environ.items()})


def test_the_https_listener_is_its_own_port() -> None:
    certificate = {
        "IOE_AGGREGATOR_API_CERTFILE": "/ssl/fullchain.pem",
        "IOE_AGGREGATOR_API_KEYFILE": "/ssl/privkey.pem",
    }
    https = load_config(None, certificate).https
    assert https is not None
    assert (https.port, https.certfile) == (8443, Path("/ssl/fullchain.pem"))
    with pytest.raises(ConfigError, match="https_port and http_port must differ"):
        load_config(None, {**certificate, "IOE_AGGREGATOR_HTTPS_PORT": "8099"})
    with pytest.raises(ConfigError, match="https_port needs api_certfile and api_keyfile"):
        load_config(None, {"IOE_AGGREGATOR_HTTPS_PORT": "8443"})


def test_the_ingress_proxy_is_an_address() -> None:
    assert load_config(None, {"IOE_AGGREGATOR_INGRESS_PROXY": "172.30.32.2"}).ingress_proxy == (
        "172.30.32.2"
    )
    with pytest.raises(ConfigError, match="expected an IP address"):
        load_config(None, {"IOE_AGGREGATOR_INGRESS_PROXY": "supervisor"})


def test_member_logins_may_carry_the_community() -> None:
    environ = {"IOE_AGGREGATOR_COMMUNITY_ID": "molinos", "IOE_AGGREGATOR_MQTT_HOST": "broker"}
    plain = load_config(None, environ).members.accounts.logins
    assert (plain.with_community, plain.login_of("m-0001")) == (False, "m-0001")
    environ["IOE_AGGREGATOR_BROKER_LOGIN_COMMUNITY"] = "true"  # from a container's environment
    logins = load_config(None, environ).members.accounts.logins
    assert logins.login_of("m-0001") == "m-0001@molinos"
    assert [logins.member_of(login) for login in ("m-0001@molinos", "m-0001", "x@sol")] == [
        "m-0001",
        None,
        None,
    ]
    # Communities that share a broker must not share topics.
    for nested in ("ioe", "ioe/v1/sol/molinos", "coop/molinos"):
        environ["IOE_AGGREGATOR_TOPIC_PREFIX"] = nested
        with pytest.raises(ConfigError, match="must be ioe/v1/<community_id>"):
            load_config(None, environ)
    environ["IOE_AGGREGATOR_TOPIC_PREFIX"] = "ioe/v1/molinos"
    assert load_config(None, environ).topic_prefix == "ioe/v1/molinos"
