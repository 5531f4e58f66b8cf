"""Settings, as an admin uses them: roles for Home Assistant users, tokens, the audit log.

The journeys go through a stand-in for Home Assistant's ingress (``ioe_dev.ingress``): each
user's own proxy names them, as the Supervisor does, under the ingress path prefix.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.async_api import Browser
import pytest

from ioe_dev.processes import free_port
from tests.community import Community, StartAggregator, call, wait_until
from tests.web.conftest import ControlCentre, OpenVisit, open_page, violations_text
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.usefixtures("allow_local_sockets")

type IngressProxy = Callable[[int, str, str], str]
TEXTS = {
    "en": {
        "settings": "Settings",
        "role": "Role of Jordi",
        "operator": "Operator (manages)",
        "saved": "Jordi is now: Operator (manages)",
        "no-role": "No role yet",
        "add-member": "Add member",
        "add-token": "Create a token",
        "create": "Create",
        "revoke": "Revoke",
        "all": "Everything",
    },
    "es": {
        "settings": "Ajustes",
        "role": "Rol de Jordi",
        "operator": "Gestión (gestiona)",
        "saved": "Jordi tiene ahora: Gestión (gestiona)",
        "no-role": "Todavía sin rol",
        "add-member": "Añadir socio",
        "add-token": "Crear un token",
        "create": "Crear",
        "revoke": "Revocar",
        "all": "Todo",
    },
}


@pytest.mark.parametrize(("language", "width"), [("en", "desktop"), ("es", "phone")])
async def test_the_admin_gives_a_home_assistant_user_the_operator_role(
    browser: Browser,
    community: Community,
    start_aggregator: StartAggregator,
    ingress_proxy: IngressProxy,
    language: str,
    width: str,
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy="127.0.0.1")
    texts = TEXTS[language]
    owner = await open_page(
        browser, ingress_proxy(port, "ha-owner", "Marta"), language=language, width=width
    )
    await owner.open()  # the first Home Assistant user: the community's admin
    jordi = await open_page(
        browser, ingress_proxy(port, "ha-jordi", "Jordi"), language=language, width=width
    )
    await jordi.open()
    assert await jordi.page.locator("main h1").inner_text() == texts["no-role"]
    assert await jordi.page.locator("#navigation a").count() == 0

    await owner.open("settings")
    assert await owner.page.locator("main h1").inner_text() == texts["settings"]
    await owner.page.get_by_label(texts["role"]).select_option(label=texts["operator"])
    await owner.page.get_by_text(texts["saved"]).wait_for()
    assert await owner.axe() == [], violations_text(await owner.axe())
    assert await owner.horizontal_overflow() == 0
    await owner.screenshot(f"settings-{width}-{language}")

    await jordi.page.reload()
    await jordi.page.wait_for_selector("main h1")
    await jordi.open("members")
    assert await jordi.page.get_by_role("button", name=texts["add-member"]).count() >= 1
    assert await jordi.page.locator('#navigation a[data-section="settings"]').count() == 0
    for visit in (owner, jordi):
        assert visit.errors == []
        assert visit.outside() == []
    audit = call(f"http://127.0.0.1:{port}", "GET", "/api/v1/audit", community.token("admin"))
    changed = [e for e in audit.json()["entries"] if e["action"] == "user_changed"]
    assert [e["detail"] for e in changed] == [{"role": "operator"}]


async def test_a_token_is_shown_once_and_revoked(
    browser: Browser,
    community: Community,
    start_aggregator: StartAggregator,
    ingress_proxy: IngressProxy,
) -> None:
    _service, port = start_aggregator(**community.options, ingress_proxy="127.0.0.1")
    texts = TEXTS["en"]
    owner = await open_page(browser, ingress_proxy(port, "ha-owner", "Marta"))
    await owner.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await owner.open("settings")
    await owner.page.get_by_role("button", name=texts["add-token"]).click()
    await owner.page.fill("#token-label", "Facturación")
    await owner.page.select_option("#token-scope", "viewer")
    await owner.page.fill("#token-days", "90")
    await owner.page.locator("dialog").get_by_role("button", name=texts["create"]).click()
    shown = await owner.page.locator("#new-token").input_value()
    assert shown.startswith("ioe_")
    base = f"http://127.0.0.1:{port}"
    # The token works, with the role it was given.
    assert call(base, "GET", "/api/v1/members", shown).status == 200
    assert call(base, "GET", "/api/v1/tokens", shown).status == 403
    await owner.page.get_by_role("button", name="Done").click()
    await owner.page.locator("dialog").wait_for(state="detached")
    # Never shown again.
    assert shown not in await owner.page.content()
    await owner.page.reload()
    await owner.page.wait_for_selector("#tokens-title")
    assert shown not in await owner.page.content()

    await owner.page.get_by_role("button", name=texts["revoke"]).click()
    await owner.page.locator("dialog").get_by_role("button", name=texts["revoke"]).click()
    await owner.page.locator("#tokens-title").wait_for()
    await owner.page.get_by_text("Revoked").first.wait_for()
    assert call(base, "GET", "/api/v1/members", shown).status == 401
    # The audit log shows the admin's work by name, filtered by what was done.
    await owner.page.select_option("#audit-action", "token_revoked")
    rows = owner.page.get_by_role("region", name="Audit log").locator("tbody tr")
    # The log reloads after the revocation: wait for its entry, then for it alone.
    await rows.first.wait_for()
    assert await rows.count() == 1
    assert "Marta" in await rows.first.inner_text()
    assert owner.errors == []


BROKER_SCOPE = {
    "en": "Cluster broker (asks who may log in: EMQX)",
    "es": "Bróker en clúster (pregunta quién puede entrar: EMQX)",
}


@pytest.mark.parametrize(("language", "width"), [("en", "desktop"), ("es", "phone")])
async def test_a_token_for_the_cluster_broker(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str
) -> None:
    texts = TEXTS[language]
    page = await visit(language, width)
    await page.open("settings")
    await page.page.get_by_role("button", name=texts["add-token"]).click()
    await page.page.fill("#token-label", "EMQX")
    await page.page.select_option("#token-scope", label=BROKER_SCOPE[language])
    await page.page.locator("dialog").get_by_role("button", name=texts["create"]).click()
    shown = await page.page.locator("#new-token").input_value()
    await page.page.locator("dialog").get_by_role("button").last.click()
    await page.page.locator("dialog").wait_for(state="detached")
    # It asks the broker hook, and reaches nothing else.
    base = control_centre.base.rstrip("/")
    question = {"username": "homeassistant", "password": "x", "clientid": "c"}
    answer = call(base, "POST", "/api/v1/broker/authn", shown, question)
    assert (answer.status, answer.json()) == (200, {"result": "ignore"})
    assert call(base, "GET", "/api/v1/members", shown).status == 403
    row = page.page.locator("section[aria-labelledby=tokens-title] tbody tr", has_text="EMQX")
    assert BROKER_SCOPE[language] in await row.inner_text()
    assert await page.axe() == [], violations_text(await page.axe())
    assert await page.horizontal_overflow() == 0
    await row.scroll_into_view_if_needed()
    await page.screenshot(f"settings-broker-token-{width}-{language}")
    assert page.errors == []


WEBHOOK_TEXTS = {
    "en": {"add": "Add a webhook", "create": "Create", "done": "Done", "ping": "Send a test",
           "show": "Show", "delivered": "Delivered", "replay": "Replay", "remove": "Remove",
           "none": "No webhooks yet.", "test": "Test"},
    "es": {"add": "Añadir un webhook", "create": "Crear", "done": "Hecho",
           "ping": "Enviar una prueba", "show": "Ver", "delivered": "Entregada",
           "replay": "Repetir", "remove": "Eliminar", "none": "Todavía no hay webhooks.",
           "test": "Prueba"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("language", "width", "scheme"), [("en", "desktop", "light"), ("es", "phone", "dark")]
)
async def test_a_webhook_is_added_tried_replayed_and_removed(
    visit: OpenVisit, control_centre: ControlCentre, language: str, width: str, scheme: str
) -> None:
    texts = WEBHOOK_TEXTS[language]
    receiver = Receiver(free_port())
    receiver.start()
    try:
        page = await visit(language, width, scheme)
        await page.open("settings")
        await page.page.get_by_role("button", name=texts["add"]).click()
        await page.page.fill("#webhook-url", receiver.url)
        await page.page.uncheck("#webhook-event-datadis\\.sync_failed")
        await page.page.fill("#webhook-description", "ERP de la cooperativa")
        await page.page.locator("dialog").get_by_role("button", name=texts["create"]).click()
        receiver.secret = await page.page.locator("#new-secret").input_value()
        assert receiver.secret.startswith("whsec_")
        await page.screenshot(f"settings-webhook-secret-{width}-{language}-{scheme}")
        await page.page.get_by_role("button", name=texts["done"]).click()
        await page.page.locator("dialog").wait_for(state="detached")
        assert receiver.secret not in await page.page.content()  # shown once

        await page.page.get_by_role("button", name=texts["ping"]).click()
        wait_until(receiver.delivered)
        assert receiver.delivered()[0].verified
        assert receiver.delivered()[0].body["type"] == "webhook.ping"
        await page.page.get_by_role("button", name=texts["show"]).click()
        dialog = page.page.locator("dialog")
        await dialog.get_by_text(texts["delivered"]).first.wait_for()
        assert texts["test"] in await dialog.locator("tbody tr").first.inner_text()
        assert await page.axe() == [], violations_text(await page.axe())
        await page.screenshot(f"settings-webhook-deliveries-{width}-{language}-{scheme}")
        await dialog.get_by_role("button", name=texts["replay"]).click()
        wait_until(lambda: len(receiver.delivered()) == 2)
        assert receiver.delivered()[1].event == receiver.delivered()[0].event
        await dialog.get_by_role("button", name=texts["done"]).click()
        await dialog.wait_for(state="detached")
        card = page.page.locator("section[aria-labelledby=webhooks-title]")
        assert "ERP de la cooperativa" in await card.inner_text()
        assert await page.axe() == [], violations_text(await page.axe())
        assert await page.horizontal_overflow() == 0
        await card.scroll_into_view_if_needed()
        await page.screenshot(f"settings-webhooks-{width}-{language}-{scheme}")

        await card.get_by_role("button", name=texts["remove"]).click()
        await page.page.locator("dialog").get_by_role("button", name=texts["remove"]).click()
        await card.get_by_text(texts["none"]).wait_for()
        assert page.errors == []
        assert page.outside() == []
    finally:
        receiver.stop()
