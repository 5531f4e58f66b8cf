// Signing in (when nobody is) and the page for a user without a role yet.
import { api, ApiError } from "./api.js";
import { h, replace } from "./dom.js";
import { translator } from "./i18n.js";
import { errorMessage } from "./components/message.js";

const TEXTS = {
  en: {
    "sign-in": "Sign in",
    intro: "Sign in to the community's control centre.",
    username: "User name",
    password: "Password",
    "no-role-title": "No role yet",
    "no-role": "Ask an admin of the community to give you a role.",
  },
  es: {
    "sign-in": "Iniciar sesión",
    intro: "Inicia sesión en el centro de control de la comunidad.",
    username: "Usuario",
    password: "Contraseña",
    "no-role-title": "Todavía sin rol",
    "no-role": "Pide a un administrador de la comunidad que te dé un rol.",
  },
};
const t = translator(TEXTS);

/** Show the sign-in form in `main`; call `signedIn(session)` once the aggregator accepts it. */
export function showSignIn(main, signedIn) {
  const problem = h("div", {});
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, t("sign-in")),
    h("p", {}, t("intro")),
    problem,
    h("label", { for: "username" }, t("username")),
    username,
    h("label", { for: "password" }, t("password")),
    password,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("sign-in"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    try {
      const session = await api("session", {
        method: "POST",
        body: { username: username.value, password: password.value },
        quiet401: true,
      });
      signedIn(session);
    } catch (error) {
      replace(problem, errorMessage(error instanceof ApiError ? error.describe() : String(error)));
      password.value = "";
      password.focus();
    }
  });
  replace(main, form);
  username.focus();
}

/** What a signed-in user without a role sees: that, and nothing else. */
export function showNoRole(main) {
  replace(main, h("section", { class: "card empty" }, h("h1", {}, t("no-role-title")), h("p", {}, t("no-role"))));
}
