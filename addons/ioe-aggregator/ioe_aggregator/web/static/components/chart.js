// A time chart on uPlot (vendored from npm, loaded by the shell as a global script): as wide
// as its box, in the theme's colours, with a legend and a table of the same figures for
// people who cannot read a chart.
import { h } from "../dom.js";
import { translator, formatDate, formatNumber } from "../i18n.js";

const TEXTS = {
  en: { "show-table": "Show as a table", "show-chart": "Show as a chart", time: "Time" },
  es: { "show-table": "Ver como tabla", "show-chart": "Ver como gráfico", time: "Hora" },
};
const t = translator(TEXTS);
const TICK = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
const PALETTE = ["--primary-color", "--accent-color", "--warning-color", "--success-color"];

function cssVariable(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

const MOMENT = { dateStyle: "medium", timeStyle: "short" };

/**
 * A chart of `series` ([{label, values, color?}]) over `times` (epoch seconds), values in
 * `unit`; a series' `color` names a theme variable (default: the palette's next).
 * `summary` is read out as the chart's accessible name. `tick` and `moment` are the Intl date
 * formats of the axis and of each point (legend and table): a day and time unless given.
 */
export function timeChart({ title, summary, times, series, unit, tick = TICK, moment = MOMENT }) {
  const formats = { tick, moment };
  const plotBox = h("div", { class: "chart-plot", role: "img", "aria-label": summary });
  const table = tableOf(times, series, unit, formats);
  table.hidden = true;
  const toggle = h("button", { type: "button", class: "text", "aria-expanded": "false" }, t("show-table"));
  toggle.addEventListener("click", () => {
    const showTable = table.hidden;
    table.hidden = !showTable;
    plotBox.hidden = showTable;
    toggle.setAttribute("aria-expanded", String(showTable));
    toggle.textContent = showTable ? t("show-chart") : t("show-table");
  });
  const figure = h("figure", { class: "card chart" }, h("figcaption", {}, title), plotBox, table, toggle);
  // Drawn once the figure is in the page and has a width; redrawn when its width changes.
  let plot = null;
  const observer = new ResizeObserver(() => {
    const width = Math.floor(plotBox.clientWidth);
    if (!width || !globalThis.uPlot) return;
    if (plot) plot.setSize({ width, height: 240 });
    else plot = draw(plotBox, width, times, series, unit, formats);
  });
  observer.observe(plotBox);
  return figure;
}

function draw(box, width, times, series, unit, formats) {
  const text = cssVariable("--secondary-text-color");
  const grid = cssVariable("--divider-color");
  const axis = { stroke: text, grid: { stroke: grid }, ticks: { stroke: grid } };
  const options = {
    width,
    height: 240,
    series: [
      { label: t("time"), value: (_plot, value) => (value == null ? "–" : formatDate(value * 1000, formats.moment)) },
      ...series.map((one, index) => ({
        label: one.label,
        stroke: cssVariable(one.color ?? PALETTE[index % PALETTE.length]),
        width: 2,
        value: (_plot, value) => (value == null ? "–" : `${formatNumber(value, { maximumFractionDigits: 2 })} ${unit}`),
      })),
    ],
    // Time ticks in the page's language, not uPlot's built-in English formats.
    axes: [{ ...axis, values: (_plot, ticks) => ticks.map((tick) => formatDate(tick * 1000, formats.tick)) }, { ...axis, values: (_plot, ticks) => ticks.map((tick) => formatNumber(tick)) }],
  };
  const plot = new globalThis.uPlot(options, [times, ...series.map((one) => one.values)], box);
  return plot;
}

function tableOf(times, series, unit, formats) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("time")), series.map((one) => h("th", { scope: "col" }, `${one.label} (${unit})`)))),
      h(
        "tbody",
        {},
        times.map((time, row) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, formatDate(time * 1000, formats.moment)),
            series.map((one) => h("td", {}, one.values[row] == null ? "–" : formatNumber(one.values[row], { maximumFractionDigits: 2 }))),
          ),
        ),
      ),
    ),
  );
}
