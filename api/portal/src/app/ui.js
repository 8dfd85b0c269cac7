// Small pieces every screen uses: progress, errors in words.
import { h } from "preact";
import htm from "htm";

import { ApiError } from "./api.js";
import { sentence } from "./problems.js";

export const html = htm.bind(h);

/** A refusal made in the browser, said with the strings' `key` and `values`. */
export class Refusal extends Error {
  constructor(key, values = {}) {
    super(key);
    this.name = "Refusal";
    this.key = key;
    this.values = values;
  }
}

/** An error in words. A refusal of the API (problem+json) is the message table's sentence
 * in the translator's language (src/app/problems.js: its error, reason or status, with
 * departments named from `departments`, address → name, when the caller has them), else
 * the server's own words. */
export function describeError(t, error, departments = {}) {
  if (error instanceof ApiError) {
    const options = { status: error.status, names: departments, language: t.lang };
    return sentence(error.problem, options) ?? t("error.server", { detail: error.message });
  }
  if (error instanceof Refusal) return t(error.key, error.values);
  if (error?.name === "InvalidRecord" || error?.name === "UntrustedRecord")
    return t("error.untrusted_record");
  if (error instanceof TypeError) return t("error.network", { detail: error.message });
  return String(error?.message ?? error);
}

export function Progress({ label, value }) {
  return html`<div class="progress" role="status" aria-live="polite">
    <span>${label}</span>
    <progress max="1" value=${value} aria-label=${label}></progress>
  </div>`;
}

export function ErrorText({ id, text }) {
  return text ? html`<p id=${id} class="error" role="alert">${text}</p>` : null;
}

/** A schema name as people read it (i18n `<kind>.<name>`), else the name itself: an
 * admin may define fields and purposes the translations do not know. */
function schemaLabel(t, kind, name) {
  const key = `${kind}.${name}`;
  const text = t(key);
  return text === key ? name : text;
}

/** A field's name as people read it (i18n `field.<id>`), else the id itself. */
export function fieldLabel(t, name) {
  return schemaLabel(t, "field", name);
}

/** A purpose code as people read it (i18n `purpose.<code>`), else the code itself. */
export function purposeLabel(t, code) {
  return schemaLabel(t, "purpose", code);
}
