// What the auditor's screens share: an event's parts in words (as the CLI's audit_view
// Namer names them: department by name, fields, purpose, reason), the UTC times, every
// page of GET /audit/events, and an indeterminate progress bar for work with no steps.
import { bytes32Label } from "../crypto/codec.js";

import { call } from "./api.js";
import { filterParams } from "./auditFilters.js";
import { fieldLabel, html, purposeLabel } from "./ui.js";

/** Progress whose end is not known (the API gives no steps): the bar has no value, the
 * words say what is happening. */
export function Busy({ label, detail }) {
  return html`<div class="progress" role="status" aria-live="polite">
    <span>${label}</span>
    <progress aria-label=${label}></progress>
    ${detail && html`<span class="hint">${detail}</span>`}
  </div>`;
}

/** `YYYY-MM-DD HH:MM:SS UTC` (the chain's time, the same for every reader). */
export function utcTime(seconds) {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** The UTC day `YYYY-MM-DD` of Unix seconds. */
export function utcDay(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

function label(value) {
  if (typeof value !== "string") return null;
  try {
    return bytes32Label(value);
  } catch {
    return value;
  }
}

/** Field ids of an event (`fields`, or one `field`), as names. */
export function eventFields(event) {
  const args = event.args || {};
  const fields = Array.isArray(args.fields) ? args.fields : args.field ? [args.field] : [];
  return fields.map(label);
}

export function eventPurpose(event) {
  return label(event.args?.purpose);
}

export function eventReason(event) {
  return label(event.args?.reason);
}

/** A refusal reason in a few words (`audit.reason.<r>`), else the reason itself. */
export function reasonLabel(t, reason) {
  const key = `audit.reason.${reason}`;
  return t(key) === key ? reason : t(key);
}

export function fieldsInWords(t, event) {
  return eventFields(event)
    .map((f) => fieldLabel(t, f))
    .join(", ");
}

/** The event's purpose in words; for an event of a consent that names none (a refusal,
 * a revocation), the consent's own purpose from `consentPurposes` (id → code). */
export function purposeInWords(t, event, consentPurposes = {}) {
  const purpose = eventPurpose(event) || consentPurposes[event.consent_id];
  return purpose ? purposeLabel(t, purpose) : "";
}

/**
 * The purposes of the consents `events` belong to but do not name, as the CLI's Namer
 * finds them: from a ConsentGranted among them, else GET /consents/{id} once per consent
 * (`known` keeps what was found across pages). A consent that cannot be read stays
 * without a purpose (an unknown_consent refusal has none).
 */
export async function consentPurposes(events, token, known) {
  for (const e of events)
    if (e.type === "ConsentGranted" && e.consent_id != null && eventPurpose(e)) known[e.consent_id] = eventPurpose(e);
  const wanted = new Set(
    events.filter((e) => e.consent_id != null && !eventPurpose(e) && !(e.consent_id in known)).map((e) => e.consent_id),
  );
  await Promise.all(
    [...wanted].map(async (id) => {
      try {
        known[id] = (await call("GET", `/consents/${id}`, undefined, token)).purpose;
      } catch {
        known[id] = null;
      }
    }),
  );
  return { ...known };
}

/** Every department of the directory (GET /departments, page by page). */
export async function allDepartments(token) {
  const found = [];
  let cursor = null;
  for (;;) {
    const path = cursor ? `/departments?cursor=${encodeURIComponent(cursor)}` : "/departments";
    const page = await call("GET", path, undefined, token);
    found.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) return found;
  }
}

/** Department names by lower-case address. */
export function departmentNames(departments) {
  return Object.fromEntries((departments || []).map((d) => [d.address.toLowerCase(), d.name]));
}

export function departmentName(names, address) {
  return address ? names[address.toLowerCase()] || address : "";
}

/** One page of events under `filters` from `cursor` (null: the first). */
export function eventsPage(filters, cursor, token, limit) {
  const params = filterParams(filters);
  params.set("limit", String(limit));
  if (cursor) params.set("cursor", cursor);
  return call("GET", `/audit/events?${params}`, undefined, token);
}

/** Every event under `filters`, page by page; `onPage(count)` after each. */
export async function allEvents(filters, token, onPage = () => {}) {
  const events = [];
  let cursor = null;
  for (;;) {
    const page = await eventsPage(filters, cursor, token, 1000);
    events.push(...page.data);
    onPage(events.length);
    cursor = page.next_cursor;
    if (!cursor) return events;
  }
}
