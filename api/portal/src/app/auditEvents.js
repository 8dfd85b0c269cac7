// "Events": the ledger's log as `consent audit events` lists it, filtered, one page at a
// time (next follows next_cursor; previous goes back through the cursors seen), with the
// export of the same filters beside it.
import { useEffect, useRef, useState } from "preact/hooks";

import { FilterForm, keepFilters, keptFilters, filterProblem, typeLabel } from "./auditFilters.js";
import { ExportButtons } from "./auditExport.js";
import {
  Busy,
  allDepartments,
  consentPurposes,
  departmentName,
  departmentNames,
  eventReason,
  eventsPage,
  fieldsInWords,
  purposeInWords,
  reasonLabel,
  utcTime,
} from "./auditUi.js";
import { ErrorText, describeError, html } from "./ui.js";

/** The directory's departments, for the filter's choices and the names in the table. */
export function useDepartments(t, session, setError) {
  const [departments, setDepartments] = useState(null);
  useEffect(() => {
    allDepartments(session.token.access_token)
      .then(setDepartments)
      .catch((e) => setError(describeError(t, e)));
  }, [session.wallet.address]);
  return departments;
}

function EventRow({ t, names, purposes, event }) {
  const reason = eventReason(event);
  return html`<tr>
    <td class="nowrap">${utcTime(event.block_timestamp)}</td>
    <td class="event-type">${typeLabel(t, event.type)}</td>
    <td class="event-department">${departmentName(names, event.department)}</td>
    <td><code class="address">${event.resident || ""}</code></td>
    <td>${fieldsInWords(t, event)}</td>
    <td>${purposeInWords(t, event, purposes)}</td>
    <td class="event-reason">${reason ? reasonLabel(t, reason) : ""}</td>
    <td>
      <code class="address event-tx">${event.tx_hash}</code>
      <span class="hint">
        ${t("audit.events.position", { block: String(event.block_number), log: String(event.log_index) })}
      </span>
    </td>
  </tr>`;
}

/** `captionId` names the table for its scrolling region: one id per table on a screen. */
export function EventsTable({ t, names, purposes, events, caption, captionId = "events-caption" }) {
  return html`<div class="table-scroll" role="region" aria-labelledby=${captionId} tabindex="0">
    <table class="events">
      <caption id=${captionId}>${caption}</caption>
      <thead>
        <tr>
          <th scope="col">${t("audit.col.time")}</th>
          <th scope="col">${t("audit.col.type")}</th>
          <th scope="col">${t("audit.col.department")}</th>
          <th scope="col">${t("audit.col.resident")}</th>
          <th scope="col">${t("audit.col.fields")}</th>
          <th scope="col">${t("audit.col.purpose")}</th>
          <th scope="col">${t("audit.col.reason")}</th>
          <th scope="col">${t("audit.col.tx")}</th>
        </tr>
      </thead>
      <tbody>
        ${events.map(
          (e) => html`<${EventRow} key=${`${e.block_number}-${e.log_index}`} t=${t} names=${names} purposes=${purposes} event=${e} />`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function AuditEvents({ t, session }) {
  const [filters, setFilters] = useState(keptFilters);
  // cursors[i] opens page i (null: the first page); the last is the page shown.
  const [cursors, setCursors] = useState([null]);
  const [page, setPage] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const known = useRef({}); // consent id → purpose, across pages
  const departments = useDepartments(t, session, setError);
  const names = departmentNames(departments);

  useEffect(() => {
    const problem = filterProblem(filters);
    if (problem) {
      setError(t(problem));
      setPage(null);
      return;
    }
    let live = true;
    setLoading(true);
    setError("");
    const at = { filters, number: cursors.length, cursor: cursors[cursors.length - 1] };
    const token = session.token.access_token;
    eventsPage(filters, at.cursor, token, filters.limit)
      .then(async (p) => {
        const purposes = await consentPurposes(p.data, token, known.current);
        if (live) setPage({ ...p, at, purposes });
      })
      .catch((e) => live && setError(describeError(t, e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [filters, cursors]);

  function apply(next) {
    keepFilters(next);
    setFilters(next);
    setCursors([null]);
  }

  const number = cursors.length;
  // Only the page asked for: until it comes, the one before is not shown under its number.
  const shown =
    page && page.at.filters === filters && page.at.number === number && page.at.cursor === cursors[number - 1]
      ? page
      : null;
  return html`<section aria-labelledby="audit-events-heading" class="card">
    <h2 id="audit-events-heading">${t("audit.events.heading")}</h2>
    <${FilterForm} key=${JSON.stringify(filters)} t=${t} departments=${departments} filters=${filters} onApply=${apply} />
    <${ExportButtons} t=${t} session=${session} filters=${filters} />
    <${ErrorText} id="events-error" text=${error} />
    ${loading && html`<${Busy} label=${t("audit.events.loading")} />`}
    ${shown &&
    (shown.data.length
      ? html`<${EventsTable}
          t=${t}
          names=${names}
          purposes=${shown.purposes}
          events=${shown.data}
          caption=${t("audit.events.caption", { page: String(number), count: String(shown.data.length) })}
        />`
      : html`<p id="events-empty">${t("audit.events.empty")}</p>`)}
    <nav class="actions pager" aria-label=${t("audit.events.pages")}>
      <button
        type="button"
        id="events-previous"
        disabled=${loading || !shown || number === 1}
        onClick=${() => setCursors(cursors.slice(0, -1))}
      >
        ${t("audit.events.previous")}
      </button>
      <button
        type="button"
        id="events-next"
        disabled=${loading || !shown?.next_cursor}
        onClick=${() => setCursors([...cursors, shown.next_cursor])}
      >
        ${t("audit.events.next")}
      </button>
    </nav>
  </section>`;
}
