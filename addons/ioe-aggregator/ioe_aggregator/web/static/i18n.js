// Languages: English and Spanish. Each module keeps its own texts ({en: {...}, es: {...}})
// and asks `translator(TEXTS)` for its `t`; the texts every page shares live here.

export const LANGUAGES = ["en", "es"];
let current = "en";

const SHARED = {
  en: {
    skip: "Skip to content",
    loading: "Loading…",
    menu: "Menu",
    sections: "Sections",
    "nav.overview": "Overview",
    "nav.members": "Members",
    "nav.data": "Data",
    "nav.agreements": "Agreements",
    "nav.control": "Control",
    "nav.settings": "Settings",
    cancel: "Cancel",
    close: "Close",
    "sign-out": "Sign out",
    "not-found": "There is no such page.",
    "back-overview": "Go to the overview",
    "error.unknown": "Something went wrong: {message}",
    "error.network": "The control centre cannot reach the aggregator. Check that the add-on is running.",
    "error.invalid": "The aggregator refused it: {message}",
    "error.forbidden": "Your role does not allow this.",
    "error.not_found": "It does not exist (any more).",
    "error.exists": "That is already registered: {message}",
    "error.revoked": "This member was revoked.",
    "error.invalid_login": "Wrong user name or password.",
    "error.too_many_failures": "Too many attempts: try again in {seconds} s.",
    "error.unauthorized": "Please sign in again.",
    "error.session_expired": "Your session has ended: sign in again.",
    "error.no_role": "An admin of the community has not given you a role yet.",
    "error.csrf": "This page is out of date: reload it and try again.",
    "error.last_admin": "The community needs an admin: make someone else admin first.",
    "error.weak_password": "That password is too weak: {message}",
    "error.user_exists": "There is a user with that name already.",
    "error.https_required": "Sign in over HTTPS: a password never travels unencrypted.",
    "error.user_disabled": "Your user is disabled.",
    "error.last_admin_token": "That is the last admin token: create another one first.",
    "error.ingress_signs_in": "Home Assistant has signed you in already: reload the page.",
  },
  es: {
    skip: "Saltar al contenido",
    loading: "Cargando…",
    menu: "Menú",
    sections: "Secciones",
    "nav.overview": "Resumen",
    "nav.members": "Socios",
    "nav.data": "Datos",
    "nav.agreements": "Acuerdos",
    "nav.control": "Control",
    "nav.settings": "Ajustes",
    cancel: "Cancelar",
    close: "Cerrar",
    "sign-out": "Cerrar sesión",
    "not-found": "Esa página no existe.",
    "back-overview": "Ir al resumen",
    "error.unknown": "Algo ha fallado: {message}",
    "error.network": "El centro de control no llega al agregador. Comprueba que el complemento está en marcha.",
    "error.invalid": "El agregador lo ha rechazado: {message}",
    "error.forbidden": "Tu rol no lo permite.",
    "error.not_found": "No existe (o ya no existe).",
    "error.exists": "Ya está registrado: {message}",
    "error.revoked": "Este socio está dado de baja.",
    "error.invalid_login": "Usuario o contraseña incorrectos.",
    "error.too_many_failures": "Demasiados intentos: vuelve a probar dentro de {seconds} s.",
    "error.unauthorized": "Vuelve a iniciar sesión.",
    "error.session_expired": "Tu sesión ha terminado: vuelve a entrar.",
    "error.no_role": "Un administrador de la comunidad todavía no te ha dado un rol.",
    "error.csrf": "Esta página está desactualizada: recárgala y vuelve a intentarlo.",
    "error.last_admin": "La comunidad necesita un administrador: haz administrador a otra persona antes.",
    "error.weak_password": "Esa contraseña es demasiado débil: {message}",
    "error.user_exists": "Ya hay un usuario con ese nombre.",
    "error.https_required": "Entra por HTTPS: una contraseña nunca viaja sin cifrar.",
    "error.user_disabled": "Tu usuario está desactivado.",
    "error.last_admin_token": "Es el último token de administración: crea otro antes.",
    "error.ingress_signs_in": "Home Assistant ya te ha identificado: recarga la página.",
  },
};

/** Choose the language: the session's, else the browser's, else English. */
export function chooseLanguage(sessionLanguage) {
  const wanted = sessionLanguage || (navigator.language || "en").slice(0, 2).toLowerCase();
  current = LANGUAGES.includes(wanted) ? wanted : "en";
  document.documentElement.lang = current;
  return current;
}

export function language() {
  return current;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Return `t(key, params)` reading a module's texts first, then the shared ones. */
export function translator(texts = {}) {
  return (key, params = {}) => {
    const text = texts[current]?.[key] ?? SHARED[current][key] ?? texts.en?.[key] ?? SHARED.en[key] ?? key;
    return fill(text, params);
  };
}

/** The shared texts' translator. */
export const t = translator();

export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

export function formatDate(value, options = { dateStyle: "medium" }) {
  return new Intl.DateTimeFormat(current, options).format(new Date(value));
}

export function formatDateTime(value) {
  return formatDate(value, { dateStyle: "medium", timeStyle: "short" });
}
