// The auditor's filters (resident, department, event type, dates, page size), shared by
// the events, export and charts: kept in this tab's sessionStorage so a reload keeps
// them (the fragment already names the screen), and turned into the query that
// GET /audit/events and GET /audit/export take (dates as Unix seconds, UTC days).
import { useState } from "preact/hooks";

import { html } from "./ui.js";

const KEY = "portal.audit.filters";
export const PAGE_SIZES = [10, 25, 50, 100];
export const EMPTY = { resident: "", department: "", type: "", since: "", until: "", limit: 25 };

/** Every event the contracts emit (their ABIs), which the indexer stores by name. */
export const EVENT_TYPES = [
  "AccessLogged",
  "AccessDenied",
  "AccessRequested",
  "ConsentGranted",
  "ConsentRevoked",
  "ResidentEnrolled",
  "RecordCommitted",
  "AttestationRecorded",
  "DepartmentRegistered",
  "DepartmentActivationChanged",
  "DepartmentSuspended",
  "DepartmentReinstated",
  "DepartmentKeyRotated",
  "RoleAssigned",
  "RoleRemoved",
  "RoleGranted",
  "RoleRevoked",
  "RoleAdminChanged",
  "IssuerTrusted",
  "IssuerDistrusted",
  "IssuerTrustEnded",
  "FieldDefined",
  "PurposeDefined",
  "IntentRejected",
  "EIP712DomainChanged",
];

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function keptFilters() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (kept && typeof kept === "object") return { ...EMPTY, ...kept };
  } catch {
    // unreadable: no filter
  }
  return { ...EMPTY };
}

export function keepFilters(filters) {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(filters));
  } catch {
    // not kept: a reload starts unfiltered
  }
}

/** A `YYYY-MM-DD` day's first second (UTC), as Unix seconds. */
export function dayStart(day) {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / 1000);
}

/** The i18n key of what is wrong with `filters`, or null. */
export function filterProblem(filters) {
  if (filters.resident && !ADDRESS.test(filters.resident.trim())) return "audit.filter.bad_resident";
  if (filters.since && !DAY.test(filters.since)) return "audit.filter.bad_date";
  if (filters.until && !DAY.test(filters.until)) return "audit.filter.bad_date";
  if (filters.since && filters.until && dayStart(filters.until) < dayStart(filters.since))
    return "audit.filter.bad_window";
  return null;
}

/** The filters as query parameters; `until` is a whole day, so the API's (exclusive)
 * bound is the next day's first second. */
export function filterParams(filters) {
  const params = new URLSearchParams();
  if (filters.resident) params.set("resident", filters.resident.trim());
  if (filters.department) params.set("department", filters.department);
  if (filters.type) params.set("type", filters.type);
  if (filters.since) params.set("since", String(dayStart(filters.since)));
  if (filters.until) params.set("until", String(dayStart(filters.until) + 86400));
  return params;
}

/** Which event type a name is, in words (`audit.type.<Name>`), else the name. */
export function typeLabel(t, name) {
  const key = `audit.type.${name}`;
  return t(key) === key ? name : t(key);
}

export function FilterForm({ t, departments, filters, onApply, paged = true }) {
  const [draft, setDraft] = useState(filters);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value });
  function submit(e) {
    e.preventDefault();
    onApply({ ...draft, limit: Number(draft.limit) || EMPTY.limit });
  }
  function clear() {
    setDraft({ ...EMPTY, limit: draft.limit });
    onApply({ ...EMPTY, limit: Number(draft.limit) || EMPTY.limit });
  }
  // Each option says whether it is chosen: the departments arrive after the select does.
  return html`<form class="filters" onSubmit=${submit} aria-labelledby="filters-heading">
    <h3 id="filters-heading">${t("audit.filter.heading")}</h3>
    <div class="filter-grid">
      <div class="filter">
        <label for="filter-resident">${t("audit.filter.resident")}</label>
        <input
          id="filter-resident"
          value=${draft.resident}
          onInput=${set("resident")}
          placeholder="0x…"
          autocomplete="off"
          spellcheck="false"
        />
      </div>
      <div class="filter">
        <label for="filter-department">${t("audit.filter.department")}</label>
        <select id="filter-department" value=${draft.department} onChange=${set("department")}>
          <option value="">${t("audit.filter.any_department")}</option>
          ${(departments || []).map((d) => html`<option value=${d.address} selected=${d.address === draft.department}>${d.name}</option>`)}
        </select>
      </div>
      <div class="filter">
        <label for="filter-type">${t("audit.filter.type")}</label>
        <select id="filter-type" value=${draft.type} onChange=${set("type")}>
          <option value="">${t("audit.filter.any_type")}</option>
          ${EVENT_TYPES.map((name) => html`<option value=${name} selected=${name === draft.type}>${typeLabel(t, name)}</option>`)}
        </select>
      </div>
      <div class="filter">
        <label for="filter-since">${t("audit.filter.since")}</label>
        <input id="filter-since" type="date" value=${draft.since} onInput=${set("since")} />
      </div>
      <div class="filter">
        <label for="filter-until">${t("audit.filter.until")}</label>
        <input id="filter-until" type="date" value=${draft.until} onInput=${set("until")} />
      </div>
      ${paged &&
      html`<div class="filter">
        <label for="filter-limit">${t("audit.filter.limit")}</label>
        <select id="filter-limit" value=${String(draft.limit)} onChange=${set("limit")}>
          ${PAGE_SIZES.map((n) => html`<option value=${String(n)} selected=${String(n) === String(draft.limit)}>${n}</option>`)}
        </select>
      </div>`}
    </div>
    <p class="hint">${t("audit.filter.utc")}</p>
    <div class="actions">
      <button type="submit">${t("audit.filter.apply")}</button>
      <button type="button" class="secondary" onClick=${clear}>${t("audit.filter.clear")}</button>
    </div>
  </form>`;
}
