// The "Add member" dialog: the CUPS checked as it is typed; nothing is sent while a field is
// wrong. On success the new member's join code is shown, once.
import { api, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { translator } from "../i18n.js";
import { compactCups, cupsProblem } from "../cups.js";
import { openDialog } from "../components/dialog.js";
import { errorMessage } from "../components/message.js";
import { showJoinCode } from "../components/join-code.js";
import { withMemberTexts } from "./members-texts.js";

const TEXTS = withMemberTexts({
  en: {
    title: "Add a member",
    add: "Add member",
    "id-hint": "Lower-case letters, digits, - and _ (e.g. m-0007). It cannot change later.",
    "cups-hint": "ES, 16 digits and 2 check letters, as on the electricity bill.",
    "cups.empty": "Enter the supply point's CUPS.",
    "cups.country": "A Spanish CUPS starts with ES.",
    "cups.digits": "After ES come 16 digits.",
    "cups.length": "A CUPS has 20 characters (22 with the boundary point).",
    "cups.check": "The check letters do not match: for these digits they are {expected}. Check for a typo.",
    "cups.point": "The boundary point is a digit and one of F, P, R, C, X, Y, Z.",
    "cups.ok": "Valid CUPS.",
    "id.bad": "Use 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit.",
    "name.bad": "Enter the member's name (up to 100 characters).",
    "kw.bad": "Enter the contracted power: more than 0 and at most 1000 kW.",
    "share.bad": "Enter a fraction from 0 to 1 (0.1 is 10 %).",
    "plant.bad": "Enter 0 (no plant) up to 10000 kW.",
    "share-hint": "A fraction from 0 to 1; 0 if the member did not invest.",
  },
  es: {
    title: "Añadir un socio",
    add: "Añadir socio",
    "id-hint": "Minúsculas, cifras, - y _ (p. ej. m-0007). No se puede cambiar después.",
    "cups-hint": "ES, 16 cifras y 2 letras de control, como en la factura de la luz.",
    "cups.empty": "Escribe el CUPS del punto de suministro.",
    "cups.country": "Un CUPS español empieza por ES.",
    "cups.digits": "Después de ES van 16 cifras.",
    "cups.length": "Un CUPS tiene 20 caracteres (22 con el punto frontera).",
    "cups.check": "Las letras de control no cuadran: para estas cifras son {expected}. Revisa si hay una errata.",
    "cups.point": "El punto frontera es una cifra y una de F, P, R, C, X, Y, Z.",
    "cups.ok": "CUPS válido.",
    "id.bad": "Usa de 1 a 32 minúsculas, cifras, - o _, empezando por letra o cifra.",
    "name.bad": "Escribe el nombre del socio (hasta 100 caracteres).",
    "kw.bad": "Escribe la potencia contratada: más de 0 y como mucho 1000 kW.",
    "share.bad": "Escribe una fracción de 0 a 1 (0,1 es el 10 %).",
    "plant.bad": "Escribe 0 (sin planta) hasta 10000 kW.",
    "share-hint": "Una fracción de 0 a 1; 0 si el socio no invirtió.",
  },
});
const t = translator(TEXTS);
const MEMBER_ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;

function number(text) {
  const value = Number(text.replace(",", "."));
  return text.trim() === "" ? Number.NaN : value;
}

// Each field: its input, its hint, and a check returning the problem's text or null.
const FIELDS = [
  { name: "id", hint: "id-hint", check: (v) => (MEMBER_ID.test(v) ? null : t("id.bad")), attributes: { autocomplete: "off", spellcheck: "false" } },
  { name: "name", check: (v) => (v.trim() && v.length <= 100 ? null : t("name.bad")), attributes: { autocomplete: "off" } },
  {
    name: "cups",
    hint: "cups-hint",
    live: true,
    check: (v) => {
      const found = cupsProblem(v);
      return found ? t(`cups.${found.problem}`, { expected: found.expected }) : null;
    },
    attributes: { autocomplete: "off", spellcheck: "false", autocapitalize: "characters" },
  },
  { name: "contracted_kw", check: (v) => (number(v) > 0 && number(v) <= 1000 ? null : t("kw.bad")), attributes: { inputmode: "decimal" } },
  { name: "investment_share", hint: "share-hint", value: "0", check: (v) => (number(v) >= 0 && number(v) <= 1 ? null : t("share.bad")), attributes: { inputmode: "decimal" } },
  { name: "plant_kw", value: "0", check: (v) => (number(v) >= 0 && number(v) <= 10000 ? null : t("plant.bad")), attributes: { inputmode: "decimal" } },
];

function field(spec) {
  const id = `new-${spec.name}`;
  const input = h("input", { id, name: spec.name, value: spec.value ?? "", required: true, "aria-describedby": `${id}-hint ${id}-problem`, ...spec.attributes });
  const problem = h("p", { class: "field-problem", id: `${id}-problem`, "aria-live": spec.live ? "polite" : null });
  const check = (show) => {
    const text = spec.check(input.value);
    input.setAttribute("aria-invalid", String(Boolean(text) && show));
    replace(problem, show ? (text ?? (spec.live && input.value ? h("span", { class: "ok" }, t("cups.ok")) : null)) : null);
    problem.classList.toggle("shown", Boolean(text) && show);
    return text;
  };
  input.addEventListener(spec.live ? "input" : "change", () => check(true));
  const wrapper = h(
    "div",
    { class: "field" },
    h("label", { for: id }, t(spec.name)),
    input,
    spec.hint ? h("p", { class: "hint", id: `${id}-hint` }, t(spec.hint)) : null,
    problem,
  );
  return { spec, input, check, wrapper };
}

/** Open the dialog; `added()` is called after the member was registered. */
export function openAddMember(added) {
  const fields = FIELDS.map(field);
  const failure = h("div", {});
  const form = h(
    "form",
    { novalidate: true, class: "add-member" },
    failure,
    fields.map((one) => one.wrapper),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "text", onclick: () => dialog.close() }, t("cancel")),
      h("button", { type: "submit", class: "primary" }, t("add")),
    ),
  );
  const dialog = openDialog(t("title"), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(failure);
    const wrong = fields.filter((one) => one.check(true) !== null);
    if (wrong.length) {
      wrong[0].input.focus();
      return;
    }
    const value = (name) => fields.find((one) => one.spec.name === name).input.value;
    const body = {
      id: value("id"),
      name: value("name").trim(),
      cups: compactCups(value("cups")),
      contracted_kw: number(value("contracted_kw")),
      investment_share: number(value("investment_share")),
      plant_kw: number(value("plant_kw")),
    };
    try {
      const answer = await api("members", { method: "POST", body });
      dialog.close();
      added(answer.member);
      showJoinCode({ name: answer.member.name, code: answer.join_code, qrSvg: answer.join_code_qr_svg });
    } catch (error) {
      replace(failure, errorMessage(error instanceof ApiError ? error.describe() : String(error)));
    }
  });
  fields[0].input.focus();
}
