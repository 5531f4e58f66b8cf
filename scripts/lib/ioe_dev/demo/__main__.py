"""``scripts/demo``: run a working community on this machine.

It starts Mosquitto (TLS, password logins), the aggregator and a real Home Assistant with the
integration set up, compares sharing agreements on a year of synthetic community data (first
run only), prints where to open it all, and runs until Ctrl-C. ``--check`` starts the
same thing on free ports, verifies that every part answers, stops it and exits 0 (1 on failure).
State (certificates, passwords, databases, HA's configuration) lives in the state directory and
is reused by the next run.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, astuple, dataclass
from datetime import datetime
import json
import os
from pathlib import Path
import secrets
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any
import urllib.error
import urllib.request
from zoneinfo import ZoneInfo

import yaml

from ioe_aggregator.members.join_code import decode
from ioe_aggregator.sharing.calendar import DEFAULT_TZ
from ioe_dev.demo import automations, community, flows, interop, public
from ioe_dev.homeassistant_api import HomeAssistantApi, HomeAssistantApiError, Login
from ioe_dev.mosquitto import Broker, broker_certificate, start_broker, start_plain_broker
from ioe_dev.nodered import NodeRed
from ioe_dev.processes import Service, ServiceError, free_port, port_is_free
from ioe_dev.simulated_home import (
    BATTERY_KWH,
    BATTERY_MAX_W,
    BATTERY_MIN_SOC,
    CHARGER_UNIT,
    EV_MAX_CURRENT_A,
    INVERTER_UNIT,
)
from ioe_dev.synthetic import SYNTHETIC_SITE, SyntheticCommunity, cups, make_community, write_csv

REPO = Path(__file__).resolve().parents[4]
INTEGRATION = REPO / "custom_components" / "ioe_community"
HA_CONFIGURATION = Path(__file__).with_name("configuration.yaml")
COMMUNITY_ID = "demo"
COMMUNITY_NAME = "Comunidad Energética Demo"
AGGREGATOR_USER = "ioe-aggregator"
HOME = {"name": "Casa demo", "cups": "ES0021000000000001RK"}
# The manager's Datadis account, on the fake Datadis (ioe_dev.fake_datadis).
DATADIS_MANAGER = "G87654321"
# The control centre's admin in the demo (a password user: the demo has no ingress).
MANAGER = "gestora"
HA_START_TIMEOUT_S = 300
# What a household makes in the UI (Settings → Automations, Helpers) is kept by these; an
# include is no plain YAML, so it is written here rather than in configuration.yaml.
HOUSEHOLD_UI = """
automation: !include automations.yaml
input_boolean:
input_datetime:
"""
DEMO_MEMBERS = 10
# The simulated home's devices (ioe_dev.simulated_home), as a household adds them.
DEMO_DEVICES = (
    {"profile": "eastron_sdm630", "role": "grid_meter", "unit": 1, "scan_interval": 5},
    {"profile": "huawei_sun2000", "role": "pv", "unit": 2, "scan_interval": 5},
    {"profile": "keba_p30", "role": "ev_charger", "unit": 3, "scan_interval": 5},
    # A SolarEdge inverter with its meter (export positive: read the other way round).
    {"profile": "sunspec", "role": "pv", "unit": 4, "scan_interval": 5},
)
# The balcony panel's Tasmota meter (a net counter) on the home's own MQTT broker: the
# answers to the MQTT meter flow's steps.
DEMO_MQTT_METER = (
    {"format": "tasmota", "topic": "balcon", "role": "pv"},
    {"counter": "net", "reverse_power": False},
)
# The demo home is the community's first member; the plant is metered at the second one's site.
HOME_MEMBER = 0
# The household card on the home's dashboard (dashboard.COMMUNITY_CARD of the integration).
HOUSEHOLD_CARD = "custom:ioe-community-card"
PLANT_MEMBER = 1


@dataclass(frozen=True, kw_only=True)
class Ports:
    """Where each part listens."""

    home_assistant: int
    aggregator: int
    aggregator_https: int
    broker: int
    devices: int
    datadis: int
    home_broker: int
    node_red: int


class DemoError(RuntimeError):
    """A part of the demo did not come up; the message says which and why."""


def _secrets(state: Path) -> dict[str, str]:
    """Passwords made on the first run and kept in the state directory."""
    path = state / "secrets.json"
    values = dict(json.loads(path.read_text())) if path.exists() else {}
    made = {
        "ha_password": lambda: secrets.token_urlsafe(9),
        "aggregator_mqtt_password": lambda: secrets.token_urlsafe(24),
        # A part added since the state directory was made gets its secret now.
        "datadis_password": lambda: secrets.token_urlsafe(12),
        "manager_password": lambda: secrets.token_urlsafe(12),
        "node_red_credential_secret": lambda: secrets.token_urlsafe(24),
    }
    if values.keys() >= made.keys():
        return values
    values = {key: values.get(key) or make() for key, make in made.items()}
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def _aggregator_config(state: Path, ports: Ports, values: dict[str, str]) -> Path:
    """Write the aggregator's configuration: the broker's files are generated from its registry."""
    directory = state / "aggregator"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    # Homes reach the API over HTTPS with the broker's certificate (localhost, the same CA).
    certificate = broker_certificate(state / "broker")
    config.write_text(
        yaml.safe_dump(
            {
                "community_id": COMMUNITY_ID,
                "community_name": COMMUNITY_NAME,
                "database_url": f"sqlite:///{directory / 'ioe-aggregator.db'}",
                "http_host": "127.0.0.1",
                "http_port": ports.aggregator,
                "https_port": ports.aggregator_https,
                "api_certfile": str(certificate.cert_file),
                "api_keyfile": str(certificate.key_file),
                "public_api_url": f"https://localhost:{ports.aggregator_https}",
                "mqtt_host": "127.0.0.1",
                "mqtt_port": ports.broker,
                "mqtt_ca_file": str(certificate.ca_file),
                "mqtt_username": AGGREGATOR_USER,
                "mqtt_password": values["aggregator_mqtt_password"],
                "broker_files_dir": str(state / "broker-files"),
                "broker_full_access": [],
                "mosquitto_pid_file": str(state / "broker" / "mosquitto.pid"),
                "import_price_eur_kwh": 0.15,
                "surplus_price_eur_kwh": 0.05,
                # Where the synthetic community's plant is: the forecast's clear sky.
                "plant_latitude": SYNTHETIC_SITE.latitude,
                "plant_longitude": SYNTHETIC_SITE.longitude,
                "plant_altitude_m": SYNTHETIC_SITE.altitude,
                # The fake Datadis; a short history and window, so that the demo shows a sync.
                "datadis_username": DATADIS_MANAGER,
                "datadis_password": values["datadis_password"],
                "datadis_url": f"http://127.0.0.1:{ports.datadis}",
                "datadis_history_months": 3,
                # Raw quarter hours kept 400 days (the demo's history is younger: nothing goes);
                # their hourly and daily sums for ever.
                "raw_readings_days": 400,
                "datadis_spread_minutes": 1,
                # An emoncms server's files, copied for a migration (``interop.emoncms_files``).
                "emoncms_dir": str(interop.emoncms_files(state / "emoncms")),
            }
        )
    )
    return config


def _start_aggregator(config: Path, port: int) -> Service:
    service = Service(
        "aggregator",
        [sys.executable, "-m", "ioe_aggregator", "serve", "--config", str(config)],
        config.parent / "aggregator.log",
    )
    service.start(port=port)
    return service


def _ports(state: Path, *, check: bool) -> Ports:
    """Return the ports of this state directory: chosen on its first run, the same ever after.

    Home Assistant keeps its HTTP port in its own storage, so a state directory cannot move.
    """
    path = state / "ports.json"
    chosen = json.loads(path.read_text()) if path.exists() else {}
    defaults = {
        "home_assistant": 8123,
        "aggregator": 8099,
        "aggregator_https": 8443,
        "broker": 8883,
        "devices": 1502,
        "datadis": 8097,
        "home_broker": 1883,
        "node_red": 1880,
    }
    for name, default in defaults.items():
        # A part added since the state directory was made gets its port now.
        chosen.setdefault(name, free_port() if check else default)
    ports = Ports(**chosen)
    path.write_text(json.dumps(asdict(ports)))
    return ports


def _write_ha_configuration(config_dir: Path, http_port: int | None) -> None:
    """Write configuration.yaml; with ``http_port`` once, for Home Assistant to import it."""
    configuration = yaml.safe_load(HA_CONFIGURATION.read_text())
    if http_port is not None:
        configuration["http"] = {"server_port": http_port}
    (config_dir / "configuration.yaml").write_text(
        "# Written by scripts/demo from scripts/lib/ioe_dev/demo/configuration.yaml.\n"
        + yaml.safe_dump(configuration, allow_unicode=True, sort_keys=False).replace(": null", ":")
        + HOUSEHOLD_UI
    )


def _prepare_ha_config(state: Path, port: int) -> tuple[Path, bool]:
    """Lay out HA's configuration directory; return it and whether the HTTP port is new."""
    config_dir = state / "ha-config"
    (config_dir / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config_dir / "custom_components" / "ioe_community"
    if not link.is_symlink():
        link.symlink_to(INTEGRATION, target_is_directory=True)
    first_start = not (config_dir / ".storage" / "http").exists()
    if not (automations_file := config_dir / "automations.yaml").exists():
        automations_file.write_text("[]\n")  # as Home Assistant's onboarding makes it
    _write_ha_configuration(config_dir, port if first_start else None)
    return config_dir, first_start


def _confirm_http_port(api: HomeAssistantApi, config_dir: Path) -> None:
    """Keep the imported HTTP settings, as a user confirms them, and drop them from YAML.

    Home Assistant imports YAML HTTP settings once, on trial, and reverts them after five
    minutes unless they are promoted.
    """
    # A port equal to Home Assistant's default leaves nothing pending.
    if api.websocket_command({"type": "http/config"})["pending"] is not None:
        api.websocket_command({"type": "http/config/promote"})
    _write_ha_configuration(config_dir, None)


def _wait_for_ha(api: HomeAssistantApi, service: Service) -> None:
    deadline = time.monotonic() + HA_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process is not None and service.process.poll() is not None:
            raise DemoError(f"Home Assistant exited early:\n{service.log_tail()}")
        if api.is_up():
            return
        time.sleep(1)
    raise DemoError(
        f"Home Assistant did not answer in {HA_START_TIMEOUT_S} s:\n{service.log_tail()}"
    )


def _ensure_home_entry(api: HomeAssistantApi, ports: Ports, join_code: str) -> dict[str, Any]:
    """Make the home entry (joined to the community) and its simulated devices, as in the UI.

    A demo made by an older version catches up as a user would: a home that has not joined its
    community joins it by reconfiguring, and every run offers each demo device (one the home
    already has aborts as already configured), so the home gains the devices added since.
    """
    entries = api.config_entries("ioe_community")
    if not entries:
        api.run_config_flow("ioe_community", [HOME, {"join_code": join_code}])
        entries = api.config_entries("ioe_community")
    elif not _community_entities(api, entries[0]["entry_id"]):
        # A home made by a demo from before homes joined: join it as its user would.
        api.reconfigure_entry(entries[0], [HOME, {"join_code": join_code}])
    entry = entries[0]
    have = {
        subentry["unique_id"]
        for subentry in api.websocket_command(
            {"type": "config_entries/subentries/list", "entry_id": entry["entry_id"]}
        )
    }
    for device in DEMO_DEVICES:
        if f"127.0.0.1:{ports.devices}/{device['unit']}" in have:
            continue  # a second grid meter would be asked about; a household adds it once
        kind = {"profile": device["profile"], "role": device["role"], "transport": "tcp"}
        address = {
            "host": "127.0.0.1",
            "port": ports.devices,
            "unit": device["unit"],
            "scan_interval": device["scan_interval"],
        }
        api.run_subentry_flow(entry["entry_id"], "modbus_device", [kind, address])
    # The home's own broker (a Mosquitto add-on, say), through Home Assistant's MQTT integration.
    if not api.config_entries("mqtt"):
        broker = {
            "broker": "127.0.0.1",
            "port": ports.home_broker,
            # The form's defaults: no certificates, plain TCP.
            "other_settings": {"set_client_cert": False, "set_ca_cert": "off", "transport": "tcp"},
        }
        api.run_config_flow("mqtt", [broker])
    api.run_subentry_flow(
        entry["entry_id"],
        "mqtt_meter",
        list(DEMO_MQTT_METER),
        allowed_aborts=("already_configured",),
    )
    return entry


def _check_device_sensors(api: HomeAssistantApi) -> list[str]:
    """Check that the simulated meter's, inverter's and charger's energy sensors hold numbers."""
    readings: dict[str, list[float]] = {
        "SDM630": [],
        "SUN2000": [],
        "KeContact P30": [],
        "SunSpec": [],
        "Tasmota": [],
    }
    for state in api.request("GET", "/api/states"):
        attributes = state["attributes"]
        if (
            attributes.get("device_class") != "energy"
            or attributes.get("unit_of_measurement") != "kWh"
        ):
            continue
        for model, values in readings.items():
            if model in attributes.get("friendly_name", ""):
                try:
                    values.append(float(state["state"]))
                except ValueError:
                    continue
    return [f"no energy reading from the simulated {m}" for m, v in readings.items() if not v]


def _aggregator_health(port: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/api/health"
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def _check_home(api: HomeAssistantApi) -> list[str]:
    """Check that the home's entry is loaded and its devices read; return what is wrong."""
    problems = []
    if "ioe_community" not in api.request("GET", "/api/config")["components"]:
        problems.append("Home Assistant has not loaded ioe_community")
    states = [entry["state"] for entry in api.config_entries("ioe_community")]
    if states != ["loaded"]:
        problems.append(f"ioe_community config entries: {states}")
    return problems + _check_device_sensors(api)


def _wait_for_home(api: HomeAssistantApi) -> None:
    """Wait until the home is loaded and reads its devices (adding one reloads the home)."""
    deadline = time.monotonic() + 60
    while (problems := _check_home(api)) and time.monotonic() < deadline:
        time.sleep(1)
    if problems:
        raise DemoError("; ".join(problems))


def _energy_preferences(model: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Return the Energy dashboard a household would set up from its home's energy model.

    Only quantities measured by one sensor, with its own sign, map onto the dashboard's
    sources (solar arrays, one each); Home Assistant counts battery power positive while
    discharging.
    """

    def one(quantity: str) -> str | None:
        terms = model.get(quantity, [])
        return terms[0]["entity_id"] if len(terms) == 1 and terms[0]["sign"] == 1 else None

    sources: list[dict[str, Any]] = []
    if one("grid_import_energy"):
        grid: dict[str, Any] = {
            "type": "grid",
            "stat_energy_from": one("grid_import_energy"),
            "stat_energy_to": one("grid_export_energy"),
            "cost_adjustment_day": 0,
        }
        if power := one("grid_power"):
            grid["power_config"] = {"stat_rate": power}
        sources.append(grid)
    # A solar source per PV counter (the demo home has three arrays); the power only with one.
    arrays = [term["entity_id"] for term in model.get("pv_energy", []) if term["sign"] == 1]
    for pv in arrays:
        solar: dict[str, Any] = {"type": "solar", "stat_energy_from": pv}
        if len(arrays) == 1 and (power := one("pv_power")):
            solar["stat_rate"] = power
        sources.append(solar)
    if (charged := one("battery_charge_energy")) and (
        discharged := one("battery_discharge_energy")
    ):
        battery: dict[str, Any] = {
            "type": "battery",
            "stat_energy_from": discharged,
            "stat_energy_to": charged,
        }
        if power := one("battery_power"):
            battery["power_config"] = {"stat_rate": power}  # positive while discharging
        sources.append(battery)
    devices = []
    if ev := one("ev_energy"):
        devices.append(
            {"stat_consumption": ev, **({"stat_rate": p} if (p := one("ev_power")) else {})}
        )
    return {"energy_sources": sources, "device_consumption": devices}


def _ensure_energy_dashboard(api: HomeAssistantApi, entry_id: str) -> None:
    """Set up the Energy dashboard from the home's energy model, once: it is then the user's."""
    try:
        api.websocket_command({"type": "energy/get_prefs"})
    except HomeAssistantApiError as err:
        if err.code != "not_found":
            raise
    else:
        return
    diagnostics = api.request("GET", f"/api/diagnostics/config_entry/{entry_id}")
    preferences = _energy_preferences(diagnostics["data"]["energy_model"])
    api.websocket_command({"type": "energy/save_prefs", **preferences})


def _check_energy_dashboard(api: HomeAssistantApi) -> list[str]:
    """Check that the Energy dashboard has the home's grid, solar and battery."""
    try:
        preferences = api.websocket_command({"type": "energy/get_prefs"})
    except HomeAssistantApiError as err:
        return [f"the Energy dashboard is not set up: {err}"]
    found = {source["type"] for source in preferences["energy_sources"]}
    if missing := {"grid", "solar", "battery"} - found:
        return [f"the Energy dashboard lacks {', '.join(sorted(missing))}"]
    return []


def _community_entities(api: HomeAssistantApi, entry_id: str) -> dict[str, str]:
    """Return {key: entity id} of the home's community sensors."""
    prefix = f"{entry_id}_{COMMUNITY_ID}_"
    return {
        entity["unique_id"].removeprefix(prefix): entity["entity_id"]
        for entity in api.websocket_command({"type": "config/entity_registry/list"})
        if entity["platform"] == "ioe_community" and entity["unique_id"].startswith(prefix)
    }


def _entity_of(api: HomeAssistantApi, unique_id: str) -> str | None:
    """Return the entity id of the home's entity known as ``unique_id``, if it has one."""
    return next(
        (
            str(entity["entity_id"])
            for entity in api.websocket_command({"type": "config/entity_registry/list"})
            if entity.get("platform") == "ioe_community" and entity.get("unique_id") == unique_id
        ),
        None,
    )


def _ensure_control(api: HomeAssistantApi, ports: Ports, entry_id: str) -> bool:
    """Give the home's battery and car to its local control once, as its household would.

    The Huawei's battery in *use my share*, the KEBA in *surplus*: chosen once; the household's
    later choices are kept (each mode comes back after a restart). Return whether it was
    given now.
    """
    subentries = api.websocket_command(
        {"type": "config_entries/subentries/list", "entry_id": entry_id}
    )
    if any(subentry["subentry_type"] == "control" for subentry in subentries):
        return False
    device = {subentry["unique_id"]: subentry["subentry_id"] for subentry in subentries}
    battery = device[f"127.0.0.1:{ports.devices}/{INVERTER_UNIT}"]
    charger = device[f"127.0.0.1:{ports.devices}/{CHARGER_UNIT}"]
    limits = {"contracted_power": 5.75, "headroom": 300, "meter_max_age": 30}
    api.run_subentry_flow(
        entry_id,
        "control",
        [
            {**limits, "battery": battery, "charger": charger},
            {
                "max_charge_power": BATTERY_MAX_W,
                "max_discharge_power": BATTERY_MAX_W,
                "soc_min": round(BATTERY_MIN_SOC * 100),
                "soc_max": 100,
                "capacity_kwh": BATTERY_KWH,
            },
            {
                "min_current": 6,
                "max_current": EV_MAX_CURRENT_A,
                "safe_paused": True,
                "phases": "1",
                "start_delay": 60,
                "stop_delay": 180,
            },
        ],
    )
    _wait_for_home(api)  # the home reloads with its control
    for owner, key, option in (
        (battery, "battery_mode", "use_my_share"),
        (charger, "charger_mode", "surplus"),
    ):
        deadline = time.monotonic() + 30
        while (select := _entity_of(api, f"{owner}_{key}")) is None:
            if time.monotonic() > deadline:
                raise DemoError(f"the home's control has no {key}")
            time.sleep(1)
        api.request(
            "POST",
            "/api/services/select/select_option",
            body={"entity_id": select, "option": option},
        )
    return True


def _check_control(api: HomeAssistantApi, entry_id: str) -> list[str]:
    """Check the control steers the devices (decisions, no fail-safe), shown on the dashboard."""
    subentries = api.websocket_command(
        {"type": "config_entries/subentries/list", "entry_id": entry_id}
    )
    if not any(subentry["subentry_type"] == "control" for subentry in subentries):
        return ["the home has no local control"]
    decisions = [
        entity
        for entity in api.websocket_command({"type": "config/entity_registry/list"})
        if entity.get("platform") == "ioe_community"
        and str(entity.get("unique_id", "")).endswith(("_battery_decision", "_charger_decision"))
    ]
    if len(decisions) != 2:
        return [f"the home's control shows {len(decisions)} decisions, not the battery's and car's"]
    failing = ("unknown", "unavailable", "disabled", "meter_stale", "device_unreachable")
    deadline = time.monotonic() + 60
    while True:
        states = {
            entity["entity_id"]: api.request("GET", f"/api/states/{entity['entity_id']}")["state"]
            for entity in decisions
        }
        if not any(state in failing for state in states.values()):
            break
        if time.monotonic() > deadline:
            return [f"the home's control does not steer its devices: {states}"]
        time.sleep(1)
    if (dashboard := _community_dashboard(api)) is None:
        return ["the home has no community dashboard"]
    config = json.dumps(api.websocket_command({"type": "lovelace/config", "url_path": dashboard}))
    if missing := [entity_id for entity_id in states if entity_id not in config]:
        return [f"the {dashboard} dashboard does not show {', '.join(missing)}"]
    return []


def _community_dashboard(api: HomeAssistantApi) -> str | None:
    """Return the address of the home's "Mi comunidad" dashboard, if it has one."""
    panels = api.websocket_command({"type": "get_panels"})
    return next((path for path in panels if str(path).startswith("comunidad-")), None)


def _ensure_community_dashboard(api: HomeAssistantApi, entry_id: str, *, again: bool) -> None:
    """Make the home's "Mi comunidad" dashboard, as its household would: in its options.

    Made once, and ``again`` when the home gained something it shows (its local control) or
    when an earlier version of the demo made it (it has no household card).
    """
    dashboard = _community_dashboard(api)
    if dashboard is not None and not again:
        config = api.websocket_command({"type": "lovelace/config", "url_path": dashboard})
        again = not any(card.get("type") == HOUSEHOLD_CARD for card in _cards(config))
    if again or dashboard is None:
        api.run_options_flow(entry_id, [{"next_step_id": "dashboard"}, {}])
        _wait_for_home(api)  # a changed option reloads the home: its meters report again


def _check_home_share(api: HomeAssistantApi, entry_id: str) -> list[str]:
    """Check the home shows the coefficient the community sent it: its dashboard's card does."""
    if (dashboard := _community_dashboard(api)) is None:
        return ["the home has no community dashboard"]
    config = api.websocket_command({"type": "lovelace/config", "url_path": dashboard})
    coefficient = _community_entities(api, entry_id).get("coefficient_now")
    if coefficient:
        # The household card shows the membership device the coefficient is on.
        device = api.websocket_command(
            {"type": "config/entity_registry/get", "entity_id": coefficient}
        )["device_id"]
        homes = [card.get("homes") for card in _cards(config)]
        if [device] not in homes:
            return [f"the {dashboard} dashboard has no household card for {coefficient}'s home"]
    deadline = time.monotonic() + 30
    while coefficient:
        state = api.request("GET", f"/api/states/{coefficient}")["state"]
        try:
            if float(state) > 0:
                return []
        except ValueError:
            pass
        if time.monotonic() > deadline:
            return [f"the home's coefficient is {state!r}: no results from the community"]
        time.sleep(1)
    return ["the home has no community sensors"]


def _cards(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the cards of a dashboard's configuration, those in stacks too."""
    found = []
    pending = [card for view in config.get("views", []) for card in view.get("cards", [])]
    while pending:
        card = pending.pop()
        found.append(card)
        pending.extend(card.get("cards", []))
    return found


def _set_up_home(
    api: HomeAssistantApi,
    ports: Ports,
    run: tuple[Path, dict[str, str], list[Service]],
    config_dir: Path,
    entry_id: str,
) -> NodeRed | None:
    """Do what the household does once its home is in: dashboards, control, automations.

    ``run``: the demo's state directory, secrets and services. Return the Node-RED started
    (None where it is not installed).
    """
    _ensure_energy_dashboard(api, entry_id)
    controlled = _ensure_control(api, ports, entry_id)
    _ensure_community_dashboard(api, entry_id, again=controlled)
    # The automations it would make: one from a blueprint, a Node-RED flow.
    shares = _community_entities(api, entry_id)
    automations.ensure_blueprint_automation(
        api,
        config_dir,
        shares["unused_share"],
        _entity_of(api, f"{entry_id}_tariff_period") or "",
    )
    state, values, services = run
    return flows.start(
        api,
        state,
        ports.node_red,
        values["node_red_credential_secret"],
        services,
        forecast=shares["share_forecast"],
        reserve=_reserve(api),
    )


def _reserve(api: HomeAssistantApi) -> str:
    """Return the entity id of the home's battery reserve (the local control's)."""
    return next(
        str(entity["entity_id"])
        for entity in api.websocket_command({"type": "config/entity_registry/list"})
        if entity.get("platform") == "ioe_community"
        and str(entity.get("unique_id")).endswith("_reserve_soc")
    )


def _check_forecast(api: HomeAssistantApi, entry_id: str) -> list[str]:
    """Check the forecast of the home's share reached it: 36 hours, hour by hour.

    The aggregator publishes it with its first results once the simulated homes' fortnight of
    the plant is in: within a few minutes of the start.
    """
    forecast = _community_entities(api, entry_id).get("share_forecast")
    if forecast is None:
        return ["the home has no forecast of its share"]
    deadline = time.monotonic() + 300
    while True:
        hours = api.request("GET", f"/api/states/{forecast}")["attributes"].get("detailedHourly")
        if hours and any(hour["pv_estimate"] > 0 for hour in hours):
            return []
        if time.monotonic() > deadline:
            return [f"{forecast} has no forecast with sun in it: {hours!r}"]
        time.sleep(5)


def _check_distributor(api: HomeAssistantApi, config: Path, home: str) -> list[str]:
    """Check the home's supply was synced from the fake Datadis and imported as statistics."""
    try:
        status = community.datadis_synced(config, home)
    except community.CommunityError as err:
        return [f"Datadis: {err}"]
    answer = api.request(
        "POST", "/api/services/ioe_community/import_distributor_history?return_response", body={}
    )
    hours = answer.get("service_response", {}).get("hours_written", {})
    if not hours.get("import"):
        return [f"the home imported no distributor history ({answer}); Datadis status: {status}"]
    return []


def _device_powers(api: HomeAssistantApi, entry_id: str) -> dict[str, float]:
    """Return the power each of the home's devices reads now, by ``<title>/<value key>``."""
    subentries = {
        subentry["subentry_id"]: subentry["title"]
        for subentry in api.websocket_command(
            {"type": "config_entries/subentries/list", "entry_id": entry_id}
        )
    }
    states = {state["entity_id"]: state["state"] for state in api.request("GET", "/api/states")}
    powers = {}
    for entity in api.websocket_command({"type": "config/entity_registry/list"}):
        subentry, _, key = str(entity.get("unique_id", "")).partition("_")
        if subentry in subentries and key.endswith("power"):
            try:
                powers[f"{subentries[subentry]}/{key}"] = float(states[entity["entity_id"]])
            except KeyError, ValueError:
                continue
    return powers


def _power_of(powers: dict[str, float], device: str, key: str) -> float | None:
    """Return the power ``key`` of the device whose title starts with ``device``."""
    return next(
        (w for name, w in powers.items() if name.startswith(device) and name.endswith(key)), None
    )


def _check_meter_signs(api: HomeAssistantApi, entry_id: str) -> list[str]:
    """Check SolarEdge's export-positive meter reads as the grid meter does, import positive.

    The two are read apart, and the home's control keeps the grid near zero: a reading that
    crosses zero between them disagrees once in a while. A reversed sign disagrees every time.
    """
    deadline = time.monotonic() + 60
    disagreeing: list[tuple[float, float]] = []
    while True:
        powers = _device_powers(api, entry_id)
        grid = _power_of(powers, "Eastron SDM630", "/power")
        meter = _power_of(powers, "SunSpec", "/meter_power")
        if grid is not None and meter is not None and min(abs(grid), abs(meter)) > 5:
            if (grid > 0) == (meter > 0):
                return []
            disagreeing.append((meter, grid))
        if time.monotonic() > deadline:
            if disagreeing:
                meter, grid = disagreeing[-1]
                return [
                    f"the SolarEdge meter reads {meter} W while the grid meter reads {grid} W "
                    f"(opposite signs {len(disagreeing)} times, never the same)"
                ]
            return [f"no grid power from both the grid meter and the SolarEdge meter: {powers}"]
        time.sleep(1)


def _verify(api: HomeAssistantApi, ports: Ports, report: Path) -> list[str]:
    """Check every part as a user would meet it; return what is wrong."""
    problems = []
    schemes = json.loads((report.parent / "report.json").read_text())["schemes"]
    if "optimized-static" not in schemes or "<svg" not in report.read_text():
        problems.append(f"the sharing report in {report.parent} is incomplete")
    if "<html" not in api.request("GET", "/").lower():
        problems.append("Home Assistant does not serve its frontend")
    problems.extend(_check_home(api))
    problems.extend(_check_energy_dashboard(api))
    deadline = time.monotonic() + 30
    while True:
        try:
            health = _aggregator_health(ports.aggregator)
        except (urllib.error.URLError, OSError) as err:
            health = {"status": f"unreachable: {err}"}
        if health.get("status") == "ok" and health["broker"]["status"] == "connected":
            break
        if time.monotonic() > deadline:
            problems.append(f"aggregator health: {health}")
            break
        time.sleep(0.5)
    return problems


def _start_community(
    state: Path,
    ports: Ports,
    values: dict[str, str],
    services: list[Service],
    synthetic: SyntheticCommunity,
) -> tuple[Broker, community.Credentials, Path]:
    """Start the broker on the aggregator's generated files, register, start the aggregator.

    The members are registered and linked to the fake Datadis before the aggregator starts, so
    that its first sync (when it starts) has them.
    """
    config = _aggregator_config(state, ports, values)
    # Mosquitto reads only the logins and access list the aggregator generates.
    community.write_broker_files(config)
    broker = start_broker(state / "broker", ports.broker, include_dir=state / "broker-files")
    services.append(broker.service)
    credentials = community.register(
        config,
        state / "aggregator",
        synthetic,
        plant_at=synthetic.members[PLANT_MEMBER].member_id,
    )
    community.ensure_manager(config, MANAGER, values["manager_password"])
    datadis_state = state / "datadis" / "state.json"
    community.write_datadis_state(
        datadis_state, synthetic, (DATADIS_MANAGER, values["datadis_password"])
    )
    datadis = Service(
        "fake-datadis",
        [sys.executable, "-m", "ioe_dev.fake_datadis", "--port", str(ports.datadis),
         "--state", str(datadis_state)],
        state / "datadis" / "fake-datadis.log",
    )  # fmt: skip
    datadis.start(port=ports.datadis)
    services.append(datadis)
    community.link_datadis(config, synthetic)
    services.append(_start_aggregator(config, ports.aggregator))
    return broker, credentials, config


def _check_results(
    ports: Ports, credentials: community.Credentials, home: str, simulated: str
) -> list[str]:
    """Publish the results once a simulated member's day is in; check the home's own."""
    base = f"http://127.0.0.1:{ports.aggregator}"
    try:
        published = community.publish_when_sent(base, credentials, simulated)
        results = community.member_results(base, credentials, home)
    except (urllib.error.URLError, OSError, community.CommunityError) as err:
        return [f"results: {err}"]
    problems = []
    if published["members"] != DEMO_MEMBERS or published["state"]["members_total"] != DEMO_MEMBERS:
        problems.append(f"results were published for {published['members']} members")
    if results["scheme"] != community.AGREEMENT_SCHEME or results["coefficient_now"] <= 0:
        problems.append(f"no agreement in force in the results: {results}")
    return problems


# Every task the demo's aggregator runs, which its health must show running.
AGGREGATOR_TASKS = {
    "ingest",
    "broker",
    "replicas",
    "results",
    "comparisons",
    "failed-logins",
    "webhooks",
    "datadis",
    "retention",
}


def _check_hardening(ports: Ports, credentials: community.Credentials, member: str) -> list[str]:
    """Send a poisoned batch as a member over HTTPS; check it is refused and nothing stops.

    Its live report is dated 13/2026, which once stored the batch and ended the only writer
    task: now it is refused before anything is stored, counted, and the service stays healthy.
    """
    try:
        protocol, status, refused = community.send_poisoned_batch(credentials.join_codes[member])
        health = _aggregator_health(ports.aggregator)
    except (urllib.error.URLError, OSError) as err:
        return [f"hardening: {err}"]
    problems = []
    if protocol != "TLSv1.3":
        problems.append(f"the aggregator's HTTPS listener negotiated {protocol}, not TLS 1.3")
    if (status, refused) != (400, "time"):
        problems.append(f"a poisoned batch was answered {status} {refused}, not 400 time")
    running = {name for name, task in health["tasks"].items() if task["running"]}
    if health["status"] != "ok" or running != AGGREGATOR_TASKS:
        problems.append(f"after a poisoned batch the aggregator's health is {health}")
    elif not health["ingest"]["refused"].get("time"):
        problems.append(f"the poisoned batch was not counted: {health['ingest']['refused']}")
    return problems


def _check_operations(
    ports: Ports, credentials: community.Credentials, config: Path, state: Path
) -> list[str]:
    """Scrape the aggregator's metrics as Prometheus would; back its database up while it runs."""
    base = f"http://127.0.0.1:{ports.aggregator}"
    try:
        status, text = _get_text(f"{base}/api/v1/metrics", credentials.admin_token)
        made = community.back_up(config, state / "backups" / "ioe-aggregator.db")
    except (urllib.error.URLError, OSError, community.CommunityError) as err:
        return [f"operations (metrics, backup): {err}"]
    problems = []
    if status != 200 or "\nioe_aggregator_leader 1\n" not in text:
        problems.append(f"the aggregator's metrics answered {status}: {text[:200]}")
    elif "\nioe_aggregator_readings_kept_from_timestamp_seconds " not in text:
        problems.append("the metrics do not say where the raw readings begin (raw_readings_days)")
    elif "\nioe_aggregator_broker_messages_waiting " not in text:
        problems.append("the metrics do not say how many broker messages wait to be read")
    if made["readings"] == 0:
        problems.append(f"the aggregator's backup holds no readings: {made}")
    return problems


def _get_text(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local
        return response.status, response.read().decode()


def _check_control_centre(ports: Ports, password: str) -> list[str]:
    """Sign in to the control centre as its admin, as the welcome tells the manager to."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.aggregator}/api/v1/session",
        data=json.dumps({"username": MANAGER, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            session = json.load(response)
    except (urllib.error.URLError, OSError) as err:
        return [f"control centre: signing in as {MANAGER}: {err}"]
    if session["user"]["role"] != "admin":
        return [f"control centre: {MANAGER} signed in as {session['user']['role']}, not admin"]
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports.aggregator}/", timeout=30
        ) as response:
            shell = response.read().decode()
    except (urllib.error.URLError, OSError) as err:
        return [f"control centre: its page: {err}"]
    if 'type="module"' not in shell:
        return ["control centre: / is not the control centre's page"]
    return []


def _open_portal_and_display(ports: Ports, credentials: community.Credentials) -> public.PortalLink:
    """Give a simulated member a link to the portal, switch the public display on; check both.

    The link signs in to the member's own data only; the display shows the community's figures.
    The link is on the plain-HTTP address: the browser that opens it is on this machine (the
    portal takes a link only over TLS or from the machine itself).
    """
    base = f"http://localhost:{ports.aggregator}"
    try:
        link = public.issue_portal_link(base, credentials.admin_token)
        public.show_display(base, credentials.admin_token)
        problems = public.check_portal(base, link) or public.check_display(base)
    except (urllib.error.URLError, OSError, community.CommunityError) as err:
        problems = [f"portal and display: {err}"]
    if problems:
        raise DemoError("; ".join(problems))
    return link


def _check_interop(state: Path, ports: Ports, credentials: community.Credentials) -> str:
    """Check last month's billing export, Som Comunitats' contract, a webhook, an emoncms import.

    Return where the contract's key is kept.
    """
    base = f"http://127.0.0.1:{ports.aggregator}"
    kept = state / "aggregator" / "provider-key.txt"
    today = datetime.now(ZoneInfo(DEFAULT_TZ)).date()
    try:
        key = interop.kept_token(
            base, credentials.admin_token, kept, "provider", "Som Comunitats (demo)"
        )
        broker = interop.kept_token(
            base, credentials.admin_token, kept.with_name("broker-token.txt"), "broker", "EMQX"
        )
        member = decode(next(iter(credentials.join_codes.values())))
        problems = (
            interop.check_billing(
                base, credentials.admin_token, interop.last_month(today), DEMO_MEMBERS
            )
            or interop.check_provider(base, key, COMMUNITY_ID, today)
            or interop.check_webhooks(base, credentials.admin_token)
            or interop.check_emoncms(base, credentials.admin_token)
            or interop.check_broker_hook(base, broker, member)
        )
    except (urllib.error.URLError, OSError, community.CommunityError) as err:
        problems = [f"interconnection (billing, Som Comunitats, webhooks, emoncms, broker): {err}"]
    if problems:
        raise DemoError("; ".join(problems))
    return str(kept)


def _ensure_sharing_report(state: Path, synthetic: SyntheticCommunity) -> Path:
    """Make, once, a year of community data and the comparison a manager would run on it."""
    directory = state / "sharing"
    report = directory / "report" / "report.html"
    if report.exists():
        return report
    print("Generating a year of community data and comparing sharing agreements…", flush=True)
    # The plant's CAU: its site's CUPS, "A", and the installation number.
    plant_cau = f"{synthetic.members[PLANT_MEMBER].cups}A001"
    inputs = write_csv(synthetic, directory / "data")
    what_if = directory / "data" / "what-if.json"
    what_if.write_text(json.dumps(_what_if(synthetic), indent=2, ensure_ascii=False))
    result = subprocess.run(
        [
            sys.executable, "-m", "ioe_aggregator", "sharing", "compare",
            "--members", str(inputs["members"]), "--consumption", str(inputs["consumption"]),
            "--generation", str(inputs["generation"]), "--import-price", "0.15",
            "--surplus-price", "0.05", "--cau", plant_cau,
            # An assembly's decision: nobody below 30 % of its investment's share, against
            # sharing by contracted power, the most euros with nobody losing over a quarter.
            "--min-investment-factor", "0.3", "--in-force", "power",
            "--objective", "savings-no-loss", "--max-loss", "0.25",
            "--scenarios", str(what_if), "--out", str(report.parent),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise DemoError(f"sharing compare failed: {result.stderr}")
    return report


def _what_if(synthetic: SyntheticCommunity) -> list[dict[str, Any]]:
    """Return the questions an assembly asks before deciding: who joins, what to build, prices."""
    site = SYNTHETIC_SITE
    return [
        {"kind": "member-joins", "name": "La panadería se une", "member_id": "panaderia",
         "cups": cups(900), "annual_kwh": 9000, "contracted_power_kw": 9.9},
        {"kind": "member-leaves", "member_id": synthetic.members[-1].member_id},
        {"kind": "plant-grows", "name": "Paneles al oeste en el polideportivo",
         "added_kwp": round(synthetic.peak_kw / 2, 1), "plant_kwp": synthetic.peak_kw,
         "azimuth": 250, "tilt": 15, "latitude": site.latitude, "longitude": site.longitude,
         "altitude": site.altitude},
        {"kind": "battery", "capacity_kwh": 30, "power_kw": 15, "round_trip_efficiency": 0.9},
        {"kind": "prices", "name": "La luz sube un 30 %", "import_factor": 1.3},
    ]  # fmt: skip


def _print_welcome(
    ports: Ports,
    login: Login,
    state: Path,
    broker: Broker,
    report: Path,
    *,
    manager_password: str,
    portal_link: public.PortalLink,
    provider_key: str,
) -> None:
    print(
        f"""
IoE Community demo is running (state in {state}).

  Control centre   http://localhost:{ports.aggregator}/
                   user: {MANAGER}   password: {manager_password}
                   (the community manager's web app; in an add-on it opens from Home
                   Assistant's sidebar, where Home Assistant signs you in)

  Home Assistant   http://localhost:{ports.home_assistant}
                   user: {login.username}   password: {login.password}
                   (simulated meter, inverter + battery, EV charger: Modbus port {ports.devices};
                   the home's share of the community, now and the next 36 hours: the
                   "Comunidad" dashboard; an automation made from the blueprint "appliance
                   on my share" runs the dishwasher, see Settings → Automations)
  Member portal    {portal_link.url}
                   (the personal link of {portal_link.member}, a simulated member without Home
                   Assistant; or open http://localhost:{ports.aggregator}/portal and type the
                   code {portal_link.code}; a new link each start, valid {public.LINK_DAYS} days)
  Public display   http://localhost:{ports.aggregator}/display?kiosk=1 (a town hall's TV; switched
                   on in the control centre's Settings, with the logo; /display?embed=1 for a
                   web page, /api/public/v1/community the same figures as open data)
  Billing          http://localhost:{ports.aggregator}/#/data (Data → Billing: each member's month
                   per tariff period, with the surplus compensation, as CSV or JSON; the
                   same at /api/v1/billing/<YYYY-MM>, see docs/interop.md)
  Webhooks         http://localhost:{ports.aggregator}/#/settings (Settings → Webhooks: the
                   community's events, signed, to the addresses you give; docs/interop.md)
  emoncms import   http://localhost:{ports.aggregator}/#/data (Data → Import from emoncms: an
                   old IoE server's files in {state / "emoncms"}, a week of an emonPi home
                   half a year ago; "files copied to the add-on's folder")
  Som Comunitats   http://localhost:{ports.aggregator}/api/provider/ — the monitoring-provider
                   contract their platform reads (project "{COMMUNITY_ID}"; its apikey in
                   {provider_key})
  Cluster broker   http://localhost:{ports.aggregator}/api/v1/broker/authn and …/authz — who may
                   log in and what each login may do, as EMQX asks (docs/scale.md; the
                   broker's token in {state / "aggregator" / "broker-token.txt"})
  Node-RED         http://localhost:{ports.node_red}/ (where installed: the flow "battery
                   reserve on the forecast" of nodered/, connected to the Home Assistant above)
  Aggregator API   http://localhost:{ports.aggregator}/api/health
                   (10 members, agreement "Reparto por inversión"; admin token and the
                   members' join codes in {state / "aggregator" / "credentials.json"};
                   the demo home is m-0001, the other 9 are simulated homes, see
                   {state / "simulated-members.log"}; the health shows each task, the
                   ingest's last write and its refusals, such as the check's poisoned batch)
                   https://localhost:{ports.aggregator_https}/api/openapi.json — the API for
                   homes and other systems (TLS 1.3, or 1.2 with AEAD suites; see
                   docs/security.md)
  Operations       http://localhost:{ports.aggregator}/api/v1/metrics (Prometheus' format, with
                   the admin token); a backup taken while it runs is in
                   {state / "backups"} ("python -m ioe_aggregator backup --to FILE"; see
                   docs/operations.md; several replicas on PostgreSQL: docs/scale.md)
  Results (MQTT)   ioe/v1/{COMMUNITY_ID}/m/<member>/results and …/forecast,
                   ioe/v1/{COMMUNITY_ID}/community/#
  Datadis (FAKE)   http://localhost:{ports.datadis} — a local stand-in for Datadis serving demo
                   data (NIF {DATADIS_MANAGER}); the aggregator syncs it at start and daily:
                   scripts/in-env python -m ioe_aggregator datadis status \\
                     --config {state / "aggregator" / "config.yaml"}
                   (m-0010 has not authorised the manager: its status says so)
  MQTT broker      mqtts://localhost:{ports.broker} (CA: {broker.ca_file})
  Sharing report   file://{report}
                   (synthetic demo data: 10 members and a plant, one year)

Press Ctrl-C to stop everything.""",
        flush=True,
    )


def _start_simulations(
    state: Path, ports: Ports, synthetic: SyntheticCommunity, services: list[Service]
) -> None:
    """Start the home's broker and simulated devices, and the community's other members."""
    services.append(start_plain_broker(state / "home-broker", ports.home_broker))
    devices = Service(
        "simulated-devices",
        [
            sys.executable, "-m", "ioe_dev.simulated_home",
            "--port", str(ports.devices), "--mqtt-port", str(ports.home_broker),
            "--state-file", str(state / "simulated-devices.json"),
        ],
        state / "simulated-devices.log",
    )  # fmt: skip
    devices.start(port=ports.devices)
    services.append(devices)
    members = Service(
        "simulated-members",
        [
            sys.executable, "-m", "ioe_dev.simulated_member",
            "--credentials", str(state / "aggregator" / "credentials.json"),
            "--state", str(state / "members"),
            "--skip", synthetic.members[HOME_MEMBER].member_id,
            "--plant-at", synthetic.members[PLANT_MEMBER].member_id,
        ],
        state / "simulated-members.log",
    )  # fmt: skip
    members.start()
    services.append(members)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C, so that every way of stopping cleans up."""
    raise KeyboardInterrupt


def run(state: Path, *, check: bool) -> int:
    """Start the community, then verify it (``check``) or serve until interrupted."""
    state.mkdir(parents=True, exist_ok=True)
    ports = _ports(state, check=check)
    if busy := [port for port in astuple(ports) if not port_is_free(port)]:
        print(
            f"demo: port(s) {busy} already in use (another demo, or your own Home Assistant?). "
            f"Stop it, or run with another --state directory.",
            file=sys.stderr,
        )
        return 1
    values = _secrets(state)
    login = Login(name="Demo", username="demo", password=values["ha_password"], language="es")
    services: list[Service] = []
    # Explicitly, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print("Starting the MQTT broker, the aggregator and Home Assistant…", flush=True)
        synthetic = make_community(DEMO_MEMBERS)
        broker, credentials, aggregator_config = _start_community(
            state, ports, values, services, synthetic
        )
        _start_simulations(state, ports, synthetic, services)
        home = synthetic.members[HOME_MEMBER].member_id
        config_dir, new_http_port = _prepare_ha_config(state, ports.home_assistant)
        home_assistant = Service(
            "home-assistant",
            [sys.executable, "-m", "homeassistant", "--config", str(config_dir)],
            state / "home-assistant.log",
        )
        home_assistant.start()
        services.append(home_assistant)
        api = HomeAssistantApi(f"http://127.0.0.1:{ports.home_assistant}")
        _wait_for_ha(api, home_assistant)
        api.onboard(login)
        if new_http_port:
            _confirm_http_port(api, config_dir)
        entry = _ensure_home_entry(api, ports, credentials.join_codes[home])
        _wait_for_home(api)
        node_red = _set_up_home(
            api, ports, (state, values, services), config_dir, entry["entry_id"]
        )
        report = _ensure_sharing_report(state, synthetic)
        simulated = synthetic.members[PLANT_MEMBER].member_id
        if problems := (
            _verify(api, ports, report)
            or _check_meter_signs(api, entry["entry_id"])
            or _check_results(ports, credentials, home, simulated)
            or _check_home_share(api, entry["entry_id"])
            or _check_control(api, entry["entry_id"])
            or _check_forecast(api, entry["entry_id"])
            or automations.check_blueprint_automation(api)
            or flows.check(node_red, api, _reserve(api))
            or _check_distributor(api, aggregator_config, home)
            or _check_hardening(ports, credentials, home)
            or _check_operations(ports, credentials, aggregator_config, state)
            or _check_control_centre(ports, values["manager_password"])
        ):
            raise DemoError("; ".join(problems))
        portal_link = _open_portal_and_display(ports, credentials)
        provider = _check_interop(state, ports, credentials)
        if check:
            print(
                "Demo check passed: Home Assistant (ioe_community loaded, Modbus devices read, "
                "a SolarEdge meter read import-positive, a Tasmota net-counter meter over MQTT, "
                "Energy dashboard, the home joined with its share on its 'Mi comunidad' board, "
                "the forecast of its share, a blueprint's automation on, a Node-RED flow "
                "setting the battery reserve on the forecast, where Node-RED is installed), "
                "aggregator (10 members, 9 simulated homes sending through link/, an agreement "
                "in force, results published, the distributor's data synced from a fake "
                "Datadis and imported by the home over HTTPS as statistics, a poisoned batch "
                "refused with every task still running, its metrics scraped and its database "
                "backed up while it runs), broker on the generated files, "
                "sharing report, the control centre (its admin signed in), the member portal "
                "(a member's link signs in to their own data, another member's refused), the "
                "public display (the community's figures, nobody's own), last month's billing "
                "export (every member, per tariff period, the CSV), Som Comunitats' contract, a "
                "signed webhook, an old IoE server's emoncms files imported for a member and the "
                "broker hook a cluster broker asks (a member's home let in, a wrong password not)."
            )
            return 0
        _print_welcome(
            ports,
            login,
            state,
            broker,
            report,
            manager_password=values["manager_password"],
            portal_link=portal_link,
            provider_key=provider,
        )
        while all(s.process and s.process.poll() is None for s in services):
            time.sleep(0.5)
        for service in services:
            if service.process and service.process.poll() is not None:
                print(
                    f"{service.name} exited ({service.process.returncode}); see {service.log_file}"
                )
        return 1
    except KeyboardInterrupt:
        return 0
    except (DemoError, ServiceError, HomeAssistantApiError, OSError) as err:
        print(f"demo: {err}", file=sys.stderr)
        for service in services:
            print(
                f"--- {service.name} ({service.log_file}):\n{service.log_tail(15)}", file=sys.stderr
            )
        return 1
    finally:
        print("Stopping…", flush=True)
        for service in reversed(services):
            service.stop()


def main() -> int:
    """Parse the command line and run the demo."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="start, verify, stop; exit 0 if it all works"
    )
    parser.add_argument(
        "--state",
        type=Path,
        help=(
            "state directory (default: $IOE_DEMO_STATE, else .demo/community, or .demo/check "
            "with --check, so that a check never disturbs a running demo)"
        ),
    )
    args = parser.parse_args()
    state = args.state or Path(
        os.environ.get("IOE_DEMO_STATE", REPO / ".demo" / ("check" if args.check else "community"))
    )
    return run(state.resolve(), check=args.check)


if __name__ == "__main__":
    sys.exit(main())
