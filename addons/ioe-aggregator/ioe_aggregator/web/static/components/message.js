// A message for the user at the top of a page: an error (role "alert") or a notice.
import { ApiError } from "../api.js";
import { h } from "../dom.js";

export function errorMessage(text) {
  return h("p", { class: "message error", role: "alert" }, text);
}

export function notice(text) {
  return h("p", { class: "message notice", role: "status" }, text);
}

/** The error message of something that went wrong: the API's refusal translated. */
export function problemOf(error) {
  return errorMessage(error instanceof ApiError ? error.describe() : String(error));
}
