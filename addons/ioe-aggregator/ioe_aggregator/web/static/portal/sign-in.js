// The portal's way in: what happened to the link just opened, and a form for the code.
import { api, ApiError } from "../api.js";
import { h, replace } from "../dom.js";
import { translator } from "../i18n.js";
import { errorMessage, notice } from "../components/message.js";

const TEXTS = {
  en: {
    title: "Your energy portal",
    intro: "See your consumption against your share of the community's solar plant, your savings, and download all your data.",
    how: "Open the personal link your community's manager sent you. Or type the code that came with it:",
    code: "Access code",
    "code-hint": "16 letters and digits, like ABCD-EFGH-JKMN-PQRS. Dashes and spaces do not matter.",
    "sign-in": "Sign in",
    "error.link_expired": "This link has expired. Ask your community's manager for a new one.",
    "error.link_replaced": "This link was replaced by a newer one. Use the latest link your community's manager sent you, or ask them for a new one.",
    "error.link_revoked": "This link was revoked. Ask your community's manager for a new one.",
    "error.invalid_link": "This link or code is not valid. Check it, or ask your community's manager for a new one.",
    "error.bad_code": "A code has 16 letters and digits, in 4 groups of 4 (like ABCD-EFGH-JKMN-PQRS).",
    "error.https_required": "Open the portal over a secure connection (an address that starts with https://).",
    "error.portal_session_ended": "Your session has ended: open your link again, or type your code.",
    "error.not_json": "This page is out of date: reload it and try again.",
  },
  es: {
    title: "Tu portal de energía",
    intro: "Consulta tu consumo frente a tu parte de la planta solar de la comunidad, tus ahorros, y descarga todos tus datos.",
    how: "Abre el enlace personal que te envió quien gestiona tu comunidad. O escribe el código que venía con él:",
    code: "Código de acceso",
    "code-hint": "16 letras y cifras, como ABCD-EFGH-JKMN-PQRS. Los guiones y espacios dan igual.",
    "sign-in": "Entrar",
    "error.link_expired": "Este enlace ha caducado. Pide uno nuevo a quien gestiona tu comunidad.",
    "error.link_replaced": "Este enlace se ha sustituido por otro más reciente. Usa el último enlace que te enviaron, o pide uno nuevo a quien gestiona tu comunidad.",
    "error.link_revoked": "Este enlace ha sido revocado. Pide uno nuevo a quien gestiona tu comunidad.",
    "error.invalid_link": "Este enlace o código no es válido. Revísalo, o pide uno nuevo a quien gestiona tu comunidad.",
    "error.bad_code": "Un código tiene 16 letras y cifras, en 4 grupos de 4 (como ABCD-EFGH-JKMN-PQRS).",
    "error.https_required": "Abre el portal con una conexión segura (una dirección que empieza por https://).",
    "error.portal_session_ended": "Tu sesión ha terminado: vuelve a abrir tu enlace o escribe tu código.",
    "error.not_json": "Esta página está desactualizada: recárgala y vuelve a intentarlo.",
  },
};
const t = translator(TEXTS);

/** Say what went wrong in the member's words (the portal's own texts first). */
export function portalProblem(error) {
  if (!(error instanceof ApiError)) return errorMessage(String(error));
  const key = `error.${error.code}`;
  return errorMessage(t(key) === key ? error.describe() : t(key));
}

/**
 * Show the sign-in page in `main`: `message` (a refusal, or a notice's text) above the code's
 * form; call `signedIn(session)` once a code is accepted.
 */
export function showSignIn(main, { message, signedIn }) {
  const problem = h("div", {});
  if (message instanceof Error) replace(problem, portalProblem(message));
  else if (message) replace(problem, notice(message));
  const code = h("input", {
    id: "code",
    name: "code",
    required: true,
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    inputmode: "text",
    maxlength: 40,
    "aria-describedby": "code-hint",
    class: "portal-code",
  });
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, t("title")),
    h("p", {}, t("intro")),
    problem,
    h("p", {}, t("how")),
    h("label", { for: "code" }, t("code")),
    code,
    h("p", { class: "hint", id: "code-hint" }, t("code-hint")),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("sign-in"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    try {
      signedIn(await api("portal/session", { method: "POST", body: { code: code.value }, quiet401: true }));
    } catch (error) {
      replace(problem, portalProblem(error));
      code.setAttribute("aria-invalid", "true");
      code.focus();
    }
  });
  replace(main, form);
  if (!message) code.focus();
}
