"""Constants of the IoE Community integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "ioe_community"
LOGGER = logging.getLogger(__package__)

CONF_CUPS: Final = "cups"

SUBENTRY_MODBUS: Final = "modbus_device"
CONF_PROFILE: Final = "profile"
CONF_TRANSPORT: Final = "transport"
CONF_UNIT: Final = "unit"
CONF_SERIAL_PORT: Final = "serial_port"
CONF_BAUDRATE: Final = "baudrate"
CONF_ROLE: Final = "role"
DEFAULT_SCAN_INTERVAL_S: Final = 10
# What a device is to the home's energy model.
DEVICE_ROLES: Final = ("grid_meter", "pv", "battery", "ev_charger", "plant")
