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
const DAY_TICK = { day: "numeric", month: "short" };
// Room for a tick's label ("28 Nov, 12:00 PM"), so that uPlot puts no two on top of each other.
const TICK_SPACE = 110;
const PALETTE = ["--primary-color", "--accent-color", "--warning-color", "--success-color"];
const MOMENT = { dateStyle: "medium", timeStyle: "short" };

function cssVariable(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * A chart of `series` ([{label, values, color?}]) over `times` (epoch seconds), values in
 * `unit`; a series' `color` names a theme variable (default: the palette's next).
 * `summary` is read out as the chart's accessible name. With `levels` ([{value, label}]) the
 * values are states, not quantities: drawn as steps that hold until the next time, named on
 * the axis, in the legend and in the table. `span` ([start, end], epoch seconds) is the time
 * shown when it is more than the data covers. `tick` and `moment` are the Intl date formats
 * of the axis and of each point (legend and table): unless given, the axis shows dates alone
 * when its ticks are a day or more apart, and a point its day and time; `timeLabel` names the
 * points (a day's, a month's) in the legend and the table.
 */
export function timeChart({ title, summary, times, series, unit = "", levels = null, span = null, tick = null, moment = MOMENT, timeLabel = t("time") }) {
  const plotBox = h("div", { class: "chart-plot", role: "img", "aria-label": summary });
  const name = levels ? levelName(levels) : null;
  const number = (value) => formatNumber(value, { maximumFractionDigits: 2 });
  const table = tableOf(times, series, { format: name ?? number, unitSuffix: levels ? "" : ` (${unit})`, moment, timeLabel });
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
    else plot = draw(plotBox, width, { times, series, format: name ?? ((value) => `${number(value)} ${unit}`), levels, span, tick, moment, timeLabel });
  });
  observer.observe(plotBox);
  return figure;
}

function levelName(levels) {
  return (value) => levels.find((level) => level.value === value)?.label ?? "–";
}

function draw(box, width, { times, series, format, levels, span, tick, moment, timeLabel }) {
  const text = cssVariable("--secondary-text-color");
  const grid = cssVariable("--divider-color");
  const axis = { stroke: text, grid: { stroke: grid }, ticks: { stroke: grid } };
  const values = levels?.map((level) => level.value);
  const valueAxis = levels
    ? { ...axis, size: 96, splits: () => values, values: (_plot, ticks) => ticks.map(levelName(levels)) }
    : { ...axis, values: (_plot, ticks) => ticks.map((tick) => formatNumber(tick)) };
  const options = {
    width,
    height: 240,
    series: [
      { label: timeLabel, value: (_plot, value) => (value == null ? "–" : formatDate(value * 1000, moment)) },
      ...series.map((one, index) => ({
        label: one.label,
        stroke: cssVariable(one.color ?? PALETTE[index % PALETTE.length]),
        width: 2,
        value: (_plot, value) => (value == null ? "–" : format(value)),
        paths: levels ? globalThis.uPlot.paths.stepped({ align: 1 }) : undefined,
      })),
    ],
    scales: {
      ...(span ? { x: { time: true, range: () => span } } : {}),
      ...(levels ? { y: { range: () => [Math.min(...values) - 0.5, Math.max(...values) + 0.5] } } : {}),
    },
    // Time ticks in the page's language, not uPlot's built-in English formats.
    axes: [
      {
        ...axis,
        space: TICK_SPACE,
        // Ticks a day or more apart fall at midnight: their date says it all.
        values: (_plot, ticks, _axis, _space, step) => ticks.map((at) => formatDate(at * 1000, tick ?? (step >= 86400 ? DAY_TICK : TICK))),
      },
      valueAxis,
    ],
  };
  const plot = new globalThis.uPlot(options, [times, ...series.map((one) => one.values)], box);
  return plot;
}

function tableOf(times, series, { format, unitSuffix, moment, timeLabel }) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, timeLabel), series.map((one) => h("th", { scope: "col" }, `${one.label}${unitSuffix}`)))),
      h(
        "tbody",
        {},
        times.map((time, row) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, formatDate(time * 1000, moment)),
            series.map((one) => h("td", {}, one.values[row] == null ? "–" : format(one.values[row]))),
          ),
        ),
      ),
    ),
  );
}
