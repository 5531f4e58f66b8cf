// What the integration's cards share: their languages, the user's number and time formats,
// making elements, the scale of a chart, and defining a card once Home Assistant has loaded.

export const HOUR_MS = 3600 * 1000;
export const DOMAIN = "ioe_community";
export const DOCUMENTATION =
  "https://github.com/ioe-community/ioe-community/blob/main/docs/household-card.md";

// Spain's other languages, which the cards have no texts in: Spanish is read there.
const READ_AS_SPANISH = new Set(["es", "ca", "eu", "gl", "oc"]);
// Home Assistant's number format settings, as the locale whose numbers look that way.
const NUMBER_LOCALES = { comma_decimal: "en-US", decimal_comma: "de-DE", space_comma: "fr-FR" };

/** Return the language of the cards' texts (en, es) for Home Assistant's language. */
export function textLanguage(language) {
  const base = (language || "en").split("-")[0].toLowerCase();
  return READ_AS_SPANISH.has(base) ? "es" : "en";
}

/** Return the texts of ``table`` ({en, es}) in the language the page is shown in. */
export function pageTexts(table) {
  const hass = document.querySelector("home-assistant")?.hass;
  return table[textLanguage(hass?.language || document.documentElement.lang || navigator.language)];
}

/** Put ``values`` in the {placeholders} of ``text``. */
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, key) => values[key]);
}

// The last formats made for each table of texts.
const MADE = new WeakMap();

/** The formats of one Home Assistant user: language, number format, time zone, clock. */
export class Formats {
  /** Return the formats of ``hass``'s user with ``table``'s texts, made once per setting. */
  static of(hass, table) {
    const locale = hass.locale || {};
    const key = [
      locale.language || hass.language, locale.number_format, locale.time_format,
      locale.time_zone, hass.config?.time_zone,
    ].join("|");
    let made = MADE.get(table);
    if (made?.key !== key) {
      made = new Formats(hass, table);
      made.key = key;
      MADE.set(table, made);
    }
    return made;
  }

  constructor(hass, table) {
    const locale = hass.locale || {};
    this.language = locale.language || hass.language || "en";
    // Words (texts, day names) in the texts' language; numbers and times in the user's.
    const words = textLanguage(this.language);
    this.words = words;
    this.texts = table[words];
    this.numberLocale =
      locale.number_format === "system"
        ? undefined
        : NUMBER_LOCALES[locale.number_format] || this.language;
    this.grouping = locale.number_format !== "none";
    // "local" is the browser's zone; otherwise the server's, as Home Assistant shows times.
    this.timeZone =
      locale.time_zone === "local" ? undefined : hass.config?.time_zone || undefined;
    const clock = locale.time_format === "12" ? true : locale.time_format === "24" ? false : undefined;
    const zone = { timeZone: this.timeZone };
    this.time = new Intl.DateTimeFormat(this.language, {
      ...zone, hour: "2-digit", minute: "2-digit", hour12: clock,
    });
    this.weekday = new Intl.DateTimeFormat(words, { ...zone, weekday: "short" });
    this.longWeekday = new Intl.DateTimeFormat(words, { ...zone, weekday: "long" });
    this.parts = partsFormat(this.timeZone);
    this.numbers = {};
  }

  number(value, digits) {
    this.numbers[digits] ||= new Intl.NumberFormat(this.numberLocale, {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
      useGrouping: this.grouping,
    });
    return this.numbers[digits].format(value);
  }

  /** Write an amount of money in ``currency`` (ISO 4217) as the user's locale does. */
  money(value, currency) {
    this.numbers[currency] ||= new Intl.NumberFormat(this.numberLocale, {
      style: "currency", currency, useGrouping: this.grouping,
    });
    return this.numbers[currency].format(value);
  }

  /** Return the local day ("2026-12-05") and hour (0-23) of an instant. */
  local(date) {
    return localParts(this.parts, date);
  }

  /** Name the local day of ``date``: today, tomorrow, or its weekday. */
  dayName(date, today) {
    const day = this.local(date).day;
    if (day === today.day) return this.texts.today;
    if (day === this.local(new Date(today.date.getTime() + 24 * HOUR_MS)).day) {
      return this.texts.tomorrow;
    }
    return this.weekday.format(date);
  }
}

/** Return a formatter of the numeric date and hour in ``timeZone`` (undefined: the browser's). */
export function partsFormat(timeZone) {
  return new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
}

/** Return the day ("2026-12-05"), hour and minute of ``date`` as ``format`` writes them. */
export function localParts(format, date) {
  const part = Object.fromEntries(format.formatToParts(date).map((p) => [p.type, p.value]));
  return {
    day: `${part.year}-${part.month}-${part.day}`,
    hour: Number(part.hour),
    minute: Number(part.minute),
  };
}

/** Return a round number at or above ``value`` whose half is round too (a chart's top). */
export function niceMaximum(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 3, 4, 5, 6, 8, 10].find((s) => s * power >= value);
  return step * power;
}

/**
 * The frame of an hourly bar chart ``width`` × ``height`` with ``margin`` around its plot:
 * ``count`` hours across, 0 to ``top`` kWh up. ``x(index)`` is an hour's left edge, ``y(kwh)``
 * a height, and ``levels(chart, formats)`` draws the grid lines at 0, half and top, labelled.
 */
export function hourlyFrame(width, height, margin, count, top) {
  const plot = {
    left: margin.left,
    top: margin.top,
    width: width - margin.left - margin.right,
    height: height - margin.top - margin.bottom,
  };
  const slot = plot.width / count;
  const y = (kwh) => plot.top + plot.height * (1 - Math.min(kwh, top) / top);
  const levels = (chart, formats) => {
    for (const fraction of [0, 0.5, 1]) {
      const level = y(top * fraction);
      chart.append(svg("line", {
        class: "grid", x1: plot.left, x2: plot.left + plot.width, y1: level, y2: level,
      }));
      chart.append(svg("text", {
        x: plot.left - 6, y: level + 4, "text-anchor": "end",
      }, formats.number(top * fraction, fraction === 0 ? 0 : top < 1 ? 2 : 1)));
    }
  };
  return { plot, slot, x: (index) => plot.left + index * slot, y, levels };
}

const SVG = "http://www.w3.org/2000/svg";

/** Make an SVG element with ``attributes`` and text. */
export function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Make an HTML element with ``attributes`` and text. */
export function html(name, attributes = {}, text) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Return the width of 12 px text, without measuring (a chart is drawn before its layout). */
export function textWidth(text) {
  return text.length * 6.6;
}

/**
 * Return a chart's numbers as a table for screen readers (hidden from sight): ``columns``
 * are the headings, each row its heading and its cells.
 */
export function hiddenTable(caption, columns, rows) {
  const table = html("table", { class: "visually-hidden" });
  table.append(html("caption", {}, caption));
  const head = html("tr");
  for (const text of columns) head.append(html("th", { scope: "col" }, text));
  table.append(html("thead"));
  table.tHead.append(head);
  const body = html("tbody");
  for (const [heading, ...cells] of rows) {
    const row = html("tr");
    row.append(html("th", { scope: "row" }, heading));
    for (const cell of cells) row.append(html("td", {}, cell));
    body.append(row);
  }
  table.append(body);
  return table;
}

// Hidden from sight, read by screen readers.
export const VISUALLY_HIDDEN = `
  .visually-hidden {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
    clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0;
  }
`;

/**
 * Define ``elements`` ({tag: class}) and offer ``card`` in the card picker once Home
 * Assistant's frontend is defined.
 *
 * Home Assistant's frontend scopes its element registry while it loads: defined before it is,
 * a card would render in only some cold loads. ``card``: {type, texts} where texts is the
 * card's table, whose card_name and card_description the picker shows.
 */
export function defineCards(elements, card) {
  customElements.whenDefined("home-assistant").then(() => {
    for (const [name, element] of Object.entries(elements)) {
      if (!customElements.get(name)) customElements.define(name, element);
    }
    const texts = pageTexts(card.texts);
    window.customCards = window.customCards || [];
    if (!window.customCards.some((offered) => offered.type === card.type)) {
      window.customCards.push({
        type: card.type,
        name: texts.card_name,
        description: texts.card_description,
        preview: true,
        documentationURL: card.documentation || DOCUMENTATION,
      });
    }
  });
}
