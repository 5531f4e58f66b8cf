// A member's access to their portal, on their page in the control centre: the links issued
// (never their secrets), a new link (which replaces the one they had) and its revocation. A
// new link and its code are shown once, to copy, print or scan.
import { api } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatDate, formatDateTime, formatNumber, translator } from "../i18n.js";
import { confirm, openDialog } from "./dialog.js";
import { errorMessage, notice, problemOf } from "./message.js";

const TEXTS = {
  en: {
    title: "Portal access",
    intro: "The member's portal shows the household their own figures and lets them download all their data. Give them a personal link (or its code, to type in the portal): it works until it expires, you replace it or you revoke it.",
    none: "No link issued yet.",
    days: "Valid for (days)",
    "days-hint": "From 1 to 365 days.",
    issue: "Issue a link",
    replace: "Replace the link",
    "replace-title": "Replace {name}'s link?",
    "replace-text": "The link and code they have stop working at once, and they are signed out of the portal.",
    "replace-action": "Issue a new link",
    revoke: "Revoke the link",
    "revoke-title": "Revoke {name}'s link?",
    "revoke-text": "They can no longer open the portal until you issue them a new link. Their data is kept.",
    "revoke-action": "Revoke the link",
    "revoked-done": "{name}'s link was revoked.",
    history: "Links issued",
    issued: "Issued",
    expires: "Expires",
    state: "State",
    "last-used": "Last used",
    never: "Never",
    "state.active": "Active",
    "state.expired": "Expired",
    "state.replaced": "Replaced",
    "state.revoked": "Revoked",
    "shown-title": "Portal link for {name}",
    once: "It is shown only now: send the link to the household (by e-mail or a message), or print this page and give it to them. The code does the same job when typed in the portal.",
    link: "Personal link",
    "no-url": "The portal's address is not known here: set public_api_url in the add-on's configuration (the https address members reach), or open the control centre at that address. Until then, the link is this path after that address:",
    code: "Code",
    "valid-until": "Valid until {date}.",
    copy: "Copy the link",
    "copy-code": "Copy the code",
    copied: "Copied",
    "copy-failed": "Select the text and copy it by hand.",
    print: "Print",
    qr: "QR code of the portal link",
    done: "Done",
    "error.no_link": "There is no link to revoke.",
    "error.bad_link_days": "Choose from 1 to 365 days.",
  },
  es: {
    title: "Acceso al portal",
    intro: "El portal del socio muestra al hogar sus propias cifras y le deja descargar todos sus datos. Dale un enlace personal (o su código, para escribirlo en el portal): funciona hasta que caduca, lo sustituyes o lo revocas.",
    none: "Todavía no se ha emitido ningún enlace.",
    days: "Válido durante (días)",
    "days-hint": "De 1 a 365 días.",
    issue: "Emitir un enlace",
    replace: "Sustituir el enlace",
    "replace-title": "¿Sustituir el enlace de {name}?",
    "replace-text": "El enlace y el código que tiene dejan de funcionar al momento, y se cierra su sesión en el portal.",
    "replace-action": "Emitir un enlace nuevo",
    revoke: "Revocar el enlace",
    "revoke-title": "¿Revocar el enlace de {name}?",
    "revoke-text": "No podrá abrir el portal hasta que le emitas un enlace nuevo. Sus datos se conservan.",
    "revoke-action": "Revocar el enlace",
    "revoked-done": "El enlace de {name} ha sido revocado.",
    history: "Enlaces emitidos",
    issued: "Emitido",
    expires: "Caduca",
    state: "Estado",
    "last-used": "Último uso",
    never: "Nunca",
    "state.active": "Activo",
    "state.expired": "Caducado",
    "state.replaced": "Sustituido",
    "state.revoked": "Revocado",
    "shown-title": "Enlace al portal de {name}",
    once: "Solo se muestra ahora: envía el enlace al hogar (por correo o mensaje), o imprime esta página y entrégasela. El código sirve igual escrito en el portal.",
    link: "Enlace personal",
    "no-url": "Aquí no se conoce la dirección del portal: pon public_api_url en la configuración del complemento (la dirección https a la que llegan los socios), o abre el centro de control en esa dirección. Mientras tanto, el enlace es esta ruta tras esa dirección:",
    code: "Código",
    "valid-until": "Válido hasta el {date}.",
    copy: "Copiar el enlace",
    "copy-code": "Copiar el código",
    copied: "Copiado",
    "copy-failed": "Selecciona el texto y cópialo a mano.",
    print: "Imprimir",
    qr: "Código QR del enlace al portal",
    done: "Hecho",
    "error.no_link": "No hay ningún enlace que revocar.",
    "error.bad_link_days": "Elige de 1 a 365 días.",
  },
};
const t = translator(TEXTS);

function describe(error) {
  const key = `error.${error?.code}`;
  return t(key) === key ? problemOf(error) : errorMessage(t(key));
}

function copyButton(label, text, field) {
  const button = h("button", { type: "button", class: "secondary" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = t("copied");
      announce(t("copied"));
    } catch {
      field.select?.();
      announce(t("copy-failed"));
    }
  });
  return button;
}

/** Show a new link and its code once, to copy, print or scan. */
function showIssued(name, issued) {
  const linkText = issued.url ?? issued.path;
  const linkField = h("textarea", { class: "join-code", readonly: true, rows: 3, "aria-label": t("link"), spellcheck: "false" }, linkText);
  const codeField = h("input", { class: "portal-code", readonly: true, value: issued.code, "aria-label": t("code"), spellcheck: "false" });
  const qr = issued.qr_svg
    ? h("img", { class: "qr", alt: t("qr"), src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(issued.qr_svg)}` })
    : null;
  let dialog = null;
  const content = h(
    "section",
    { class: "join-code-block portal-issued" },
    h("p", {}, t("once")),
    h("p", {}, t("valid-until", { date: formatDate(issued.link.expires, { dateStyle: "long" }) })),
    h(
      "div",
      { class: "join-code-body" },
      h(
        "div",
        { class: "join-code-text" },
        h("h3", {}, t("link")),
        issued.url ? null : h("p", { class: "hint" }, t("no-url")),
        linkField,
        copyButton(t("copy"), linkText, linkField),
        h("h3", {}, t("code")),
        codeField,
        copyButton(t("copy-code"), issued.code, codeField),
      ),
      qr,
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => window.print() }, t("print")),
      h("button", { type: "button", class: "primary", onclick: () => dialog.close() }, t("done")),
    ),
  );
  dialog = openDialog(t("shown-title", { name }), content);
}

function historyTable(links) {
  if (links.length === 0) return h("p", {}, t("none"));
  const when = (value) => (value === null ? t("never") : formatDateTime(value));
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": t("history") },
    h(
      "table",
      { class: "stacked" },
      h("caption", { class: "visually-hidden" }, t("history")),
      h("thead", {}, h("tr", {}, ["issued", "expires", "state", "last-used"].map((key) => h("th", { scope: "col" }, t(key))))),
      h(
        "tbody",
        {},
        [...links].reverse().map((link) =>
          h(
            "tr",
            {},
            h("td", { "data-label": t("issued") }, formatDateTime(link.created)),
            h("td", { "data-label": t("expires") }, formatDate(link.expires)),
            h("td", { "data-label": t("state") }, t(`state.${link.state}`)),
            h("td", { "data-label": t("last-used") }, when(link.last_used)),
          ),
        ),
      ),
    ),
  );
}

/** The card of `member`'s portal access; `canManage`: the caller may issue and revoke. */
export async function portalLinkCard(member, canManage) {
  const card = h("section", { class: "card", "aria-labelledby": "portal-title" });
  const id = encodeURIComponent(member.id);
  const status = h("div", { class: "status-area" });

  async function draw() {
    let links;
    try {
      links = await api(`members/${id}/portal-links`);
    } catch (error) {
      replace(card, h("h2", { id: "portal-title" }, t("title")), problemOf(error));
      return;
    }
    const active = links.some((link) => link.state === "active");
    const days = h("input", { id: "portal-days", type: "number", min: 1, max: 365, step: 1, value: 90, required: true, "aria-describedby": "portal-days-hint" });
    const issue = async (event) => {
      event.preventDefault();
      if (active && !(await confirm({ title: t("replace-title", { name: member.name }), text: t("replace-text"), action: t("replace-action") }))) return;
      try {
        const issued = await api(`members/${id}/portal-link`, { method: "POST", body: { days: Number(days.value) } });
        await draw();
        showIssued(member.name, issued);
      } catch (error) {
        replace(status, describe(error));
      }
    };
    const revoke = async () => {
      const yes = await confirm({ title: t("revoke-title", { name: member.name }), text: t("revoke-text"), action: t("revoke-action"), danger: true });
      if (!yes) return;
      try {
        await api(`members/${id}/portal-link`, { method: "DELETE" });
        await draw();
        replace(status, notice(t("revoked-done", { name: member.name })));
        announce(t("revoked-done", { name: member.name }));
      } catch (error) {
        replace(status, describe(error));
      }
    };
    const form =
      canManage && member.revoked === null
        ? h(
            "form",
            { class: "portal-issue", onsubmit: issue },
            h("div", { class: "field" }, h("label", { for: "portal-days" }, t("days")), days, h("p", { class: "hint", id: "portal-days-hint" }, t("days-hint"))),
            h(
              "div",
              { class: "actions" },
              active ? h("button", { type: "button", class: "danger", onclick: revoke }, t("revoke")) : null,
              h("button", { type: "submit", class: "primary" }, active ? t("replace") : t("issue")),
            ),
          )
        : null;
    replace(
      card,
      h("h2", { id: "portal-title" }, t("title")),
      h("p", { class: "intro" }, t("intro")),
      status,
      h("h3", {}, t("history"), " ", h("span", { class: "count" }, `(${formatNumber(links.length)})`)),
      historyTable(links),
      form,
    );
  }

  await draw();
  return card;
}
