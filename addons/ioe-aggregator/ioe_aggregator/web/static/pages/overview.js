// The community at a glance: for now, its members; live figures join it later.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { formatNumber, translator } from "../i18n.js";
import { emptyState } from "../components/empty.js";

const TEXTS = {
  en: {
    title: "Overview",
    active: "Active members",
    revoked: "Revoked members",
    contracted: "Contracted power",
    "empty-title": "No members yet",
    "empty-text": "A community starts with its members: add the first one and give them their join code.",
    "add-first": "Add the first member",
    "see-members": "See the members",
  },
  es: {
    title: "Resumen",
    active: "Socios activos",
    revoked: "Socios dados de baja",
    contracted: "Potencia contratada",
    "empty-title": "Todavía no hay socios",
    "empty-text": "Una comunidad empieza por sus socios: añade el primero y dale su código de unión.",
    "add-first": "Añadir el primer socio",
    "see-members": "Ver los socios",
  },
};
const t = translator(TEXTS);

function tile(label, value) {
  return h("div", { class: "card tile" }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value));
}

export async function render(main, _params, session) {
  const members = await api("members");
  const active = members.filter((member) => member.revoked === null);
  if (members.length === 0) {
    const canAdd = session.permissions.includes("manage");
    replace(
      main,
      h("h1", {}, t("title")),
      emptyState({
        title: t("empty-title"),
        text: t("empty-text"),
        action: canAdd ? h("a", { class: "button primary", href: "#/members?add" }, t("add-first")) : null,
      }),
    );
    return;
  }
  const kw = active.reduce((sum, member) => sum + member.contracted_kw, 0);
  replace(
    main,
    h("h1", {}, t("title")),
    h(
      "div",
      { class: "tiles" },
      tile(t("active"), formatNumber(active.length)),
      tile(t("revoked"), formatNumber(members.length - active.length)),
      tile(t("contracted"), `${formatNumber(kw, { maximumFractionDigits: 1 })} kW`),
    ),
    h("p", {}, h("a", { href: "#/members" }, t("see-members"))),
  );
}
