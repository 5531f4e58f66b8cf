// Settings (admins): who may do what (people and their roles), API tokens, webhooks (and their
// deliveries), the public display, the audit log.
import { api, ApiError } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDateTime, translator } from "../i18n.js";
import { confirm, openDialog } from "../components/dialog.js";
import { errorMessage, notice } from "../components/message.js";

const TEXTS = {
  en: {
    title: "Settings",
    people: "People",
    "people-intro": "Home Assistant users appear here the first time they open the control centre; give them a role. People without Home Assistant sign in with a user of their own.",
    person: "Person",
    signs_in: "Signs in",
    role: "Role",
    state: "State",
    "via-ha": "Home Assistant",
    "via-local": "User name {username}",
    "role.none": "No role",
    "role.viewer": "Viewer (reads)",
    "role.operator": "Operator (manages)",
    "role.admin": "Admin (everything)",
    "role-of": "Role of {name}",
    "role-saved": "{name} is now: {role}",
    enabled: "Active",
    disabled: "Disabled",
    disable: "Disable",
    enable: "Enable",
    "disable-title": "Disable {name}?",
    "disable-text": "They can no longer open the control centre, and their sessions end now.",
    "add-user": "Add a user with a password",
    username: "User name",
    "username-hint": "2 to 32 lower-case letters, digits, '.', '_' or '-'.",
    name: "Name",
    password: "Password",
    "password-hint": "At least 12 characters. Give it to the person privately.",
    create: "Create",
    tokens: "API tokens",
    "tokens-intro": "For other systems: the community's billing app, a public display. A token is shown only once, when it is created.",
    label: "Used by",
    scope: "Scope",
    "scope.public": "Public (community totals)",
    "scope.provider": "Monitoring provider (Som Comunitats' platform: daily energies)",
    "scope.broker": "Cluster broker (asks who may log in: EMQX)",
    created: "Created",
    expires: "Expires",
    never: "Never",
    revoked: "Revoked",
    expired: "Expired",
    revoke: "Revoke",
    "revoke-title": "Revoke the token “{label}”?",
    "revoke-text": "Whatever uses it stops working at once.",
    "add-token": "Create a token",
    "expires-days": "Expires after (days; empty: never)",
    "token-once": "This is the token, shown only now. Copy it into the other system.",
    "token-title": "Token “{label}”",
    copy: "Copy",
    copied: "Copied",
    done: "Done",
    "no-tokens": "No tokens yet.",
    audit: "Audit log",
    "audit-intro": "Every sign-in and change, newest first.",
    when: "When",
    who: "Who",
    action: "What",
    subject: "On",
    "filter-action": "Show",
    "all-actions": "Everything",
    "filter-who": "Who (contains)",
    older: "Older entries",
    "no-entries": "No entries match.",
    times: "×{count}",
    display: "Public display",
    "display-intro": "A page with the community's figures for a screen in a public place or a web page, without signing in: production now, energy shared and used in the community, CO₂ avoided, money saved, members.",
    "display-on": "Show the public display",
    "display-is-on": "The public display is on.",
    "display-is-off": "The public display is off: its address answers “not switched on”.",
    "display-privacy": "Privacy: only totals of the community (today to its last whole hour, and whole days), from at least {min} members whose data covers every hour of them, and only when no member weighs more than 40 % of any of them. Nobody's own figures are ever shown.",
    "display-url": "Address of the display",
    "display-kiosk": "For a TV (full screen, large text)",
    "display-embed": "To embed it in a web page",
    "display-no-url": "Set the add-on's public_api_url option (its HTTPS address) to see the display's address here.",
    "display-open": "Open the display",
    logo: "Logo",
    "logo-upload": "Upload a logo",
    "logo-hint": "PNG, JPEG or WebP, at most 256 KiB.",
    "logo-none": "No logo yet: the display shows the community's name alone.",
    "logo-kept": "Logo: {type}, {size} KiB.",
    "logo-saved": "The logo is saved.",
    "logo-remove": "Remove the logo",
    "logo-removed": "The logo is removed.",
    "error.logo_type": "The logo must be a PNG, JPEG or WebP image.",
    "error.logo_too_large": "The logo is too large: at most 256 KiB.",
    webhooks: "Webhooks",
    "webhooks-intro": "Addresses told of the community's events as they happen: the billing platform, an ERP, a Node-RED flow. Each delivery is signed (Standard Webhooks) with the webhook's secret, shown once; a receiver that does not answer gets it again later, in order.",
    "no-webhooks": "No webhooks yet.",
    "add-webhook": "Add a webhook",
    "webhook-url": "Address (https://…)",
    "webhook-events": "Events",
    "webhook-description": "Description",
    "event.month.closed": "A month closed",
    "event.agreement.adopted": "Agreement adopted",
    "event.member.joined": "Member joined",
    "event.member.left": "Member left",
    "event.datadis.sync_failed": "Datadis sync failed",
    "event.webhook.ping": "Test",
    address: "Address",
    events: "Events",
    deliveries: "Deliveries",
    "deliveries-of": "Deliveries to {url}",
    "webhook-counts": "delivered: {delivered} · pending: {pending} · failed: {failed}",
    "no-deliveries": "Nothing sent yet.",
    event: "Event",
    attempts: "Attempts",
    answer: "Last answer",
    "state.pending": "Pending",
    "state.delivered": "Delivered",
    "state.failed": "Failed",
    "next-at": "next try {when}",
    replay: "Replay",
    replayed: "Sent again.",
    ping: "Send a test",
    pinged: "Test event sent.",
    remove: "Remove",
    "remove-webhook-title": "Remove the webhook to {url}?",
    "remove-webhook-text": "It is told of nothing more, and its deliveries are forgotten.",
    "secret-title": "Signing secret",
    "secret-once": "Give this secret to the receiver, which checks every delivery's signature with it. It is shown only now.",
    show: "Show",
  },
  es: {
    title: "Ajustes",
    people: "Personas",
    "people-intro": "Los usuarios de Home Assistant aparecen aquí la primera vez que abren el centro de control; dales un rol. Quien no tiene Home Assistant entra con un usuario propio.",
    person: "Persona",
    signs_in: "Entra con",
    role: "Rol",
    state: "Estado",
    "via-ha": "Home Assistant",
    "via-local": "Usuario {username}",
    "role.none": "Sin rol",
    "role.viewer": "Consulta (lee)",
    "role.operator": "Gestión (gestiona)",
    "role.admin": "Administración (todo)",
    "role-of": "Rol de {name}",
    "role-saved": "{name} tiene ahora: {role}",
    enabled: "Activo",
    disabled: "Desactivado",
    disable: "Desactivar",
    enable: "Activar",
    "disable-title": "¿Desactivar a {name}?",
    "disable-text": "Ya no podrá abrir el centro de control, y sus sesiones terminan ahora.",
    "add-user": "Añadir un usuario con contraseña",
    username: "Usuario",
    "username-hint": "De 2 a 32 letras minúsculas, cifras, '.', '_' o '-'.",
    name: "Nombre",
    password: "Contraseña",
    "password-hint": "Al menos 12 caracteres. Dásela a la persona en privado.",
    create: "Crear",
    tokens: "Tokens de la API",
    "tokens-intro": "Para otros sistemas: la aplicación de facturación de la comunidad, una pantalla pública. Un token solo se muestra una vez, al crearlo.",
    label: "Lo usa",
    scope: "Ámbito",
    "scope.public": "Público (totales de la comunidad)",
    "scope.provider": "Proveedor de monitorización (plataforma de Som Comunitats: energía diaria)",
    "scope.broker": "Bróker en clúster (pregunta quién puede entrar: EMQX)",
    created: "Creado",
    expires: "Caduca",
    never: "Nunca",
    revoked: "Revocado",
    expired: "Caducado",
    revoke: "Revocar",
    "revoke-title": "¿Revocar el token «{label}»?",
    "revoke-text": "Lo que lo use deja de funcionar al momento.",
    "add-token": "Crear un token",
    "expires-days": "Caduca a los (días; vacío: nunca)",
    "token-once": "Este es el token, que solo se muestra ahora. Cópialo en el otro sistema.",
    "token-title": "Token «{label}»",
    copy: "Copiar",
    copied: "Copiado",
    done: "Hecho",
    "no-tokens": "Todavía no hay tokens.",
    audit: "Registro de auditoría",
    "audit-intro": "Cada entrada y cada cambio, del más reciente al más antiguo.",
    when: "Cuándo",
    who: "Quién",
    action: "Qué",
    subject: "Sobre",
    "filter-action": "Mostrar",
    "all-actions": "Todo",
    "filter-who": "Quién (contiene)",
    older: "Entradas anteriores",
    "no-entries": "Ninguna entrada coincide.",
    times: "×{count}",
    display: "Pantalla pública",
    "display-intro": "Una página con las cifras de la comunidad para una pantalla en un lugar público o una web, sin iniciar sesión: producción ahora, energía repartida y aprovechada en la comunidad, CO₂ evitado, ahorro y socios.",
    "display-on": "Mostrar la pantalla pública",
    "display-is-on": "La pantalla pública está activada.",
    "display-is-off": "La pantalla pública está desactivada: su dirección responde «no está activada».",
    "display-privacy": "Privacidad: solo totales de la comunidad (hoy hasta su última hora completa, y días completos), de al menos {min} socios cuyos datos cubren cada una de sus horas, y solo si ningún socio pesa más del 40 % en ninguna. Nunca se muestran las cifras de nadie.",
    "display-url": "Dirección de la pantalla",
    "display-kiosk": "Para una televisión (pantalla completa, texto grande)",
    "display-embed": "Para insertarla en una página web",
    "display-no-url": "Indica la opción public_api_url del complemento (su dirección HTTPS) para ver aquí la dirección de la pantalla.",
    "display-open": "Abrir la pantalla",
    logo: "Logotipo",
    "logo-upload": "Subir un logotipo",
    "logo-hint": "PNG, JPEG o WebP, de 256 KiB como mucho.",
    "logo-none": "Aún no hay logotipo: la pantalla muestra solo el nombre de la comunidad.",
    "logo-kept": "Logotipo: {type}, {size} KiB.",
    "logo-saved": "El logotipo está guardado.",
    "logo-remove": "Quitar el logotipo",
    "logo-removed": "El logotipo se ha quitado.",
    "error.logo_type": "El logotipo debe ser una imagen PNG, JPEG o WebP.",
    "error.logo_too_large": "El logotipo es demasiado grande: 256 KiB como mucho.",
    webhooks: "Webhooks",
    "webhooks-intro": "Direcciones a las que se avisa de los eventos de la comunidad cuando ocurren: la plataforma de facturación, un ERP, un flujo de Node-RED. Cada entrega va firmada (Standard Webhooks) con el secreto del webhook, que se muestra una vez; un receptor que no responde la recibe más tarde, en orden.",
    "no-webhooks": "Todavía no hay webhooks.",
    "add-webhook": "Añadir un webhook",
    "webhook-url": "Dirección (https://…)",
    "webhook-events": "Eventos",
    "webhook-description": "Descripción",
    "event.month.closed": "Cierre de mes",
    "event.agreement.adopted": "Acuerdo adoptado",
    "event.member.joined": "Alta de socio",
    "event.member.left": "Baja de socio",
    "event.datadis.sync_failed": "Fallo al sincronizar Datadis",
    "event.webhook.ping": "Prueba",
    address: "Dirección",
    events: "Eventos",
    deliveries: "Entregas",
    "deliveries-of": "Entregas a {url}",
    "webhook-counts": "entregadas: {delivered} · pendientes: {pending} · fallidas: {failed}",
    "no-deliveries": "Todavía no se ha enviado nada.",
    event: "Evento",
    attempts: "Intentos",
    answer: "Última respuesta",
    "state.pending": "Pendiente",
    "state.delivered": "Entregada",
    "state.failed": "Fallida",
    "next-at": "siguiente intento {when}",
    replay: "Repetir",
    replayed: "Enviada otra vez.",
    ping: "Enviar una prueba",
    pinged: "Evento de prueba enviado.",
    remove: "Eliminar",
    "remove-webhook-title": "¿Eliminar el webhook a {url}?",
    "remove-webhook-text": "No se le avisará de nada más y se olvidan sus entregas.",
    "secret-title": "Secreto de firma",
    "secret-once": "Da este secreto al receptor, que comprueba con él la firma de cada entrega. Solo se muestra ahora.",
    show: "Ver",
  },
};
const ACTIONS = {
  en: {
    login: "Signed in", login_failed: "Failed sign-ins", logout: "Signed out",
    token_created: "Token created", token_revoked: "Token revoked",
    member_added: "Member added", member_rotated: "Member's credentials renewed",
    member_revoked: "Member revoked", member_plant: "Plant registered",
    agreement_added: "Agreement recorded", agreement_ended: "Agreement ended",
    agreement_removed: "Agreement removed", export: "Data exported",
    user_added: "Person added", user_changed: "Person changed",
    comparison_started: "Comparison started", datadis_sync: "Datadis sync asked for",
    display_changed: "Public display changed",
    portal_link_issued: "Portal link issued", portal_link_revoked: "Portal link revoked",
    prices_posted: "Prices posted", prices_removed: "Prices removed",
    member_changed: "Member changed", community_synced: "Members and coefficients received",
    webhook_added: "Webhook added", webhook_removed: "Webhook removed", webhook_replayed: "Webhook delivery replayed",
  },
  es: {
    login: "Entrada", login_failed: "Entradas fallidas", logout: "Salida",
    token_created: "Token creado", token_revoked: "Token revocado",
    member_added: "Alta de socio", member_rotated: "Credenciales de socio renovadas",
    member_revoked: "Baja de socio", member_plant: "Planta registrada",
    agreement_added: "Acuerdo registrado", agreement_ended: "Acuerdo terminado",
    agreement_removed: "Acuerdo eliminado", export: "Datos exportados",
    user_added: "Persona añadida", user_changed: "Persona cambiada",
    comparison_started: "Comparación lanzada", datadis_sync: "Sincronización de Datadis pedida",
    display_changed: "Pantalla pública cambiada",
    portal_link_issued: "Enlace al portal emitido", portal_link_revoked: "Enlace al portal revocado",
    prices_posted: "Precios publicados", prices_removed: "Precios retirados",
    member_changed: "Socio cambiado", community_synced: "Socios y coeficientes recibidos",
    webhook_added: "Webhook añadido", webhook_removed: "Webhook eliminado", webhook_replayed: "Entrega de webhook repetida",
  },
};
for (const lang of Object.keys(TEXTS)) {
  for (const [action, text] of Object.entries(ACTIONS[lang])) TEXTS[lang][`action.${action}`] = text;
}
const t = translator(TEXTS);
const ROLES = ["viewer", "operator", "admin"];
const TOKEN_SCOPES = ["viewer", "operator", "admin", "public", "provider", "broker"];
const SERVICE_SCOPES = new Set(["public", "provider", "broker"]);

function roleName(role) {
  return t(`role.${role ?? "none"}`);
}

function problemOf(error) {
  return errorMessage(error instanceof ApiError ? error.describe() : String(error));
}

function field(id, label, input, hint = null) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

/** A table in a box that scrolls sideways on its own (reachable by keyboard when it does). */
function scrollingTable(caption, headings, rows, { actionColumn = false } = {}) {
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map((key) => h("th", { scope: "col" }, t(key))), actionColumn ? h("td", {}) : null)),
      h("tbody", {}, rows),
    ),
  );
}

/** A table whose rows become blocks on a phone, each cell labelled (``data-label``). */
function stackedTable(caption, headings, rows) {
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      { class: "stacked" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map((key) => h("th", { scope: "col" }, t(key))), h("td", {}))),
      h("tbody", {}, rows),
    ),
  );
}

function roleSelect(id, selected, { withNone = true, label = null } = {}) {
  const options = [...(withNone ? [null] : []), ...ROLES].map((role) =>
    h("option", { value: role ?? "", selected: role === selected }, roleName(role)),
  );
  return h("select", { id, "aria-label": label }, options);
}

// People ----------------------------------------------------------------------------------

async function peopleCard(session, changed) {
  const card = h("section", { class: "card", "aria-labelledby": "people-title" });
  const status = h("div", {});
  const users = await api("users");

  function row(user) {
    const select = roleSelect(`role-${user.id}`, user.role, { label: t("role-of", { name: user.name }) });
    select.addEventListener("change", async () => {
      const role = select.value || null;
      try {
        const saved = await api(`users/${user.id}`, { method: "PATCH", body: { role } });
        Object.assign(user, saved);
        replace(status, notice(t("role-saved", { name: user.name, role: roleName(role) })));
        await changed();
      } catch (error) {
        select.value = user.role ?? "";
        replace(status, problemOf(error));
      }
    });
    const disabled = user.disabled !== null;
    const toggle = h("button", { type: "button", class: disabled ? "secondary" : "text danger-text" }, t(disabled ? "enable" : "disable"));
    toggle.addEventListener("click", async () => {
      if (!disabled && !(await confirm({ title: t("disable-title", { name: user.name }), text: t("disable-text"), action: t("disable"), danger: true }))) return;
      try {
        await api(`users/${user.id}`, { method: "PATCH", body: { disabled: !disabled } });
        await draw();
        await changed();
      } catch (error) {
        replace(status, problemOf(error));
      }
    });
    const isSelf = session.user.id === user.id;
    return h(
      "tr",
      { class: disabled ? "is-revoked" : null },
      h("td", {}, user.name),
      h("td", {}, user.kind === "local" ? t("via-local", { username: user.username }) : t("via-ha")),
      h("td", {}, select),
      h("td", {}, h("span", { class: `badge ${disabled ? "revoked" : "active"}` }, t(disabled ? "disabled" : "enabled"))),
      h("td", {}, isSelf ? null : toggle),
    );
  }

  async function draw() {
    const fresh = await api("users");
    users.splice(0, users.length, ...fresh);
    replace(
      card,
      h("div", { class: "page-header" }, h("h2", { id: "people-title" }, t("people")),
        h("button", { type: "button", class: "secondary", onclick: () => addUser(async () => { await draw(); await changed(); }) }, t("add-user"))),
      h("p", { class: "intro" }, t("people-intro")),
      status,
      scrollingTable(t("people"), ["person", "signs_in", "role", "state"], users.map(row), { actionColumn: true }),
    );
  }
  await draw();
  return card;
}

function addUser(done) {
  const problem = h("div", {});
  const username = h("input", { id: "new-username", autocomplete: "off", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{1,31}", spellcheck: "false" });
  const name = h("input", { id: "new-name", required: true, maxlength: 100 });
  const password = h("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true, minlength: 12 });
  const role = roleSelect("new-role", "viewer", { withNone: false });
  const form = h(
    "form",
    {},
    problem,
    field("new-username", t("username"), username, t("username-hint")),
    field("new-name", t("name"), name),
    field("new-password", t("password"), password, t("password-hint")),
    field("new-role", t("role"), role),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
      h("button", { type: "submit", class: "primary" }, t("create"))),
  );
  const dialog = openDialog(t("add-user"), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("users", {
        method: "POST",
        body: { username: username.value.trim().toLowerCase(), name: name.value, role: role.value, password: password.value },
      });
      dialog.close();
      await done();
    } catch (error) {
      replace(problem, problemOf(error));
    }
  });
  username.focus();
}

// Tokens ----------------------------------------------------------------------------------

function tokenState(token) {
  if (token.revoked) return h("span", { class: "badge revoked" }, t("revoked"));
  if (token.expired) return h("span", { class: "badge revoked" }, t("expired"));
  return h("span", { class: "badge active" }, t("enabled"));
}

async function tokensCard(changed) {
  const card = h("section", { class: "card", "aria-labelledby": "tokens-title" });
  const status = h("div", {});

  async function draw() {
    // Members' tokens live in their join codes: they are managed on the members' pages.
    const tokens = (await api("tokens")).filter((token) => token.scope !== "member");
    const rows = tokens.map((token) => {
      const live = !token.revoked && !token.expired;
      const revoke = h("button", { type: "button", class: "text danger-text" }, t("revoke"));
      revoke.addEventListener("click", async () => {
        if (!(await confirm({ title: t("revoke-title", { label: token.label }), text: t("revoke-text"), action: t("revoke"), danger: true }))) return;
        try {
          await api(`tokens/${token.id}/revoke`, { method: "POST" });
          await draw();
          await changed();
        } catch (error) {
          replace(status, problemOf(error));
        }
      });
      return h(
        "tr",
        { class: live ? null : "is-revoked" },
        h("td", {}, token.label),
        h("td", {}, scopeName(token.scope)),
        h("td", {}, formatDateTime(token.created)),
        h("td", {}, token.expires ? formatDateTime(token.expires) : t("never")),
        h("td", {}, tokenState(token)),
        h("td", {}, live ? revoke : null),
      );
    });
    replace(
      card,
      h("div", { class: "page-header" }, h("h2", { id: "tokens-title" }, t("tokens")),
        h("button", { type: "button", class: "secondary", onclick: () => addToken(async () => { await draw(); await changed(); }) }, t("add-token"))),
      h("p", { class: "intro" }, t("tokens-intro")),
      status,
      tokens.length === 0
        ? h("p", {}, t("no-tokens"))
        : scrollingTable(t("tokens"), ["label", "scope", "created", "expires", "state"], rows, { actionColumn: true }),
    );
  }
  await draw();
  return card;
}

function scopeName(scope) {
  return SERVICE_SCOPES.has(scope) ? t(`scope.${scope}`) : roleName(scope);
}

function addToken(done) {
  const problem = h("div", {});
  const label = h("input", { id: "token-label", required: true, maxlength: 100 });
  const scope = h("select", { id: "token-scope" }, TOKEN_SCOPES.map((one) => h("option", { value: one, selected: one === "viewer" }, scopeName(one))));
  const days = h("input", { id: "token-days", type: "number", min: 1, max: 3650, inputmode: "numeric" });
  const form = h(
    "form",
    {},
    problem,
    field("token-label", t("label"), label),
    field("token-scope", t("scope"), scope),
    field("token-days", t("expires-days"), days),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
      h("button", { type: "submit", class: "primary" }, t("create"))),
  );
  const dialog = openDialog(t("add-token"), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { scope: scope.value, label: label.value.trim() };
    if (days.value) body.expires_in_days = Number(days.value);
    try {
      const made = await api("tokens", { method: "POST", body });
      dialog.close();
      await done();
      showToken(made);
    } catch (error) {
      replace(problem, problemOf(error));
    }
  });
  label.focus();
}

/** Show a secret this once in a dialog, with a button that copies it. */
function showOnce(id, title, once, secret) {
  const text = h("input", { id, readonly: true, value: secret, spellcheck: "false", class: "token-text" });
  const copy = h("button", { type: "button", class: "secondary" }, t("copy"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = t("copied");
      announce(t("copied"));
    } catch {
      text.select();
    }
  });
  const dialog = openDialog(title, [
    h("p", {}, once),
    h("div", { class: "field" }, h("label", { for: id }, title), text),
    h("div", { class: "actions" }, copy, h("button", { type: "button", class: "primary", onclick: () => dialog.close() }, t("done"))),
  ]);
  text.select();
}

function showToken(made) {
  showOnce("new-token", t("token-title", { label: made.label }), t("token-once"), made.token);
}

// Webhooks --------------------------------------------------------------------------------

const WEBHOOK_EVENTS = ["month.closed", "agreement.adopted", "member.joined", "member.left", "datadis.sync_failed"];

function deliveryState(delivery) {
  const state = t(`state.${delivery.state}`);
  return delivery.state === "pending" && delivery.next_attempt
    ? `${state} (${t("next-at", { when: formatDateTime(delivery.next_attempt) })})`
    : state;
}

async function showDeliveries(hook, changed) {
  const body = h("div", {});
  const status = h("div", {});
  const dialog = openDialog(t("deliveries-of", { url: hook.url }), [status, body,
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => dialog.close() }, t("done")))]);
  dialog.classList.add("wide");
  async function draw() {
    const deliveries = await api(`webhooks/${hook.id}/deliveries`);
    const rows = deliveries.map((delivery) => {
      const again = h("button", { type: "button", class: "text" }, t("replay"));
      again.addEventListener("click", async () => {
        try {
          await api(`webhooks/${hook.id}/deliveries/${encodeURIComponent(delivery.event)}/replay`, { method: "POST" });
          replace(status, notice(t("replayed")));
          await draw();
          await changed();
        } catch (error) {
          replace(status, problemOf(error));
        }
      });
      const answer = delivery.last_error ?? (delivery.last_status === null ? "–" : String(delivery.last_status));
      return h("tr", {},
        h("th", { scope: "row" }, t(`event.${delivery.type}`)),
        h("td", { "data-label": t("created") }, formatDateTime(delivery.created)),
        h("td", { "data-label": t("state") }, deliveryState(delivery)),
        h("td", { "data-label": t("attempts") }, String(delivery.attempts)),
        h("td", { class: "wrap", "data-label": t("answer") }, answer),
        h("td", {}, again));
    });
    replace(body, deliveries.length === 0
      ? h("p", {}, t("no-deliveries"))
      : stackedTable(t("deliveries"), ["event", "created", "state", "attempts", "answer"], rows));
  }
  await draw();
}

async function webhooksCard(changed) {
  const card = h("section", { class: "card", "aria-labelledby": "webhooks-title" });
  const status = h("div", {});

  async function draw() {
    const hooks = await api("webhooks");
    const rows = hooks.map((hook) => {
      const look = h("button", { type: "button", class: "text" }, t("show"));
      look.addEventListener("click", () => showDeliveries(hook, async () => { await draw(); await changed(); }));
      const ping = h("button", { type: "button", class: "text" }, t("ping"));
      ping.addEventListener("click", async () => {
        try {
          await api(`webhooks/${hook.id}/ping`, { method: "POST" });
          replace(status, notice(t("pinged")));
          await draw();
        } catch (error) {
          replace(status, problemOf(error));
        }
      });
      const remove = h("button", { type: "button", class: "text danger-text" }, t("remove"));
      remove.addEventListener("click", async () => {
        if (!(await confirm({ title: t("remove-webhook-title", { url: hook.url }), text: t("remove-webhook-text"), action: t("remove"), danger: true }))) return;
        try {
          await api(`webhooks/${hook.id}`, { method: "DELETE" });
          await draw();
          await changed();
        } catch (error) {
          replace(status, problemOf(error));
        }
      });
      return h("tr", {},
        h("th", { scope: "row", class: "wrap" }, h("span", { class: "token-text" }, hook.url), hook.description ? h("div", { class: "hint" }, hook.description) : null),
        h("td", { class: "wrap", "data-label": t("events") }, hook.events.map((one) => t(`event.${one}`)).join(", ")),
        h("td", { "data-label": t("deliveries") }, h("div", { class: "row-actions" }, t("webhook-counts", { delivered: hook.delivered, pending: hook.pending, failed: hook.failed }), look)),
        h("td", {}, h("div", { class: "row-actions" }, ping, remove)));
    });
    replace(
      card,
      h("div", { class: "page-header" }, h("h2", { id: "webhooks-title" }, t("webhooks")),
        h("button", { type: "button", class: "secondary", onclick: () => addWebhook(async () => { await draw(); await changed(); }) }, t("add-webhook"))),
      h("p", { class: "intro" }, t("webhooks-intro")),
      status,
      hooks.length === 0 ? h("p", {}, t("no-webhooks")) : stackedTable(t("webhooks"), ["address", "events", "deliveries"], rows),
    );
  }
  await draw();
  return card;
}

function addWebhook(done) {
  const problem = h("div", {});
  const url = h("input", { id: "webhook-url", type: "url", required: true, maxlength: 2000, placeholder: "https://" });
  const description = h("input", { id: "webhook-description", maxlength: 200 });
  const boxes = WEBHOOK_EVENTS.map((one) => h("input", { type: "checkbox", id: `webhook-event-${one}`, value: one, checked: true }));
  const events = h("fieldset", {}, h("legend", {}, t("webhook-events")),
    boxes.map((box) => h("label", { for: box.id, class: "check" }, box, t(`event.${box.value}`))));
  const form = h("form", {}, problem,
    field("webhook-url", t("webhook-url"), url),
    events,
    field("webhook-description", t("webhook-description"), description),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
      h("button", { type: "submit", class: "primary" }, t("create"))));
  const dialog = openDialog(t("add-webhook"), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { url: url.value.trim(), events: boxes.filter((box) => box.checked).map((box) => box.value), description: description.value.trim() };
    try {
      const made = await api("webhooks", { method: "POST", body });
      dialog.close();
      await done();
      showSecret(made);
    } catch (error) {
      replace(problem, problemOf(error));
    }
  });
  url.focus();
}

function showSecret(made) {
  showOnce("new-secret", t("secret-title"), t("secret-once"), made.secret);
}

// Public display --------------------------------------------------------------------------

// The privacy rule's minimum of members (the aggregator's MIN_CONTRIBUTORS).
const DISPLAY_MIN_MEMBERS = 5;

function displayProblem(error) {
  const own = error instanceof ApiError && ["logo_type", "logo_too_large"].includes(error.code);
  return own ? errorMessage(t(`error.${error.code}`)) : problemOf(error);
}

function copyable(id, label, value, multiline = false) {
  const attributes = { id, readonly: true, spellcheck: "false", class: "token-text" };
  const input = multiline ? h("textarea", { ...attributes, rows: 3 }, value) : h("input", { ...attributes, value });
  input.addEventListener("focus", () => input.select());
  return field(id, label, input);
}

async function displayCard(changed) {
  const card = h("section", { class: "card", "aria-labelledby": "display-title" });
  const status = h("div", {});

  async function save(call, done) {
    try {
      const found = await call();
      draw(found);
      replace(status, notice(done(found)));
      await changed();
    } catch (error) {
      replace(status, displayProblem(error));
    }
  }

  function draw(found) {
    const toggle = h("input", { type: "checkbox", id: "display-on", role: "switch", checked: found.enabled });
    toggle.addEventListener("change", () =>
      save(() => api("display", { method: "PUT", body: { enabled: toggle.checked } }),
        (saved) => t(saved.enabled ? "display-is-on" : "display-is-off")));
    const upload = h("input", { type: "file", id: "display-logo", accept: "image/png,image/jpeg,image/webp" });
    upload.addEventListener("change", () => {
      const [file] = upload.files;
      if (file) save(() => api("display/logo", { method: "PUT", file }), () => t("logo-saved"));
    });
    const remove = h("button", { type: "button", class: "text danger-text" }, t("logo-remove"));
    remove.addEventListener("click", () => save(() => api("display/logo", { method: "DELETE" }), () => t("logo-removed")));
    const logo = found.logo;
    const url = found.public_url ? `${found.public_url.replace(/\/$/, "")}/${found.path}` : null;
    const name = document.getElementById("community-name")?.textContent ?? "";
    replace(
      card,
      h("h2", { id: "display-title" }, t("display")),
      h("p", { class: "intro" }, t("display-intro")),
      status,
      h("div", { class: "field switch" }, toggle, h("label", { for: "display-on" }, t("display-on"))),
      h("p", { class: "hint", id: "display-state" }, t(found.enabled ? "display-is-on" : "display-is-off")),
      h("p", { class: "hint" }, t("display-privacy", { min: DISPLAY_MIN_MEMBERS })),
      url
        ? [
            copyable("display-url", t("display-url"), url),
            copyable("display-kiosk-url", t("display-kiosk"), `${url}?kiosk=1`),
            copyable("display-embed", t("display-embed"),
              `<iframe src="${url}?embed=1" title="${name.replaceAll('"', "&quot;")}" width="100%" height="420" style="border:0"></iframe>`, true),
            found.enabled ? h("p", {}, h("a", { href: url, target: "_blank", rel: "noopener" }, t("display-open"))) : null,
          ]
        : h("p", { class: "hint" }, t("display-no-url")),
      h("h3", {}, t("logo")),
      h("p", {}, logo ? t("logo-kept", { type: logo.type.replace("image/", "").toUpperCase(), size: Math.ceil(logo.bytes / 1024) }) : t("logo-none")),
      field("display-logo", t("logo-upload"), upload, t("logo-hint")),
      logo ? remove : null,
    );
  }
  draw(await api("display"));
  return card;
}

// Audit log -------------------------------------------------------------------------------

async function auditCard(session) {
  const card = h("section", { class: "card", "aria-labelledby": "audit-title" });
  const entries = [];
  let next = null;
  const action = h("select", { id: "audit-action" }, h("option", { value: "" }, t("all-actions")),
    Object.keys(ACTIONS.en).map((one) => h("option", { value: one }, t(`action.${one}`))));
  const who = h("input", { id: "audit-who", type: "search", autocomplete: "off" });
  const body = h("div", {});
  const older = h("button", { type: "button", class: "secondary" }, t("older"));

  async function load(before = null) {
    const page = await api(`audit?limit=100${before ? `&before=${encodeURIComponent(before)}` : ""}`);
    if (!before) entries.length = 0;
    entries.push(...page.entries);
    next = page.next;
  }
  const names = new Map();
  for (const user of await api("users")) names.set(`user:${user.id}`, user.name);
  names.set(`user:${session.user.id}`, session.user.name);

  function draw() {
    const needle = who.value.trim().toLocaleLowerCase();
    const shown = entries.filter(
      (entry) =>
        (!action.value || entry.action === action.value) &&
        (!needle || `${entry.actor} ${names.get(entry.actor) ?? ""}`.toLocaleLowerCase().includes(needle)),
    );
    replace(
      body,
      shown.length === 0
        ? h("p", {}, t("no-entries"))
        : scrollingTable(
            t("audit"),
            ["when", "who", "action", "subject"],
            shown.map((entry) =>
              h(
                "tr",
                {},
                h("td", {}, formatDateTime(entry.at)),
                h("td", {}, names.get(entry.actor) ?? entry.actor),
                h("td", {}, t(`action.${entry.action}`), entry.occurrences > 1 ? ` ${t("times", { count: entry.occurrences })}` : ""),
                names.has(entry.subject) ? h("td", {}, names.get(entry.subject)) : h("td", { class: "subject" }, entry.subject),
              ),
            ),
          ),
      next ? older : null,
    );
  }
  older.addEventListener("click", async () => {
    await load(next);
    draw();
  });
  action.addEventListener("change", draw);
  who.addEventListener("input", draw);
  await load();
  draw();
  replace(
    card,
    h("h2", { id: "audit-title" }, t("audit")),
    h("p", { class: "intro" }, t("audit-intro")),
    h("div", { class: "filters" }, field("audit-action", t("filter-action"), action), field("audit-who", t("filter-who"), who)),
    body,
  );
  // The newest entries again, after a change made on this page.
  const reload = async () => {
    await load();
    draw();
  };
  return { card, reload };
}

export async function render(main, _params, session) {
  const audit = await auditCard(session);
  const [people, tokens, webhooks, display] = await Promise.all([
    peopleCard(session, audit.reload),
    tokensCard(audit.reload),
    webhooksCard(audit.reload),
    displayCard(audit.reload),
  ]);
  replace(main, h("h1", {}, t("title")), people, tokens, webhooks, display, audit.card);
}
