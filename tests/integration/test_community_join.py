"""Joining a community in the config flow: each failure has its own translated error; reauth.

Real parts: the community's broker on the aggregator's generated files, members registered,
rotated and revoked with the aggregator's command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import timedelta
import json
from pathlib import Path
import re
import time
from typing import Any

from homeassistant.components.lovelace.const import LOVELACE_DATA
from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_COMMUNITY, CONF_LINK_CLIENT_SUFFIX, DOMAIN
from custom_components.ioe_community.dashboard import COMMUNITY_CARD
from custom_components.ioe_community.link.api import ApiProblem
from custom_components.ioe_community.link.client import (
    LinkClient,
    LinkProblem,
    LinkSettings,
    LinkState,
    new_client_suffix,
)
from custom_components.ioe_community.link.join_code import JoinCode as HomeCode
from custom_components.ioe_community.link.outbox import Outbox
from ioe_aggregator.members.join_code import JoinCode, decode, encode
from ioe_dev.mosquitto import broker_certificate, start_broker, start_plain_broker
from ioe_dev.processes import free_port
from tests.community import Community, addon_community, wait_until  # noqa: F401 - fixture
from tests.conftest import INTEGRATION

from .conftest import CUPS, fix_issue
from .joined_home import join, join_step, sensor, sensor_id, wait_for_connected

TRANSLATIONS = INTEGRATION / "translations"
# The household card: it finds the entities it reads by their translation keys.
CARD_MODULE = INTEGRATION / "frontend" / "ioe-community-card.js"


# Let the flow reach the community's broker on 127.0.0.1.
pytestmark = pytest.mark.usefixtures("allow_local_sockets")


def suggested(result: Any, field: str) -> Any:
    """Return the value a form shows in ``field`` (what the household typed, after an error)."""
    for key in result["data_schema"].schema:
        if key == field:
            return (key.description or {}).get("suggested_value")
    raise AssertionError(f"no field {field}")


async def error_for(hass: HomeAssistant, flow_id: str, text: str) -> str | None:
    result = await hass.config_entries.flow.async_configure(flow_id, {"join_code": text})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "join"
    return result["errors"].get("join_code")


def test_every_link_problem_is_explained_in_both_languages() -> None:
    for language in ("en", "es"):
        translations = json.loads((TRANSLATIONS / f"{language}.json").read_text())
        errors = translations["config"]["error"]
        for problem in LinkProblem:
            assert errors.get(problem.value), (language, problem)
        assert errors.get("invalid_join_code")
        assert errors.get("wrong_community")
        assert errors.get(ApiProblem.NOT_HTTPS.value)
        for problem in ApiProblem:
            assert translations["exceptions"][problem.value]["message"], (language, problem)


async def test_a_home_may_join_later(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_configure(await join_step(hass), {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_COMMUNITY not in result["data"]
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(result["result"].entry_id)


async def test_join_code_errors(hass: HomeAssistant, community: Community, tmp_path: Path) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    text = encode(code)
    flow = await join_step(hass)
    assert await error_for(hass, flow, "IOE1-not-a-code") == "invalid_join_code"
    assert await error_for(hass, flow, text[: len(text) // 2]) == "invalid_join_code"
    # Another member's code (its supply point is not this home's), and one naming none.
    neighbour = community.add_member("m-0002")
    assert await error_for(hass, flow, encode(neighbour)) == "join_code_other_cups"
    assert await error_for(hass, flow, encode(replace(code, cups=None))) == (
        "join_code_without_cups"
    )
    # The same supply point with its boundary suffix is this home's.
    suffixed = replace(code, cups=f"{CUPS}0F", broker_port=free_port())
    assert await error_for(hass, flow, encode(suffixed)) == "cannot_connect"
    # The member's token would go in clear to such an address (older aggregators made them).
    assert code.api_url is not None
    assert code.api_url.startswith("https://")
    in_clear = encode(replace(code, api_url=code.api_url.replace("https://", "http://")))
    assert await error_for(hass, flow, in_clear) == "api_not_https"
    nowhere = encode(replace(code, broker_port=free_port()))
    assert await error_for(hass, flow, nowhere) == "cannot_connect"
    other_ca = broker_certificate(tmp_path / "elsewhere").ca_file.read_text()
    impostor = encode(replace(code, ca_certificate=other_ca))
    assert await error_for(hass, flow, impostor) == "certificate_mismatch"
    expired = start_broker(
        tmp_path / "old", free_port(), {"m-0001": code.mqtt_password}, expired=True
    )
    plain_port = free_port()
    plain = start_plain_broker(tmp_path / "plain", plain_port)
    try:
        stale = replace(code, broker_port=expired.port, ca_certificate=expired.ca_file.read_text())
        assert await error_for(hass, flow, encode(stale)) == "certificate_expired"
        assert await error_for(hass, flow, encode(replace(code, broker_port=plain_port))) == (
            "tls_refused"
        )
    finally:
        expired.service.stop()
        plain.stop()
    community.cli("members", "revoke", "m-0001")
    assert await error_for(hass, flow, text) == "invalid_auth"
    hass.config_entries.flow.async_abort(flow)


def rotate(community: Community, member: str) -> JoinCode:
    result = community.cli("members", "rotate", member, "--json")
    return decode(json.loads(result.stdout)["join_code"])


async def test_rotated_credentials_raise_a_repair_and_reauth_takes_the_new_code(
    hass: HomeAssistant, community: Community
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    entry = await join(hass, code)
    link = entry.runtime_data.community
    suffix = entry.data[CONF_LINK_CLIENT_SUFFIX]

    new = rotate(community, "m-0001")
    # The broker drops every connection; the home comes back with its old password.
    community.broker.service.stop()
    community.broker.service.start(port=community.broker.port)
    await hass.async_add_executor_job(wait_until, lambda: link.state is LinkState.REFUSED)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert ir.async_get(hass).async_get_issue(
        "homeassistant", f"config_entry_reauth_{DOMAIN}_{entry.entry_id}"
    )

    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id, {"join_code": encode(code)})
    assert result["errors"] == {"join_code": "invalid_auth"}  # the old code no longer works
    # The pasted code stays in the field, to be corrected rather than pasted again.
    assert suggested(result, "join_code") == encode(code)
    # Another member's code, even of this supply point, would make the home that member.
    other_member = replace(new, member="m-0002")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"join_code": encode(other_member)}
    )
    assert result["errors"] == {"join_code": "other_member"}
    neighbour = community.add_member("m-0003")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"join_code": encode(replace(neighbour, member="m-0001"))}
    )
    assert result["errors"] == {"join_code": "join_code_other_cups"}
    in_clear = replace(new, api_url="http://127.0.0.1:8099")
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"join_code": encode(in_clear)}
    )
    assert result["errors"] == {"join_code": "api_not_https"}
    other = replace(new, community="otra")
    result = await hass.config_entries.flow.async_configure(flow_id, {"join_code": encode(other)})
    assert result["errors"] == {"join_code": "wrong_community"}
    result = await hass.config_entries.flow.async_configure(flow_id, {"join_code": encode(new)})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_COMMUNITY]["mqtt_password"] == new.mqtt_password
    # New credentials, new client id.
    assert entry.data[CONF_LINK_CLIENT_SUFFIX] not in (None, suffix)
    relinked = entry.runtime_data.community
    await hass.async_add_executor_job(wait_until, lambda: relinked.state is LinkState.CONNECTED)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_an_unusable_outbox_raises_a_repair_and_the_home_goes_on(
    hass: HomeAssistant,
) -> None:
    code = JoinCode(
        community="molinos",
        member="m-0001",
        topic_prefix="ioe/v1/molinos",
        broker_host="127.0.0.1",
        broker_port=free_port(),
        ca_certificate=None,
        mqtt_password="unused",
        api_token="ioe_unused",
        api_url=None,
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa",
        unique_id=CUPS,
        data={"name": "Casa", "cups": CUPS, CONF_COMMUNITY: asdict(code)},
    )
    # A directory where the outbox file should be: SQLite cannot open it.
    outbox = Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.outbox.db"))
    await hass.async_add_executor_job(lambda: outbox.mkdir(parents=True))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    issue_id = f"outbox_unusable_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    # No file path nor English error inside a translated text: the log has the reason.
    assert issue.translation_placeholders == {"home": "Casa"}
    assert entry.runtime_data.community.state is LinkState.STOPPED

    # The repair sets the damaged file aside and the link starts with a new one.
    result = await fix_issue(hass, issue_id, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert entry.runtime_data.community.state is not LinkState.STOPPED
    aside = [p for p in outbox.parent.iterdir() if p.name.startswith(f"{outbox.name}.damaged-")]
    assert len(aside) == 1
    assert await hass.async_add_executor_job(outbox.is_file)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_readings_are_sent_again_and_history_imported_only_with_the_recorder(
    hass: HomeAssistant, community: Community
) -> None:
    code = community.add_member("m-0001", cups=CUPS)
    entry = await join(hass, code)
    now = dt_util.now()
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "resend_readings",
            {"start": now - timedelta(hours=2), "end": now},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "recorder_needed"
    # Nor is the distributor's history imported: the recorder keeps statistics.
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, "import_distributor_history", {}, blocking=True, return_response=True
        )
    assert err.value.translation_key == "statistics_need_recorder"
    assert await hass.config_entries.async_unload(entry.entry_id)


def other_installation(code: JoinCode, tmp_path: Path, name: str) -> LinkClient:
    """Start another Home Assistant's link with the same join code (its own client id)."""
    settings = LinkSettings.from_join_code(HomeCode(**asdict(code)), "other", new_client_suffix())
    client = LinkClient(settings, Outbox(tmp_path / f"{name}.db"))
    client.start()
    return client


def stays(check: Callable[[], bool], seconds: float) -> bool:
    """Return whether ``check()`` holds all along ``seconds`` (no flapping)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("broker", ["community", "addon_community"])
async def test_one_membership_one_home(
    hass: HomeAssistant, broker: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two installations with one join code: asked before, displaced after, no flapping.

    On the community's own broker (client ids bound to logins: a second connection takes the
    first one's session) and on one like the Mosquitto add-on's (both connect side by side).
    """
    community: Community = request.getfixturevalue(broker)
    code = community.add_member("m-0001", cups=CUPS)
    elsewhere = other_installation(code, tmp_path, "elsewhere")
    try:
        await hass.async_add_executor_job(
            wait_until, lambda: elsewhere.state is LinkState.CONNECTED
        )
        flow = await join_step(hass)
        result = await hass.config_entries.flow.async_configure(flow, {"join_code": encode(code)})
        assert result["errors"] == {"join_code": "member_in_use"}
        assert suggested(result, "join_code") == encode(code)
        assert "move_membership" in [str(key) for key in result["data_schema"].schema]
        result = await hass.config_entries.flow.async_configure(
            flow, {"join_code": encode(code), "move_membership": True}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await hass.async_block_till_done()
        link = entry.runtime_data.community
        await hass.async_add_executor_job(
            wait_until, lambda: elsewhere.state is LinkState.DISPLACED
        )
        await hass.async_add_executor_job(wait_until, lambda: link.state is LinkState.CONNECTED)
        # The other one stopped: this home keeps its connection (before: both flapped).
        assert await hass.async_add_executor_job(
            stays, lambda: link.state is LinkState.CONNECTED, 4
        )
        assert elsewhere.state is LinkState.DISPLACED
    finally:
        elsewhere.stop()

    # Another installation comes with the code again: this home stops, and says so.
    intruder = other_installation(code, tmp_path, "intruder")
    try:
        await hass.async_add_executor_job(wait_until, lambda: link.state is LinkState.DISPLACED)
        await hass.async_block_till_done()
        issue_id = f"membership_displaced_{entry.entry_id}"
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.is_fixable
        assert issue.translation_placeholders == {
            "home": "Casa",
            "community": "molinos",
            "member": "m-0001",
        }
        assert sensor(hass, entry, "link_status") == "displaced"
        # (On a broker binding ids to logins, the home's last try took the session a moment.)
        await hass.async_add_executor_job(wait_until, lambda: intruder.state is LinkState.CONNECTED)
        assert await hass.async_add_executor_job(
            stays, lambda: intruder.state is LinkState.CONNECTED, 3
        )
        # After a restart too, until the household decides.
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.runtime_data.community.state is LinkState.DISPLACED
        assert await hass.async_add_executor_job(
            stays, lambda: intruder.state is LinkState.CONNECTED, 2
        )

        # The household takes it back: the intruder's link stops instead.
        result = await fix_issue(hass, issue_id, {"next_step_id": "take_back"}, {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        relinked = entry.runtime_data.community
        await hass.async_add_executor_job(wait_until, lambda: intruder.state is LinkState.DISPLACED)
        await hass.async_add_executor_job(wait_until, lambda: relinked.state is LinkState.CONNECTED)
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    finally:
        intruder.stop()
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_home_leaves_its_community_from_its_options(
    hass: HomeAssistant, request: pytest.FixtureRequest
) -> None:
    # A listener that lets the test log in as the member beside the home.
    community: Community = request.getfixturevalue("addon_community")
    code = community.add_member("m-0001", cups=CUPS)
    entry = await join(hass, code)
    await wait_for_connected(hass, entry)
    outbox = Path(hass.config.path(".storage", f"{DOMAIN}.{entry.entry_id}.outbox.db"))
    assert await hass.async_add_executor_job(outbox.exists)
    watcher = community.connect("m-0001", code.mqtt_password)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["leave_community"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "leave_community"}
    )
    assert result["description_placeholders"] == {"current": "molinos", "member": "m-0001"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert CONF_COMMUNITY not in entry.data
    assert CONF_LINK_CLIENT_SUFFIX not in entry.data
    assert entry.runtime_data.community is None
    assert not await hass.async_add_executor_job(outbox.exists)
    # It said goodbye: the community sees the member offline.
    watcher.subscribe("ioe/v1/molinos/m/m-0001/status")
    watcher.wait_for(lambda: watcher.payloads("ioe/v1/molinos/m/m-0001/status"))
    status = json.loads(watcher.payloads("ioe/v1/molinos/m/m-0001/status")[-1])
    assert status["state"] == "offline"
    # It may join again (or join another community) from Reconfigure.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Casa", "cups": CUPS}
    )
    assert result["step_id"] == "join_community"
    hass.config_entries.flow.async_abort(result["flow_id"])
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_community_dashboard_on_request_in_the_households_language(
    hass: HomeAssistant, community: Community
) -> None:
    await async_setup_component(hass, "lovelace", {})
    await hass.config.async_update(language="es")
    code = community.add_member("m-0001", cups=CUPS)
    entry = await join(hass, code)

    link = entry.runtime_data.community
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["menu_options"] == ["dashboard", "leave_community"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dashboard"}
    )
    # Home Assistant's language is offered (the form cannot tell which one its user reads).
    assert result["data_schema"]({}) == {"language": "es"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    panels = hass.data["frontend_panels"]
    assert panels["comunidad-casa"].sidebar_title == "Mi comunidad"
    assert entry.runtime_data.community is link  # shown at once, the home not reloaded
    config = await hass.data[LOVELACE_DATA].dashboards["comunidad-casa"].async_load(False)
    cards = config["views"][0]["cards"]
    assert "**Casa**" in cards[0]["content"]
    # At the top, the household card on the home's membership device, titled in its language.
    card, note = cards[1]["cards"]
    registry = er.async_get(hass)
    membership = registry.async_get(sensor_id(hass, entry, "coefficient_now"))
    assert membership is not None
    assert card == {
        "type": COMMUNITY_CARD,
        "title": "Mi comunidad",
        "homes": [membership.device_id],
    }
    assert "la línea es tu parte" in note["content"]
    # The card finds each entity it reads on that device by its translation key.
    read = re.search(r"const KEYS = \[(.*?)\];", CARD_MODULE.read_text(), re.DOTALL)
    assert read is not None
    keys = set(re.findall(r'"(\w+)"', read.group(1)))
    on_device = {
        e.translation_key for e in er.async_entries_for_device(registry, membership.device_id)
    }
    assert keys <= on_device, keys - on_device
    # Below it, only the figures the card leaves out, each with its line.
    stacks = [card["cards"] for card in cards if card["type"] == "vertical-stack"]
    sections = [stack for stack in stacks if stack[0]["type"] == "entities"]
    rows = [row for figures, _lines in sections for row in figures["entities"]]
    shown = {row["entity"]: row["name"] for row in rows}
    own = {e.entity_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    assert set(shown) <= own
    assert shown[sensor_id(hass, entry, "self_sufficiency")] == "Autosuficiencia"
    tariff = registry.async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_tariff_period")
    assert shown[tariff] == "Periodo tarifario"
    for key in ("coefficient_now", "savings_month", "allocated_today", "share_forecast"):
        assert sensor_id(hass, entry, key) not in shown
    lines = [line for _figures, text in sections for line in text["content"].splitlines()]
    assert len(lines) == len(shown)
    assert any(line.startswith("- **Autosuficiencia**: ") for line in lines)
    chart = next(card for card in cards if card["type"] == "statistics-graph")
    assert chart["entities"]

    # Made again in English (the household reads it): English texts, the language kept.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dashboard"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"language": "en"}
    )
    await hass.async_block_till_done()
    assert panels["comunidad-casa"].sidebar_title == "My community"
    config = await hass.data[LOVELACE_DATA].dashboards["comunidad-casa"].async_load(False)
    assert "Self-sufficiency" in str(config["views"][0]["cards"])
    assert "Autosuficiencia" not in str(config["views"][0]["cards"])
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "dashboard"}
    )
    assert result["data_schema"]({}) == {"language": "en"}
    hass.config_entries.options.async_abort(result["flow_id"])

    # It stays across a restart, and goes with the community.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert "comunidad-casa" in hass.data["frontend_panels"]
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "leave_community"}
    )
    await hass.config_entries.options.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()
    assert "comunidad-casa" not in hass.data["frontend_panels"]
    assert "dashboard" not in entry.options
    stored = Path(hass.config.path(".storage", f"lovelace.{DOMAIN}_{entry.entry_id}"))
    assert not await hass.async_add_executor_job(stored.exists)
    assert await hass.config_entries.async_unload(entry.entry_id)
