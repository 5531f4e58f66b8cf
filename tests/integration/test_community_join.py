"""Joining a community in the config flow: each failure has its own translated error; reauth.

Real parts: the community's broker on the aggregator's generated files, members registered,
rotated and revoked with the aggregator's command line.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta
import json
from pathlib import Path

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ioe_community.const import CONF_COMMUNITY, CONF_LINK_CLIENT_SUFFIX, DOMAIN
from custom_components.ioe_community.link.api import ApiProblem
from custom_components.ioe_community.link.client import LinkProblem, LinkState
from ioe_aggregator.members.join_code import JoinCode, decode, encode
from ioe_dev.mosquitto import broker_certificate, start_broker, start_plain_broker
from ioe_dev.processes import free_port
from tests.community import Community, wait_until
from tests.conftest import REPO

from .conftest import CUPS

TRANSLATIONS = REPO / "custom_components" / "ioe_community" / "translations"


@pytest.fixture(autouse=True)
def allow_local_sockets(socket_enabled: None) -> None:
    """Let the flow reach the community's broker on 127.0.0.1."""


async def join_step(hass: HomeAssistant) -> str:
    """Start a home's flow and return its join step's flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Casa", "cups": CUPS}
    )
    assert result["step_id"] == "join"
    return str(result["flow_id"])


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
    code = community.add_member("m-0001")
    text = encode(code)
    flow = await join_step(hass)
    assert await error_for(hass, flow, "IOE1-not-a-code") == "invalid_join_code"
    assert await error_for(hass, flow, text[: len(text) // 2]) == "invalid_join_code"
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
    code = community.add_member("m-0001")
    result = await hass.config_entries.flow.async_configure(
        await join_step(hass), {"join_code": encode(code)}
    )
    entry = result["result"]
    await hass.async_block_till_done()
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
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"outbox_unusable_{entry.entry_id}")
    assert issue is not None
    assert "cannot open the outbox" in issue.translation_placeholders["reason"]
    assert entry.runtime_data.community.state is LinkState.STOPPED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_readings_are_sent_again_and_history_imported_only_with_the_recorder(
    hass: HomeAssistant, community: Community
) -> None:
    code = community.add_member("m-0001")
    result = await hass.config_entries.flow.async_configure(
        await join_step(hass), {"join_code": encode(code)}
    )
    await hass.async_block_till_done()
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
    assert await hass.config_entries.async_unload(result["result"].entry_id)
