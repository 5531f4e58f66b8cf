// The members: a sortable, filterable list, and the way to add one.
import { api } from "../api.js";
import { h, replace, announce } from "../dom.js";
import { formatNumber, translator } from "../i18n.js";
import { currentQuery } from "../router.js";
import { emptyState } from "../components/empty.js";
import { openAddMember } from "./add-member.js";
import { withMemberTexts } from "./members-texts.js";

const TEXTS = withMemberTexts({
  en: {
    title: "Members",
    add: "Add member",
    filter: "Filter by id, name or CUPS",
    shown: "{shown} of {total} members",
    "no-match": "No member matches “{filter}”.",
    "empty-title": "No members yet",
    "empty-text": "Add the first one: you will get their join code to give to the household.",
    "add-first": "Add the first member",
    "sort-by": "Sort by {column}",
    list: "Members",
  },
  es: {
    title: "Socios",
    add: "Añadir socio",
    filter: "Filtrar por id, nombre o CUPS",
    shown: "{shown} de {total} socios",
    "no-match": "Ningún socio coincide con «{filter}».",
    "empty-title": "Todavía no hay socios",
    "empty-text": "Añade el primero: recibirás su código de unión para dárselo al hogar.",
    "add-first": "Añadir el primer socio",
    "sort-by": "Ordenar por {column}",
    list: "Socios",
  },
});
const t = translator(TEXTS);
const COLUMNS = [
  { key: "id", value: (m) => m.id },
  { key: "name", value: (m) => m.name.toLocaleLowerCase() },
  { key: "cups", value: (m) => m.cups },
  { key: "contracted_kw", value: (m) => m.contracted_kw, numeric: true },
  { key: "status", value: (m) => (m.revoked === null ? 0 : 1) },
];

function status(member) {
  return member.revoked === null
    ? h("span", { class: "badge active" }, t("active"))
    : h("span", { class: "badge revoked" }, t("revoked-short"));
}

export async function render(main, _params, session) {
  let members = await api("members");
  const canManage = session.permissions.includes("manage");
  const sort = { key: "id", ascending: true };
  let filter = "";
  const refresh = async () => {
    members = await api("members");
    draw();
  };
  const add = () => openAddMember(refresh);
  const addButton = canManage ? h("button", { type: "button", class: "primary", onclick: add }, t("add")) : null;
  const body = h("div", {});
  const header = h("div", { class: "page-header" }, h("h1", {}, t("title")), addButton);

  function table(shown) {
    const headings = COLUMNS.map((column) => {
      const current = sort.key === column.key;
      const button = h(
        "button",
        { type: "button", class: "sort", title: t("sort-by", { column: t(column.key) }) },
        t(column.key),
        h("span", { "aria-hidden": "true", class: "sort-mark" }, current ? (sort.ascending ? " ▲" : " ▼") : ""),
      );
      button.addEventListener("click", () => {
        sort.ascending = current ? !sort.ascending : true;
        sort.key = column.key;
        draw();
        body.querySelector(`th[data-key="${column.key}"] button`)?.focus();
      });
      return h(
        "th",
        { scope: "col", dataset: { key: column.key }, class: column.numeric ? "numeric" : null, "aria-sort": current ? (sort.ascending ? "ascending" : "descending") : null },
        button,
      );
    });
    return h(
      "div",
      { class: "table-scroll card" },
      h(
        "table",
        { class: "members" },
        h("caption", { class: "visually-hidden" }, t("list")),
        h("thead", {}, h("tr", {}, headings)),
        h(
          "tbody",
          {},
          shown.map((member) =>
            h(
              "tr",
              { class: member.revoked === null ? null : "is-revoked" },
              h("td", {}, h("a", { href: `#/members/${encodeURIComponent(member.id)}` }, member.id)),
              h("td", {}, member.name),
              h("td", { class: "cups" }, member.cups),
              h("td", { class: "numeric" }, formatNumber(member.contracted_kw, { maximumFractionDigits: 2 })),
              h("td", {}, status(member)),
            ),
          ),
        ),
      ),
    );
  }

  function draw() {
    if (members.length === 0) {
      replace(
        body,
        emptyState({
          title: t("empty-title"),
          text: t("empty-text"),
          action: canManage ? h("button", { type: "button", class: "primary", onclick: add }, t("add-first")) : null,
        }),
      );
      return;
    }
    const column = COLUMNS.find((one) => one.key === sort.key);
    const needle = filter.trim().toLocaleLowerCase();
    const shown = members
      .filter((m) => !needle || [m.id, m.name, m.cups].some((text) => text.toLocaleLowerCase().includes(needle)))
      .sort((a, b) => {
        const [x, y] = [column.value(a), column.value(b)];
        const order = x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1;
        return sort.ascending ? order : -order;
      });
    const count = t("shown", { shown: shown.length, total: members.length });
    replace(
      body,
      filterBox(),
      h("p", { class: "count", id: "members-count" }, count),
      shown.length ? table(shown) : h("p", { class: "card empty" }, t("no-match", { filter })),
    );
    announce(count);
  }

  let filterInput = null;
  function filterBox() {
    if (!filterInput) {
      filterInput = h("input", { id: "members-filter", type: "search", autocomplete: "off", "aria-describedby": "members-count" });
      filterInput.addEventListener("input", () => {
        filter = filterInput.value;
        draw();
        filterInput.focus();
      });
    }
    return h("div", { class: "field filter" }, h("label", { for: "members-filter" }, t("filter")), filterInput);
  }

  draw();
  replace(main, header, body);
  if (canManage && currentQuery().has("add")) add();
}
