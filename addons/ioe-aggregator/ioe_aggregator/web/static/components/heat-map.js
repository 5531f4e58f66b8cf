// The completeness heat-map's cells and scale: light to dark green by the share of a day's
// quarter hours present, each cell with its value as text for screen readers.
import { h } from "../dom.js";
import { formatDate, formatNumber, translator } from "../i18n.js";

const TEXTS = {
  en: { legend: "Scale", none: "nothing", full: "complete" },
  es: { legend: "Escala", none: "nada", full: "completo" },
};
const t = translator(TEXTS);

/** The share (0-1, undefined: none) as text, e.g. "75 %". */
export function sharePercent(share) {
  return share === undefined ? "—" : `${formatNumber(share * 100, { maximumFractionDigits: 0 })} %`;
}

/** A column heading: the day of the month, read out as the whole date. */
export function heatDay(day) {
  return h("th", { scope: "col", class: "heat-day" }, h("span", { "aria-hidden": "true" }, day.slice(8)),
    h("span", { class: "visually-hidden" }, formatDate(`${day}T12:00:00Z`)));
}

/** A cell of the heat-map; `describe(percent)` gives its tooltip. */
export function heatCell(share, describe) {
  const percent = sharePercent(share);
  const level = share === undefined || share === 0 ? 0 : Math.min(4, 1 + Math.floor(share * 4 - 1e-9));
  return h("td", { class: `heat heat-${level}`, title: describe(percent) }, h("span", { class: "visually-hidden" }, percent));
}

/** The scale under a heat-map, from nothing to complete. */
export function heatLegend() {
  return h("p", { class: "heat-legend" }, `${t("legend")}: `, t("none"), " ",
    [0, 1, 2, 3, 4].map((level) => h("span", { class: `heat-swatch heat-${level}`, "aria-hidden": "true" })), " ", t("full"));
}
