"""Config flow of IoE Community: one entry per home, identified by its supply point (CUPS)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, override

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_DEVICE, CONF_HOST, CONF_NAME, CONF_PORT, CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
import probatio

from . import dashboard
from .community import community_title, join_code_data
from .const import (
    CONF_ANOTHER_GRID_METER,
    CONF_BAUDRATE,
    CONF_CHANNEL,
    CONF_COMMUNITY,
    CONF_COUNTER,
    CONF_CUPS,
    CONF_FORMAT,
    CONF_JOIN_CODE,
    CONF_KEYS,
    CONF_LINK_CLIENT_SUFFIX,
    CONF_MAPPING,
    CONF_MOVE_MEMBERSHIP,
    CONF_PROFILE,
    CONF_REVERSE_POWER,
    CONF_ROLE,
    CONF_SERIAL_NUMBER,
    CONF_SERIAL_PORT,
    CONF_SUNSPEC_MODELS,
    CONF_TOPIC,
    CONF_TRANSPORT,
    CONF_UNIT,
    DEFAULT_SCAN_INTERVAL_S,
    DEVICE_ROLES,
    DOMAIN,
    LOGGER,
    MQTT_FIRST_MESSAGE_TIMEOUT_S,
    MQTT_UNASKED_TIMEOUT_S,
    SUBENTRY_CONTROL,
    SUBENTRY_ENTITIES,
    SUBENTRY_MODBUS,
    SUBENTRY_MQTT,
)
from .control_flow import ControlSubentryFlow
from .coordinator import METER_MAKERS, endpoint_from, meter_source_from
from .devices.energy_model import ENERGY_QUANTITIES, POWER_QUANTITIES, SIGNED_POWER_ROLES
from .devices.modbus import Transport, diagnose, resolved_address
from .devices.mqtt_meter import (
    MAPPABLE,
    MAPPED_FORMATS,
    CounterKind,
    MeterFormat,
    MeterReader,
    MeterSource,
    MeterValues,
)
from .devices.mqtt_parsers import NoEnergyError, PayloadError
from .devices.probe import ProbeOutcome, probe as probe_device
from .devices.profile import Profile, available_profiles
from .devices.sunspec import preload as preload_profiles
from .link.api import ApiError, require_https
from .link.client import LinkError, LinkSettings, Presence, new_client_suffix, probe
from .link.join_code import JoinCode, JoinCodeError, decode as decode_join_code
from .membership import async_leave_community
from .naming import async_device_title
from .supply_point import CupsCheckLettersError, InvalidCups, normalize_cups

if TYPE_CHECKING:
    from . import IoeCommunityConfigEntry

STEP_HOME_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_NAME): TextSelector(),
        probatio.Required(CONF_CUPS): TextSelector(),
    }
)


_JOIN_CODE_SELECTOR = TextSelector(TextSelectorConfig(multiline=True))
STEP_JOIN_SCHEMA = probatio.Schema({probatio.Optional(CONF_JOIN_CODE): _JOIN_CODE_SELECTOR})
# Shown once the member is found online elsewhere: the household confirms moving it here.
STEP_JOIN_MOVE_SCHEMA = STEP_JOIN_SCHEMA.extend(
    {probatio.Optional(CONF_MOVE_MEMBERSHIP, default=False): BooleanSelector()}
)
STEP_REAUTH_SCHEMA = probatio.Schema({probatio.Required(CONF_JOIN_CODE): _JOIN_CODE_SELECTOR})


@dataclass(frozen=True)
class _Joining:
    """A join code that connects, and who is online as its member now."""

    code: JoinCode
    presence: Presence
    installation: str  # the one this home will be with the code

    def in_use(self, *ours: str) -> bool:
        """Return whether another installation than this home's is online as the member."""
        return self.presence.online_elsewhere(self.installation) and (
            self.presence.installation not in ours
        )


def _code_problem(code: JoinCode, cups: str, member: Mapping[str, Any] | None) -> str | None:
    """Return why a decoded join code cannot be this home's (None when it can).

    It must be the code of this home's supply point and, given the home's ``member``
    (re-authenticating), of that member; its API's address (if any) must be https.
    """
    if member is not None and code.community != member["community"]:
        return "wrong_community"
    if member is not None and code.member != member["member"]:
        LOGGER.warning(
            "Refused the code of member %s to re-authenticate member %s",
            code.member,
            member["member"],
        )
        return "other_member"
    if code.cups is None:
        LOGGER.warning("Rejected the join code of %s: it names no supply point", code.member)
        return "join_code_without_cups"
    if not _same_supply_point(code.cups, cups):
        # (Not the CUPS themselves: personal data, which logs attached to reports must not hold.)
        LOGGER.warning(
            "Rejected the join code of %s: it is for another supply point than this home's",
            code.member,
        )
        return "join_code_other_cups"
    if code.api_url:
        try:
            require_https(code.api_url)
        except ApiError as err:  # made by an aggregator from before HTTPS was required
            LOGGER.warning(
                "Rejected the join code of %s as %s: %s", code.community, code.member, err
            )
            return err.problem.value
    return None


async def _try_join_code(
    hass: HomeAssistant,
    text: str,
    client_suffix: str,
    cups: str,
    member: Mapping[str, Any] | None = None,
) -> tuple[_Joining | None, str | None]:
    """Return the join code (and who uses it) and None, or None and the error to show.

    The code must decode and be this home's (``_code_problem``), and its broker must accept
    the member's login over TLS with the code's CA (connecting with the client id the home
    will keep): nothing is saved that would not connect, or that would send this home's
    readings as another member's.
    """
    try:
        code = decode_join_code(text)
    except JoinCodeError as err:
        LOGGER.debug("Rejected a join code: %s", err)
        return None, "invalid_join_code"
    if (problem := _code_problem(code, cups, member)) is not None:
        return None, problem
    settings = LinkSettings.from_join_code(code, "config-flow", client_suffix)
    try:
        presence = await hass.async_add_executor_job(probe, settings)
    except LinkError as err:
        LOGGER.warning(
            "Joining %s as %s failed (%s): %s", code.community, code.member, err.problem, err
        )
        return None, err.problem.value
    return _Joining(code, presence, settings.installation), None


def _same_supply_point(first: str, second: str) -> bool:
    """Return whether two CUPS name one supply point (the 2-character boundary suffix aside)."""
    try:
        return normalize_cups(first)[:20] == normalize_cups(second)[:20]
    except InvalidCups:
        return False


@callback
def _follow_cups(hass: HomeAssistant, entry: IoeCommunityConfigEntry, cups: str) -> None:
    """Give the home's device a corrected CUPS (it is the device's identifier)."""
    old = entry.data[CONF_CUPS]
    registry = dr.async_get(hass)
    if cups != old and (device := registry.async_get_device({(DOMAIN, old)})) is not None:
        LOGGER.info("%s: its CUPS was corrected", entry.title)
        registry.async_update_device(
            device.id, new_identifiers={(DOMAIN, cups)}, serial_number=cups
        )


def _installation(data: Mapping[str, Any]) -> str | None:
    """Return the installation a joined home's link is (None for a home that joined none)."""
    if CONF_COMMUNITY not in data:
        return None
    code = JoinCode(**data[CONF_COMMUNITY])
    return LinkSettings.from_join_code(code, "", data[CONF_LINK_CLIENT_SUFFIX]).installation


class IoeCommunityConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create and reconfigure a home entry, and join it to its community."""

    VERSION = 1
    # 1.2: a joined home keeps the random end of its client id (CONF_LINK_CLIENT_SUFFIX).
    # 1.3: devices are titled by model and role, not by network address or topic.
    MINOR_VERSION = 3

    def __init__(self) -> None:
        """Start with nothing known about the home."""
        self._home: dict[str, Any] = {}

    @callback
    def _close_other_flows(self, unique_id: str) -> None:
        """Abort this home's other setups in progress: the household started again.

        Not a re-authentication Home Assistant asks for: that one waits for its answer.
        """
        match = {"unique_id": unique_id}
        for flow in self._async_in_progress(include_uninitialized=True, match_context=match):
            if flow["context"]["source"] in (SOURCE_USER, SOURCE_RECONFIGURE):
                LOGGER.info("Closed a setup of the same home left unfinished (%s)", flow["step_id"])
                self.hass.config_entries.flow.async_abort(flow["flow_id"])

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the home's name and the CUPS printed on its electricity bill."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                cups = normalize_cups(user_input[CONF_CUPS])
            except InvalidCups as err:
                LOGGER.debug("Rejected CUPS %r: %s", user_input[CONF_CUPS], err)
                errors[CONF_CUPS] = (
                    "cups_check_letters"
                    if isinstance(err, CupsCheckLettersError)
                    else "invalid_cups"
                )
            else:
                # A setup of this home left open (a form closed with Escape stays in progress
                # until Home Assistant restarts) would refuse this one: this one goes on.
                await self.async_set_unique_id(cups, raise_on_progress=False)
                if self.source != SOURCE_RECONFIGURE:
                    self._abort_if_unique_id_configured()
                elif cups != self._get_reconfigure_entry().unique_id:
                    # A CUPS mistyped when the home was added is corrected here.
                    self._abort_if_unique_id_configured()
                self._close_other_flows(cups)
                self._home = {CONF_NAME: user_input[CONF_NAME].strip(), CONF_CUPS: cups}
                return await self.async_step_join()

        suggested = user_input or {}
        if self.source == SOURCE_RECONFIGURE and user_input is None:
            suggested = dict(self._get_reconfigure_entry().data)
        return self.async_show_form(
            step_id="reconfigure" if self.source == SOURCE_RECONFIGURE else "user",
            data_schema=self.add_suggested_values_to_schema(STEP_HOME_SCHEMA, suggested),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the home's name or its community; the CUPS must stay the same."""
        return await self.async_step_user(user_input)

    async def async_step_join(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Join a community with the manager's join code (or leave it for later).

        Left empty, a new home joins no community yet and a reconfigured one keeps its own
        (and its client id); a new code comes with a new client id. A code whose member is
        online on another installation is taken only when the household confirms moving the
        membership here (the other installation's link then stops, and says why).
        """
        errors: dict[str, str] = {}
        saved = (
            dict(self._get_reconfigure_entry().data) if self.source == SOURCE_RECONFIGURE else {}
        )
        current = saved.get(CONF_COMMUNITY)
        schema = STEP_JOIN_SCHEMA
        if user_input is not None:
            text = user_input.get(CONF_JOIN_CODE, "").strip()
            data = {**saved, **self._home}
            kept = current.get(CONF_CUPS) if current and not text else None
            if kept is not None and not _same_supply_point(kept, data[CONF_CUPS]):
                # The CUPS was corrected: the membership is the old supply point's.
                errors[CONF_JOIN_CODE] = "join_code_other_cups"
            elif text:
                suffix = new_client_suffix()
                joining, error = await _try_join_code(self.hass, text, suffix, data[CONF_CUPS])
                if joining is None:
                    errors[CONF_JOIN_CODE] = error or "invalid_join_code"
                elif joining.in_use(*filter(None, [_installation(saved)])) and not user_input.get(
                    CONF_MOVE_MEMBERSHIP
                ):
                    LOGGER.warning(
                        "Member %s of %s is online on another installation (%s)",
                        joining.code.member,
                        joining.code.community,
                        joining.presence.installation,
                    )
                    errors[CONF_JOIN_CODE] = "member_in_use"
                    schema = STEP_JOIN_MOVE_SCHEMA
                else:
                    data |= {
                        CONF_COMMUNITY: join_code_data(joining.code),
                        CONF_LINK_CLIENT_SUFFIX: suffix,
                    }
            if not errors:
                if self.source == SOURCE_RECONFIGURE:
                    entry = self._get_reconfigure_entry()
                    _follow_cups(self.hass, entry, data[CONF_CUPS])
                    return self.async_update_and_abort(
                        entry,
                        unique_id=data[CONF_CUPS],
                        title=data[CONF_NAME],
                        data=data,
                        reason="reconfigure_successful",
                    )
                return self.async_create_entry(title=data[CONF_NAME], data=data)
        if self.source != SOURCE_RECONFIGURE:
            step_id, placeholders = "join", None
        elif current is None:
            step_id, placeholders = "join_community", None
        else:
            step_id = "change_community"
            placeholders = {"current": community_title(current), "member": current["member"]}
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_join_community(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Join a community from Reconfigure (the home has none yet)."""
        return await self.async_step_join(user_input)

    async def async_step_change_community(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Paste a new join code from Reconfigure (the home is a member already)."""
        return await self.async_step_join(user_input)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Ask for a new join code: the community refused the home's login."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take the join code the manager issued when rotating the credentials."""
        errors: dict[str, str] = {}
        entry = self._get_reauth_entry()
        membership = entry.data[CONF_COMMUNITY]
        if user_input is not None:
            suffix = new_client_suffix()
            joining, error = await _try_join_code(
                self.hass, user_input[CONF_JOIN_CODE], suffix, entry.data[CONF_CUPS], membership
            )
            if joining is None:
                errors[CONF_JOIN_CODE] = error or "invalid_join_code"
            else:
                return self.async_update_and_abort(
                    entry,
                    data_updates={
                        CONF_COMMUNITY: join_code_data(joining.code),
                        CONF_LINK_CLIENT_SUFFIX: suffix,
                    },
                    reason="reauth_successful",
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self.add_suggested_values_to_schema(STEP_REAUTH_SCHEMA, user_input or {}),
            errors=errors,
            description_placeholders={
                "home": entry.title,
                "community": community_title(membership),
            },
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HomeOptionsFlow:
        """Return the home's options flow: how its devices are read."""
        return HomeOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Devices are added to the home as subentries."""
        return {
            SUBENTRY_MODBUS: ModbusDeviceSubentryFlow,
            SUBENTRY_MQTT: MqttMeterSubentryFlow,
            SUBENTRY_ENTITIES: HaEntitiesSubentryFlow,
            SUBENTRY_CONTROL: ControlSubentryFlow,
        }


_SCAN_INTERVAL_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=3600, unit_of_measurement="s", mode=NumberSelectorMode.BOX)
)


class HomeOptionsFlow(OptionsFlow):
    """Change how a device is read (without its connection form), or leave the community.

    A Modbus device's scan interval, and for every device which way its power reads (the
    household sees the value it reads now to tell). The choices are kept with the device (its
    subentry), where reconfiguring it changes them too; Home Assistant sensors are the
    household's own and have nothing to change here.
    """

    _subentry: ConfigSubentry

    def _devices(self) -> list[ConfigSubentry]:
        return [
            subentry
            for subentry in self.config_entry.subentries.values()
            if subentry.subentry_type in (SUBENTRY_MODBUS, SUBENTRY_MQTT)
        ]

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Offer what can be changed: the devices, the membership."""
        choices = []
        if self._devices():
            choices.append("devices")
        if CONF_COMMUNITY in self.config_entry.data:
            if dashboard.available(self.hass):
                choices.append("dashboard")
            choices.append("leave_community")
        if not choices:
            return self.async_abort(reason="nothing_to_configure")
        if choices == ["devices"]:
            return await self.async_step_devices()
        return self.async_show_menu(step_id="init", menu_options=choices)

    async def async_step_dashboard(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Create the home's "Community" dashboard (again, replacing its cards) once asked."""
        if user_input is not None:
            kept = await dashboard.async_create(
                self.hass, self.config_entry, user_input[dashboard.CONF_LANGUAGE]
            )
            return self.async_create_entry(
                data={**self.config_entry.options, dashboard.CONF_DASHBOARD: kept}
            )
        languages = [
            SelectOptionDict(value=code, label=name) for code, name in dashboard.LANGUAGES.items()
        ]
        schema = probatio.Schema(
            {
                probatio.Required(
                    dashboard.CONF_LANGUAGE,
                    default=dashboard.default_language(self.hass, self.config_entry),
                ): SelectSelector(
                    SelectSelectorConfig(options=languages, mode=SelectSelectorMode.LIST)
                )
            }
        )
        return self.async_show_form(
            step_id="dashboard",
            data_schema=schema,
            description_placeholders={"home": self.config_entry.title},
        )

    async def async_step_leave_community(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Leave the community, once the household confirms (devices and sensors stay)."""
        if user_input is not None:
            async_leave_community(self.hass, self.config_entry)
            return self.async_create_entry(data=dict(self.config_entry.options))
        membership = self.config_entry.data[CONF_COMMUNITY]
        return self.async_show_form(
            step_id="leave_community",
            description_placeholders={
                "current": community_title(membership),
                "member": membership["member"],
            },
        )

    async def async_step_devices(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the device, when the home has more than one."""
        devices = self._devices()
        if len(devices) == 1:
            self._subentry = devices[0]
            return await self.async_step_device()
        if user_input is not None:
            self._subentry = self.config_entry.subentries[user_input[CONF_DEVICE]]
            return await self.async_step_device()
        choices = [
            SelectOptionDict(value=subentry.subentry_id, label=subentry.title)
            for subentry in sorted(devices, key=lambda subentry: subentry.title)
        ]
        return self.async_show_form(
            step_id="devices",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_DEVICE): SelectSelector(
                        SelectSelectorConfig(options=choices)
                    )
                }
            ),
        )

    def _signed_power(self) -> str | None:
        """Return the key of the device's power that says a direction, if it has one."""
        coordinator = self.config_entry.runtime_data.devices.get(self._subentry.subentry_id)
        quantities = coordinator.quantities if coordinator is not None else ()
        return next((q.key for q in quantities if q.role in SIGNED_POWER_ROLES), None)

    def _signed(self) -> bool:
        """Return whether the device has a flow whose direction can be reversed.

        An MQTT meter's power may not have arrived yet: it can always be reversed.
        """
        return self._subentry.subentry_type == SUBENTRY_MQTT or self._signed_power() is not None

    def _power_now(self) -> str:
        """Return the power the device reads now, as the home counts it (with its sign)."""
        coordinator = self.config_entry.runtime_data.devices.get(self._subentry.subentry_id)
        if coordinator is None or (key := self._signed_power()) is None:
            return "-"
        return _power_text(self.hass, (coordinator.data or {}).get(key))

    async def async_step_device(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set the chosen device's choices; that device restarts with them."""
        data = self._subentry.data
        polled = self._subentry.subentry_type == SUBENTRY_MODBUS
        if user_input is not None:
            changes: dict[str, Any] = {
                CONF_REVERSE_POWER: bool(user_input.get(CONF_REVERSE_POWER, False))
                and self._signed()
            }
            if polled:
                changes[CONF_SCAN_INTERVAL] = int(user_input[CONF_SCAN_INTERVAL])
            self.hass.config_entries.async_update_subentry(
                self.config_entry, self._subentry, data={**data, **changes}
            )
            return self.async_create_entry(data=dict(self.config_entry.options))
        fields: dict[Any, Any] = {}
        if polled:
            fields[probatio.Required(CONF_SCAN_INTERVAL, default=data[CONF_SCAN_INTERVAL])] = (
                _SCAN_INTERVAL_SELECTOR
            )
        if self._signed():
            fields[
                probatio.Required(CONF_REVERSE_POWER, default=data.get(CONF_REVERSE_POWER, False))
            ] = BooleanSelector()
        if not self._signed():  # a charger, say: nothing flows both ways through it
            return self.async_show_form(
                step_id="scan_interval",
                data_schema=probatio.Schema(fields),
                description_placeholders={"device": self._subentry.title},
            )
        return self.async_show_form(
            step_id="device",
            data_schema=probatio.Schema(fields),
            description_placeholders={
                "device": self._subentry.title,
                "power": self._power_now(),
            },
        )

    async def async_step_scan_interval(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the scan interval of a device with no direction to reverse."""
        return await self.async_step_device(user_input)


_ROLE_SELECTOR = SelectSelector(
    SelectSelectorConfig(options=list(DEVICE_ROLES), translation_key=CONF_ROLE)
)
# Shown once the home has a grid meter: the household confirms a second one.
_ANOTHER_GRID_METER = {probatio.Optional(CONF_ANOTHER_GRID_METER, default=False): BooleanSelector()}


def _modbus_device_schema(profiles: dict[str, Profile]) -> probatio.Schema:
    """Return the first step: which device, its role, how it is connected."""
    return probatio.Schema(
        {
            probatio.Required(CONF_PROFILE): SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=p.id, label=f"{p.manufacturer} {p.model}")
                        for p in sorted(profiles.values(), key=lambda p: p.id)
                    ],
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            # Optional: the form must not preselect a role (the first would be the grid's).
            probatio.Optional(CONF_ROLE): _ROLE_SELECTOR,
            probatio.Required(CONF_TRANSPORT, default=Transport.TCP.value): SelectSelector(
                SelectSelectorConfig(
                    options=[t.value for t in Transport], translation_key=CONF_TRANSPORT
                )
            ),
        }
    )


_UNIT_AND_INTERVAL = {
    probatio.Required(CONF_UNIT, default=1): NumberSelector(
        NumberSelectorConfig(min=0, max=247, mode=NumberSelectorMode.BOX)
    ),
    probatio.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL_S): _SCAN_INTERVAL_SELECTOR,
}
STEP_TCP_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_PORT, default=502): NumberSelector(
            NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
        ),
        **_UNIT_AND_INTERVAL,
    }
)
# The rates RS-485 meters and inverters offer (another can be typed).
_BAUDRATES = ("2400", "4800", "9600", "19200", "38400", "57600", "115200")
STEP_SERIAL_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_SERIAL_PORT): TextSelector(),
        probatio.Required(CONF_BAUDRATE, default="9600"): SelectSelector(
            SelectSelectorConfig(
                options=list(_BAUDRATES), custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        ),
        **_UNIT_AND_INTERVAL,
    }
)


# The form's error when a device answers a probe in another way than with values.
_PROBE_ERRORS = {
    ProbeOutcome.NOT_SUNSPEC: "not_sunspec",
    ProbeOutcome.SUNSPEC_UNSUPPORTED: "sunspec_unsupported",
    ProbeOutcome.WRONG_DEVICE: "wrong_device",
}


def _normalise(user_input: dict[str, Any]) -> dict[str, Any]:
    """Keep only the connection fields the transport uses, as integers where they are."""
    data = {
        CONF_PROFILE: user_input[CONF_PROFILE],
        CONF_ROLE: user_input[CONF_ROLE],
        CONF_TRANSPORT: user_input[CONF_TRANSPORT],
        CONF_UNIT: int(user_input[CONF_UNIT]),
        CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
    }
    if user_input[CONF_TRANSPORT] == Transport.SERIAL:
        data[CONF_SERIAL_PORT] = user_input.get(CONF_SERIAL_PORT, "").strip()
        data[CONF_BAUDRATE] = int(user_input[CONF_BAUDRATE])
    else:
        data[CONF_HOST] = user_input.get(CONF_HOST, "").strip()
        data[CONF_PORT] = int(user_input[CONF_PORT])
    return data


async def _try_device(data: dict[str, Any]) -> dict[str, str]:
    """Read the device once; return the form's errors (none when it answers with values).

    A SunSpec device's model chain is kept in ``data``, and so is the serial number the
    profile reads. When nothing answers, the connection is tried on its own to say why (a
    refused port, an address that does not answer, a name that does not resolve, a missing
    serial port). The profiles are already cached: the form that produced ``data`` loaded them.
    """
    endpoint = endpoint_from(data)
    unit = data[CONF_UNIT]
    result = await probe_device(available_profiles()[data[CONF_PROFILE]], endpoint, unit)
    details = "; ".join(error.detail for error in result.errors)
    match result.outcome:
        case ProbeOutcome.READ:
            if result.sunspec_models:
                data[CONF_SUNSPEC_MODELS] = {
                    str(model): address for model, address in result.sunspec_models.items()
                }
            if result.serial_number is not None:
                data[CONF_SERIAL_NUMBER] = result.serial_number
            return {}
        case ProbeOutcome.NO_VALUES:
            problem = await diagnose(endpoint)
            LOGGER.info("No values from %s unit %s: %s (%s)", endpoint, unit, details, problem)
            return {"base": problem.value if problem is not None else "cannot_connect"}
    LOGGER.info(
        "%s unit %s: %s (SunSpec models: %s; %s)",
        endpoint,
        unit,
        result.outcome,
        list(result.sunspec_models),
        details,
    )
    return {"base": _PROBE_ERRORS[result.outcome]}


class HomeSubentryFlow(ConfigSubentryFlow):
    """What every flow that adds or changes a source of the home's data shares."""

    @property
    def _reconfiguring(self) -> bool:
        return self.source == SOURCE_RECONFIGURE

    def _other_subentries(self) -> list[ConfigSubentry]:
        """Return the home's subentries, except the one being reconfigured."""
        return [
            subentry
            for subentry in self._get_entry().subentries.values()
            if not (self._reconfiguring and subentry.subentry_id == self._reconfigure_subentry_id)
        ]

    def _unique_id_taken(self, unique_id: str) -> bool:
        return any(subentry.unique_id == unique_id for subentry in self._other_subentries())

    def _grid_meters(self) -> list[ConfigSubentry]:
        """Return the home's other sources of its grid figures."""
        return [
            subentry
            for subentry in self._other_subentries()
            if subentry.data.get(CONF_ROLE) == "grid_meter"
            or (
                subentry.subentry_type == SUBENTRY_ENTITIES
                and any(quantity.startswith("grid_") for quantity in subentry.data)
            )
        ]

    def _with_grid_question(self, schema: probatio.Schema) -> probatio.Schema:
        """Return ``schema`` with the second grid meter's question when the home has one."""
        return schema.extend(_ANOTHER_GRID_METER) if self._grid_meters() else schema

    def _grid_meter_placeholder(self) -> dict[str, str]:
        meters = self._grid_meters()
        return {"grid_meter": meters[0].title if meters else "-"}

    def _role_error(self, user_input: dict[str, Any]) -> str | None:
        """Return why the chosen role cannot be saved as it is (None when it can).

        A role must be chosen (none is preselected); a second grid meter needs the
        household's word: both would count the home's grid exchange.
        """
        role = user_input.get(CONF_ROLE)
        if not role:
            return "role_required"
        if (
            role == "grid_meter"
            and self._grid_meters()
            and not user_input.get(CONF_ANOTHER_GRID_METER)
        ):
            return "second_grid_meter"
        return None

    async def _title(self, name: str, data: Mapping[str, Any]) -> str:
        """Return a device's title: its model and its role, never its network address."""
        taken = {subentry.title for subentry in self._other_subentries()}
        return await async_device_title(self.hass, name, data[CONF_ROLE], taken)

    def _save(
        self, title: str, data: dict[str, Any], unique_id: str | None = None
    ) -> SubentryFlowResult:
        """Create the subentry, or update the one being reconfigured (which restarts it)."""
        if self._reconfiguring:
            return self.async_update_and_abort(
                self._get_entry(),
                self._get_reconfigure_subentry(),
                title=title,
                data=data,
                unique_id=unique_id,
            )
        return self.async_create_entry(title=title, data=data, unique_id=unique_id)

    def _form(
        self,
        schema: probatio.Schema,
        suggested: dict[str, Any] | None,
        errors: dict[str, str],
        **placeholders: str,
    ) -> SubentryFlowResult:
        """Show the add or reconfigure form, filled with ``suggested`` or the saved data."""
        if suggested is None and self._reconfiguring:
            suggested = dict(self._get_reconfigure_subentry().data)
        return self.async_show_form(
            step_id="reconfigure" if self._reconfiguring else "user",
            data_schema=self.add_suggested_values_to_schema(schema, suggested or {}),
            errors=errors,
            description_placeholders=placeholders or None,
        )


class ModbusDeviceSubentryFlow(HomeSubentryFlow):
    """Add or change a Modbus device (meter, inverter, battery, charger) of the home.

    First the device, its role and its kind of connection; then that connection's own
    fields (TCP: host and port; serial: port and baud rate), with the unit id. The device is
    read before it is saved, and refused when the home has it already (the same serial
    number, or the same address once names are resolved, and unit).
    """

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._data: dict[str, Any] = {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the device, its role and its kind of connection."""
        errors: dict[str, str] = {}
        schema = self._with_grid_question(
            _modbus_device_schema(await self.hass.async_add_executor_job(preload_profiles))
        )
        if user_input is not None:
            if (error := self._role_error(user_input)) is not None:
                errors[CONF_ROLE] = error
            else:
                self._data = {
                    key: user_input[key] for key in (CONF_PROFILE, CONF_ROLE, CONF_TRANSPORT)
                }
                return await self.async_step_connection()
        return self._form(schema, user_input, errors, **self._grid_meter_placeholder())

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a device's connection or profile; it is read again before saving."""
        return await self.async_step_user(user_input)

    async def async_step_connection(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the chosen connection's fields, read the device, save it."""
        serial = self._data[CONF_TRANSPORT] == Transport.SERIAL
        errors: dict[str, str] = {}
        if user_input is not None:
            data = _normalise({**self._data, **user_input})
            if not data.get(CONF_SERIAL_PORT if serial else CONF_HOST):
                errors[CONF_SERIAL_PORT if serial else CONF_HOST] = "required"
            else:
                errors = await _try_device(data)
            if not errors:
                here = await resolved_address(endpoint_from(data))
                if await self._has_device(data, here):
                    return self.async_abort(reason="already_configured")
                profile = available_profiles()[data[CONF_PROFILE]]
                title = await self._title(f"{profile.manufacturer} {profile.model}", data)
                return self._save(title, data, f"{here}/{data[CONF_UNIT]}")
        suggested = user_input
        if suggested is None and self._reconfiguring:
            saved = self._get_reconfigure_subentry().data
            suggested = {key: str(v) if key == CONF_BAUDRATE else v for key, v in saved.items()}
        return self.async_show_form(
            step_id="serial" if serial else "tcp",
            data_schema=self.add_suggested_values_to_schema(
                STEP_SERIAL_SCHEMA if serial else STEP_TCP_SCHEMA, suggested or {}
            ),
            errors=errors,
        )

    async def async_step_tcp(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the address of a device on the network (or of its gateway)."""
        return await self.async_step_connection(user_input)

    async def async_step_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Ask for the serial (RS-485) adapter the device hangs on."""
        return await self.async_step_connection(user_input)

    async def _has_device(self, data: dict[str, Any], here: str) -> bool:
        """Return whether the home reads this device already, under whatever address."""
        serial = data.get(CONF_SERIAL_NUMBER)
        for other in self._other_subentries():
            if other.subentry_type != SUBENTRY_MODBUS:
                continue
            if serial and other.data.get(CONF_SERIAL_NUMBER) == serial:
                LOGGER.info("Serial number %s is %s already", serial, other.title)
                return True
            if other.data[CONF_UNIT] == data[CONF_UNIT] and (
                await resolved_address(endpoint_from(dict(other.data))) == here
            ):
                LOGGER.info("%s unit %s is %s already", here, data[CONF_UNIT], other.title)
                return True
        return False


STEP_MQTT_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_FORMAT): SelectSelector(
            SelectSelectorConfig(
                options=[f.value for f in MeterFormat], translation_key=CONF_FORMAT
            )
        ),
        probatio.Required(CONF_TOPIC): TextSelector(),
        probatio.Optional(CONF_ROLE): _ROLE_SELECTOR,
    }
)
STEP_VALUES_SCHEMA = probatio.Schema(
    {
        name: selector
        for key, units in MAPPABLE.items()
        for name, selector in (
            (probatio.Optional(key), TextSelector()),
            (
                # W and Wh unless told: what most meters that send plain numbers send.
                probatio.Required(f"{key}_unit", default=units[0]),
                SelectSelector(SelectSelectorConfig(options=list(units))),
            ),
        )
    }
)
# After a meter's first values, how long the rest of its burst (one message per component or
# per key) may take to arrive.
_SETTLE_S = 1.0
# The messages kept from the wait, to read again with the household's choices.
_KEPT_MESSAGES = 200
# More power than a home's supply carries (Spanish homes contract up to 15 kW; three-phase
# supplies reach a few tens): a meter reading more was most likely given the wrong unit.
PLAUSIBLE_W = 50_000
# The choice of a multi-channel device's phases together (stored as no channel).
_ALL_CHANNELS = "all"


@dataclass(kw_only=True)
class _Heard:
    """What arrived from a meter while the flow waited for it."""

    messages: list[tuple[str, bytes | str]] = field(default_factory=list)
    channels: set[int] = field(default_factory=set)
    problem: str | None = None
    no_energy: bool = False  # it answered, but measures no energy


async def _listen(hass: HomeAssistant, source: MeterSource) -> _Heard:
    """Ask the meter to report (where it can be asked) and wait for its values."""
    heard = _Heard()
    reader = MeterReader(source)
    received = asyncio.Event()

    @callback
    def _message(message: mqtt.ReceiveMessage) -> None:
        payload = message.payload
        try:
            values = reader.read(message.topic, payload)
        except NoEnergyError as err:
            heard.no_energy, heard.problem = True, str(err)
            return
        except PayloadError as err:
            heard.problem = f"{message.topic}: {err}"
            return
        if len(heard.messages) < _KEPT_MESSAGES:
            heard.messages.append(
                (message.topic, bytes(payload) if isinstance(payload, bytearray) else payload)
            )
        heard.channels = set(reader.channels)
        if values:
            received.set()

    unsubscribe = [
        await mqtt.async_subscribe(hass, topic, _message, encoding=None)
        for topic in source.subscriptions
    ]
    timeout = MQTT_UNASKED_TIMEOUT_S if source.request is None else MQTT_FIRST_MESSAGE_TIMEOUT_S
    try:
        if source.request is not None:
            await mqtt.async_publish(hass, *source.request)
        try:
            async with asyncio.timeout(timeout):
                await received.wait()
            await asyncio.sleep(_SETTLE_S)
        except TimeoutError:
            pass
    finally:
        for undo in unsubscribe:
            undo()
    if reader.messages and not received.is_set() and source.format is MeterFormat.SHELLY:
        heard.no_energy = True  # statuses arrived, none of a meter's component
    return heard


def _read_all(source: MeterSource, heard: _Heard) -> MeterValues:
    """Return the values the kept messages give, read the way ``source`` says."""
    reader = MeterReader(source)
    values: MeterValues = {}
    for topic, payload in heard.messages:
        values |= reader.read(topic, payload)
    return values


# Languages written with a decimal comma. A form's figures follow Home Assistant's language:
# a form cannot tell which one its user reads ("1.520 kWh" is 1520 kWh to a Spanish reader).
_DECIMAL_COMMA = frozenset({"ca", "de", "es", "eu", "fr", "gl", "it", "nl", "pt"})


def _decimal_text(hass: HomeAssistant, value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if hass.config.language.split("-")[0].lower() in _DECIMAL_COMMA:
        return text.replace(".", ",")
    return text


def _power_text(hass: HomeAssistant, value: float | str | None) -> str:
    """Return a power as a person reads it: watts, or kilowatts from 10 kW (no long numbers)."""
    if not isinstance(value, int | float):
        return "-"
    if abs(watts := round(value)) < 10_000:  # an int: no "-0 W", no "10000 W" below 10 kW
        return f"{watts} W"
    kilowatts = _decimal_text(hass, value / 1000, 1)
    return f"{kilowatts.removesuffix('.0').removesuffix(',0')} kW"


def _energy_text(hass: HomeAssistant, value: float | str | None) -> str:
    return f"{_decimal_text(hass, value, 3)} kWh" if isinstance(value, int | float) else "-"


def _meter_unique_id(data: Mapping[str, Any]) -> str:
    unique_id = f"mqtt/{data[CONF_FORMAT]}/{data[CONF_TOPIC]}"
    if (channel := data.get(CONF_CHANNEL)) is not None:
        unique_id += f"#{channel}"
    return unique_id


def _meter_unique_ids(data: Mapping[str, Any]) -> set[str]:
    """Return the unique ids the meter may already be saved under.

    A Shelly saved before channels were chosen was read as its first channel.
    """
    found = {_meter_unique_id(data)}
    if data[CONF_FORMAT] == MeterFormat.SHELLY and data.get(CONF_CHANNEL) == 0:
        found.add(_meter_unique_id({**data, CONF_CHANNEL: None}))
    return found


class MqttMeterSubentryFlow(HomeSubentryFlow):
    """Add or change an energy meter that publishes over MQTT (Shelly, Tasmota, ESPHome…).

    The meter is asked to report (Shelly and Tasmota can be) and its first values are awaited
    before it is saved; then the household says which channel is this meter, what its counter
    counts and which way its power reads, seeing the values it sent. Its sensors are the
    values it sends.
    """

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._data: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._problem = ""
        self._listening: asyncio.Task[_Heard] | None = None
        self._heard = _Heard()

    def _suggested(self, user_input: dict[str, Any] | None) -> dict[str, Any]:
        if user_input is not None:
            return user_input
        if self._data:
            return self._data
        if self._reconfiguring:
            return dict(self._get_reconfigure_subentry().data)
        return {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the meter's format, topic and role."""
        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors, self._errors = self._errors, {}
        schema = self._with_grid_question(STEP_MQTT_SCHEMA)
        if user_input is not None:
            topic = user_input[CONF_TOPIC].strip().strip("/")
            if not topic or any(c in topic for c in "+#\0 "):
                errors[CONF_TOPIC] = "invalid_topic"
            elif (error := self._role_error(user_input)) is not None:
                errors[CONF_ROLE] = error
            else:
                previous = self._suggested(None)
                self._data = {
                    CONF_FORMAT: user_input[CONF_FORMAT],
                    CONF_TOPIC: topic,
                    CONF_ROLE: user_input[CONF_ROLE],
                }
                for kept in (CONF_CHANNEL, CONF_COUNTER, CONF_REVERSE_POWER):
                    if kept in previous:
                        self._data[kept] = previous[kept]
                if MeterFormat(self._data[CONF_FORMAT]) in MAPPED_FORMATS:
                    if mapping := previous.get(CONF_MAPPING):
                        self._data[CONF_MAPPING] = mapping
                    return await self.async_step_values()
                return await self.async_step_listen()
        return self._form(
            schema,
            self._suggested(user_input),
            errors,
            problem=self._problem,
            **self._grid_meter_placeholder(),
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a meter's topic, format, role or choices; its values are awaited again."""
        return await self.async_step_user(user_input)

    async def async_step_values(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """For emonhub, ESPHome and JSON meters: which key, sensor or path holds which value."""
        errors, self._errors = self._errors, {}
        if user_input is not None:
            mapping = {
                key: {"source": source, "unit": user_input[f"{key}_unit"]}
                for key in MAPPABLE
                if (source := str(user_input.get(key, "")).strip())
            }
            if mapping:
                self._data[CONF_MAPPING] = mapping
                return await self.async_step_listen()
            errors["base"] = "no_value_mapped"
        suggested = user_input or {
            name: value
            for key, mapped in self._suggested(None).get(CONF_MAPPING, {}).items()
            for name, value in ((key, mapped["source"]), (f"{key}_unit", mapped["unit"]))
        }
        return self.async_show_form(
            step_id="values",
            data_schema=self.add_suggested_values_to_schema(STEP_VALUES_SCHEMA, suggested),
            errors=errors,
            description_placeholders={"problem": self._problem},
        )

    async def async_step_listen(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Wait for the meter's first values: a little when it was asked, else minutes.

        Any channel's values will do: which one is the meter is asked next.
        """
        source = replace(meter_source_from(self._data), channel=None)
        if self._listening is None:
            self._listening = self.hass.async_create_task(_listen(self.hass, source))
        if not self._listening.done():
            unasked = source.request is None
            return self.async_show_progress(
                step_id="listen",
                progress_action="waiting" if unasked else "listening",
                progress_task=self._listening,
                description_placeholders={
                    "topic": source.topic,
                    "seconds": str(MQTT_FIRST_MESSAGE_TIMEOUT_S),
                },
            )
        self._heard = self._listening.result()
        self._listening = None
        if _read_all(source, self._heard):
            return self.async_show_progress_done(next_step_id="meter")
        problem = self._heard.problem
        LOGGER.info("No values from the MQTT meter at %s: %s", source.subscriptions, problem)
        self._problem = problem or ""
        if self._heard.no_energy:
            self._errors = {"base": "no_energy"}
        else:
            self._errors = {"base": "invalid_payload" if problem else "no_message"}
        return self.async_show_progress_done(
            next_step_id="values" if CONF_MAPPING in self._data else "user"
        )

    def _meter_schema(self, source: MeterSource) -> probatio.Schema:
        """Return the choices this meter needs: channel, counter kind, power sign."""
        fields: dict[Any, Any] = {}
        channels = sorted(self._heard.channels)
        if len(channels) > 1 or (source.format is MeterFormat.TASMOTA and channels):
            options = [
                SelectOptionDict(
                    value=str(channel),
                    label=f"{channel + 1}: {_power_text(self.hass, self._channel_power(channel))}",
                )
                for channel in channels
            ]
            if source.format in (MeterFormat.TASMOTA, MeterFormat.SHELLY_GEN1):
                options.insert(0, SelectOptionDict(value=_ALL_CHANNELS, label=_ALL_CHANNELS))
            fields[probatio.Required(CONF_CHANNEL)] = SelectSelector(
                SelectSelectorConfig(options=options, translation_key=CONF_CHANNEL)
            )
        if source.format is MeterFormat.TASMOTA:
            fields[probatio.Required(CONF_COUNTER, default=CounterKind.NET.value)] = SelectSelector(
                SelectSelectorConfig(
                    options=[kind.value for kind in CounterKind], translation_key=CONF_COUNTER
                )
            )
        fields[probatio.Required(CONF_REVERSE_POWER, default=False)] = BooleanSelector()
        return probatio.Schema(fields)

    def _channel_power(self, channel: int) -> float | str | None:
        source = meter_source_from({**self._data, CONF_CHANNEL: channel})
        return _read_all(source, self._heard).get("power")

    async def async_step_meter(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Say which channel is this meter, what its counter counts and which way it reads."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {
                **self._data,
                CONF_REVERSE_POWER: bool(user_input.get(CONF_REVERSE_POWER, False)),
            }
            data.pop(CONF_CHANNEL, None)
            if (channel := user_input.get(CONF_CHANNEL, _ALL_CHANNELS)) != _ALL_CHANNELS:
                data[CONF_CHANNEL] = int(channel)
            elif MeterFormat(data[CONF_FORMAT]) is MeterFormat.SHELLY and self._heard.channels:
                data[CONF_CHANNEL] = min(self._heard.channels)
            if CONF_COUNTER in user_input:
                data[CONF_COUNTER] = user_input[CONF_COUNTER]
            values = _read_all(meter_source_from(data), self._heard)
            if any(self._unique_id_taken(taken) for taken in _meter_unique_ids(data)):
                return self.async_abort(reason="already_configured")
            if not values.keys() & {"import_energy", "export_energy", "power"}:
                errors["base"] = "channel_without_values"
            else:
                data[CONF_KEYS] = sorted(values)
                # Named by maker and role (the topic holds the device's MAC address), with the
                # channel of a device that has several.
                name = METER_MAKERS[MeterFormat(data[CONF_FORMAT])]
                if CONF_CHANNEL in data and len(self._heard.channels) > 1:
                    name += f" ({data[CONF_CHANNEL] + 1})"
                title = await self._title(name, data)
                return self._save(title, data, _meter_unique_id(data))
        source = replace(meter_source_from(self._data), channel=None)
        suggested = user_input or {
            key: str(value) if key == CONF_CHANNEL else value
            for key, value in self._suggested(None).items()
            if key in (CONF_COUNTER, CONF_REVERSE_POWER)
            or (key == CONF_CHANNEL and value in self._heard.channels)
        }
        now = _read_all(source, self._heard)
        power = now.get("power")
        if user_input is None and isinstance(power, int | float) and abs(power) > PLAUSIBLE_W:
            # More than a home's supply can carry: most likely a unit chosen wrong.
            errors["base"] = "implausible_power"
        return self.async_show_form(
            step_id="meter",
            data_schema=self.add_suggested_values_to_schema(self._meter_schema(source), suggested),
            errors=errors,
            description_placeholders={
                "power": _power_text(self.hass, now.get("power")),
                "imported": _energy_text(self.hass, now.get("import_energy")),
                "exported": _energy_text(self.hass, now.get("export_energy")),
            },
        )


# The flows a household can give from sensors it already has, and what each must be.
# Consumption follows from the others; a community plant is not a home's sensor.
_ENTITY_QUANTITIES: tuple[str, ...] = tuple(
    quantity
    for quantity in (*ENERGY_QUANTITIES, *POWER_QUANTITIES)
    if not quantity.startswith(("consumption_", "plant_"))
)
_ENERGY_UNITS = ("Wh", "kWh", "MWh")
_POWER_UNITS = ("W", "kW")
STEP_ENTITIES_SCHEMA = probatio.Schema(
    {
        probatio.Optional(quantity): EntitySelector(
            EntitySelectorConfig(
                domain="sensor",
                device_class="energy" if quantity in ENERGY_QUANTITIES else "power",
            )
        )
        for quantity in _ENTITY_QUANTITIES
    }
)


def _entity_error(hass: HomeAssistant, quantity: str, entity_id: str) -> str | None:
    """Return why a sensor cannot measure ``quantity``, or None when it can.

    Not one of this integration's own: a device's sensor is counted already, and the
    community's figures would feed the community its own answer.
    """
    registered = er.async_get(hass).async_get(entity_id)
    if registered is not None and registered.platform == DOMAIN:
        return "own_sensor"
    state = hass.states.get(entity_id)
    if state is None:
        return "entity_not_found"
    attributes = state.attributes
    if quantity in ENERGY_QUANTITIES:
        if (
            attributes.get("device_class") != "energy"
            or attributes.get("unit_of_measurement") not in _ENERGY_UNITS
            or attributes.get("state_class") not in ("total", "total_increasing")
        ):
            return "not_energy_counter"
    elif (
        attributes.get("device_class") != "power"
        or attributes.get("unit_of_measurement") not in _POWER_UNITS
    ):
        return "not_power"
    return None


class HaEntitiesSubentryFlow(HomeSubentryFlow):
    """Use sensors the home already has (from any integration) for its energy flows."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask which sensor measures which flow; check each is the right kind of sensor."""
        errors: dict[str, str] = {}
        schema = self._with_grid_question(STEP_ENTITIES_SCHEMA)
        if user_input is not None:
            chosen: dict[str, str] = {
                q: user_input[q] for q in _ENTITY_QUANTITIES if user_input.get(q)
            }
            used = {
                entity_id
                for subentry in self._other_subentries()
                if subentry.subentry_type == SUBENTRY_ENTITIES
                for entity_id in subentry.data.values()
            }
            for quantity, entity_id in chosen.items():
                if entity_id in used:
                    errors[quantity] = "entity_already_used"
                elif (error := _entity_error(self.hass, quantity, entity_id)) is not None:
                    LOGGER.info("%s cannot be %s: %s", entity_id, quantity, error)
                    errors[quantity] = error
            if not chosen:
                errors["base"] = "nothing_chosen"
            grid = any(quantity.startswith("grid_") for quantity in chosen)
            if (
                not errors
                and grid
                and self._grid_meters()
                and not user_input.get(CONF_ANOTHER_GRID_METER)
            ):
                errors["base"] = "second_grid_meter"
            if not errors:
                names = [
                    state.name if (state := self.hass.states.get(e)) else e for e in chosen.values()
                ]
                return self._save(", ".join(names), chosen)
        return self._form(schema, user_input, errors, **self._grid_meter_placeholder())

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change which sensors measure which flows."""
        return await self.async_step_user(user_input)
