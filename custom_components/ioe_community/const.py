"""Constants of the IoE Community integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "ioe_community"
LOGGER = logging.getLogger(__package__)

CONF_CUPS: Final = "cups"
# The community the home joined: the join code's fields.
CONF_COMMUNITY: Final = "community"
# Its field naming the community as people read it (it follows the community's renames).
CONF_COMMUNITY_NAME: Final = "community_name"
CONF_JOIN_CODE: Final = "join_code"
# The random end of the link's MQTT client id, made when the home joins: kept apart from the
# join code's fields, and private (a member who knew the id could take the home's session).
CONF_LINK_CLIENT_SUFFIX: Final = "link_client_suffix"
# The household's word to move a membership that another installation uses to this home.
CONF_MOVE_MEMBERSHIP: Final = "move_membership"

SUBENTRY_MODBUS: Final = "modbus_device"
CONF_PROFILE: Final = "profile"
CONF_TRANSPORT: Final = "transport"
CONF_UNIT: Final = "unit"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
# The serial number the device's profile reads, kept to know the device under another address.
CONF_SERIAL_NUMBER: Final = "serial_number"
# The household's word that a device is a second grid meter of the home.
CONF_ANOTHER_GRID_METER: Final = "another_grid_meter"
CONF_ROLE: Final = "role"
# {model id (as text): address} of a SunSpec device's model chain, read when it is added.
CONF_SUNSPEC_MODELS: Final = "sunspec_models"
DEFAULT_SCAN_INTERVAL_S: Final = 10

SUBENTRY_MQTT: Final = "mqtt_meter"
SUBENTRY_ENTITIES: Final = "ha_entities"
CONF_FORMAT: Final = "format"
CONF_TOPIC: Final = "topic"
CONF_MAPPING: Final = "mapping"
CONF_KEYS: Final = "keys"
# The clamp, relay or list item of a multi-channel device that is this meter (absent: the
# device's only channel, or a three-phase device's phases together).
CONF_CHANNEL: Final = "channel"
# What a Tasmota meter's Total counts (mqtt_meter.CounterKind).
CONF_COUNTER: Final = "counter"
# The household's word that the device's power reads positive the other way round.
CONF_REVERSE_POWER: Final = "reverse_power"
# A meter that sends nothing for this long is unavailable (Tasmota reports every 5 minutes by
# default: three missed reports).
MQTT_SILENCE_LIMIT: Final = timedelta(minutes=15)
# How long the flow waits for a meter's first message: after asking it to report, and for
# a meter that cannot be asked (Tasmota's default TelePeriod is 300 s).
MQTT_FIRST_MESSAGE_TIMEOUT_S: Final = 15
MQTT_UNASKED_TIMEOUT_S: Final = 330
# What a device is to the home's energy model ("load": a circuit measured for its own sake,
# such as a heat pump on a meter's second clamp, which the balance already includes).
DEVICE_ROLES: Final = ("grid_meter", "pv", "battery", "ev_charger", "plant", "load")

# Local control of a battery and a charger: one subentry per home.
SUBENTRY_CONTROL: Final = "control"
CONF_CONTRACTED_POWER: Final = "contracted_power"  # W
CONF_HEADROOM: Final = "headroom"  # W
CONF_METER_MAX_AGE: Final = "meter_max_age"  # s
CONF_BATTERY: Final = "battery"  # the battery's subentry id
CONF_MAX_CHARGE_POWER: Final = "max_charge_power"  # W
CONF_MAX_DISCHARGE_POWER: Final = "max_discharge_power"  # W
CONF_SOC_MIN: Final = "soc_min"
CONF_SOC_MAX: Final = "soc_max"
CONF_CAPACITY_KWH: Final = "capacity_kwh"
CONF_CHARGER: Final = "charger"  # the charger's subentry id, or CHARGER_ENTITIES
CHARGER_ENTITIES: Final = "entities"  # a charger another integration controls
CONF_CHARGER_CURRENT: Final = "charger_current"  # its number entity (A)
CONF_CHARGER_SWITCH: Final = "charger_switch"  # its switch entity (charging on/off)
CONF_CHARGER_CONNECTED: Final = "charger_connected"  # its binary sensor: a car plugged in
CONF_CHARGER_POWER: Final = "charger_power"  # its power sensor
CONF_MIN_CURRENT: Final = "min_current"  # A
CONF_MAX_CURRENT: Final = "max_current"  # A
CONF_PHASES: Final = "phases"
CONF_SAFE_PAUSED: Final = "safe_paused"
CONF_START_DELAY: Final = "start_delay"  # s
CONF_STOP_DELAY: Final = "stop_delay"  # s
