// The control centre's only way to the aggregator: its documented REST API, at a relative URL
// (so that it works both directly and under Home Assistant's ingress prefix).
import { t } from "./i18n.js";

let csrf = null;
const always = {};
const signedOutListeners = [];

/** Remember the session's CSRF value; it goes with every change. */
export function setCsrf(value) {
  csrf = value || null;
}

/** Send `headers` with every call (the member's portal names itself so). */
export function sendAlways(headers) {
  Object.assign(always, headers);
}

/** Call `listener` when the API says nobody is signed in (401). */
export function onSignedOut(listener) {
  signedOutListeners.push(listener);
}

/** A refusal from the API: status, its stable code, its message, and Retry-After. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** The refusal as the user reads it: translated where its code is known. */
  describe() {
    const key = `error.${this.code}`;
    const text = t(key, { message: this.message, seconds: this.retryAfter ?? 60 });
    return text === key ? t("error.unknown", { message: this.message }) : text;
  }
}

/**
 * Call `api/v1/<path>`; return the JSON answer, or throw ApiError.
 * `quiet401`: the caller handles a 401 itself (the sign-in form) instead of signing out.
 */
export async function api(path, { method = "GET", body, file, quiet401 = false } = {}) {
  const headers = { ...always, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A file goes as it is (a distributor's CSV export may be tens of MiB), never as JSON.
  if (file !== undefined) headers["Content-Type"] = file.type || "application/octet-stream";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(`api/v1/${path}`, {
      method,
      headers,
      body: file ?? (body === undefined ? undefined : JSON.stringify(body)),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, "network", t("error.network"));
  }
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  const retry = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  const error = new ApiError(
    response.status,
    answer?.error ?? "unknown",
    answer?.message ?? response.statusText,
    Number.isFinite(retry) ? retry : null,
  );
  if (response.status === 401 && !quiet401) {
    for (const listener of signedOutListeners) listener(error);
  }
  throw error;
}
