// "Anomalies": the supervision alerts GET /audit/anomalies lists (a department's served
// accesses or refused queries beyond the admin's thresholds within an hour of chain time,
// and every emergency access), each said in words, with the events behind it fetched
// from GET /audit/events (the window, the department, then exactly the anomaly's event
// ids) and shown as the log shows them; an auditor closes one with a note (POST
// /audit/anomalies/{id}/close: an API record, not a chain write, so no signature).
import { useEffect, useState } from "preact/hooks";

import { call } from "./api.js";
import { EventsTable, useDepartments } from "./auditEvents.js";
import { Busy, consentPurposes, departmentNames, utcTime } from "./auditUi.js";
import { ErrorText, Refusal, describeError, html } from "./ui.js";

const STATUSES = ["open", "closed"];
/** The longest note the API keeps (api/schemas/anomalies.py CloseAnomalyIn). */
const MAX_NOTE = 2000;

/** Every anomaly of `status`, following the cursor. */
async function anomalies(status, token) {
  const found = [];
  let cursor = null;
  for (;;) {
    const params = new URLSearchParams({ status });
    if (cursor) params.set("cursor", cursor);
    const page = await call("GET", `/audit/anomalies?${params}`, undefined, token);
    found.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) return found;
  }
}

/** The events an anomaly names (`event_ids`, "<block>-<log index>"), in chain order:
 * the log of its department in its window of chain time, narrowed to those ids. */
async function eventsBehind(anomaly, token) {
  const wanted = new Set(anomaly.event_ids);
  const events = [];
  let cursor = null;
  for (;;) {
    const params = new URLSearchParams({ since: String(anomaly.window_start), until: String(anomaly.window_end + 1), limit: "1000" });
    if (anomaly.department) params.set("department", anomaly.department);
    if (cursor) params.set("cursor", cursor);
    const page = await call("GET", `/audit/events?${params}`, undefined, token);
    events.push(...page.data.filter((e) => wanted.has(`${e.block_number}-${e.log_index}`)));
    cursor = page.next_cursor;
    if (!cursor) return events;
  }
}

/** The rule in a few words (`audit.anomaly.rule.<rule>`), else the rule itself. */
function ruleLabel(t, rule) {
  const key = `audit.anomaly.rule.${rule}`;
  return t(key) === key ? rule : t(key);
}

/** What the anomaly found, in a sentence. */
function summary(t, a) {
  const values = { count: String(a.count), threshold: String(a.threshold ?? "") };
  const key = `audit.anomaly.summary.${a.rule}`;
  return t(key, values) === key ? t("audit.anomaly.summary.other", values) : t(key, values);
}

function EventsBehind({ t, session, anomaly, names }) {
  const [shown, setShown] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const id = anomaly.id;

  async function show() {
    setError("");
    setLoading(true);
    try {
      const token = session.token.access_token;
      const events = await eventsBehind(anomaly, token);
      setShown({ events, purposes: await consentPurposes(events, token, {}) });
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setLoading(false);
    }
  }

  return html`<div class="anomaly-events">
    ${!shown &&
    html`<button type="button" class="secondary" id=${`anomaly-show-${id}`} disabled=${loading} onClick=${show}>
      ${t("audit.anomaly.show_events", { count: String(anomaly.count) })}
    </button>`}
    ${loading && html`<${Busy} label=${t("audit.anomaly.loading_events")} />`}
    <${ErrorText} id=${`anomaly-events-error-${id}`} text=${error} />
    ${shown &&
    html`<${EventsTable}
      t=${t}
      names=${names}
      purposes=${shown.purposes}
      events=${shown.events}
      captionId=${`anomaly-events-caption-${id}`}
      caption=${t("audit.anomaly.events_caption", { count: String(shown.events.length) })}
    />`}
  </div>`;
}

function CloseForm({ t, session, anomaly, onClosed }) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const id = anomaly.id;

  async function submit(event) {
    event.preventDefault();
    setError("");
    try {
      const text = note.trim();
      if (!text) throw new Refusal("audit.anomaly.no_note");
      if (text.length > MAX_NOTE) throw new Refusal("audit.anomaly.note_too_long", { max: String(MAX_NOTE) });
      setBusy(true);
      onClosed(await call("POST", `/audit/anomalies/${encodeURIComponent(id)}/close`, { note: text }, session.token.access_token));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="close-anomaly" onSubmit=${submit} novalidate>
    <label for=${`anomaly-note-${id}`}>${t("audit.anomaly.note")}</label>
    <p class="hint" id=${`anomaly-note-hint-${id}`}>${t("audit.anomaly.note_hint")}</p>
    <textarea
      id=${`anomaly-note-${id}`}
      rows="3"
      aria-describedby=${`anomaly-note-hint-${id}`}
      value=${note}
      onInput=${(e) => setNote(e.currentTarget.value)}
    ></textarea>
    <${ErrorText} id=${`anomaly-close-error-${id}`} text=${error} />
    ${busy && html`<${Busy} label=${t("audit.anomaly.closing")} />`}
    <button type="submit" disabled=${busy}>${t("audit.anomaly.close")}</button>
  </form>`;
}

function AnomalyEntry({ t, session, anomaly: a, names, closedHere, onClosed }) {
  const department = a.department_name || a.department || "";
  return html`<li class="anomaly" id=${`anomaly-${a.id}`} aria-labelledby=${`anomaly-h-${a.id}`}>
    <h3 id=${`anomaly-h-${a.id}`}>
      ${department ? t("audit.anomaly.title", { rule: ruleLabel(t, a.rule), department }) : ruleLabel(t, a.rule)}
    </h3>
    <p class="anomaly-summary">
      <span aria-hidden="true">${a.status === "open" ? "⚠ " : "✓ "}</span>${summary(t, a)}
    </p>
    <dl>
      <dt>${t("audit.anomaly.status")}</dt>
      <dd class="anomaly-status">${t(`audit.anomaly.status.${a.status}`)}</dd>
      ${department && html`<dt>${t("audit.anomaly.department")}</dt><dd class="anomaly-department">${department}</dd>`}
      ${a.resident && html`<dt>${t("audit.anomaly.resident")}</dt><dd><code class="address">${a.resident}</code></dd>`}
      ${a.consent_id != null && html`<dt>${t("audit.anomaly.consent")}</dt><dd>${String(a.consent_id)}</dd>`}
      <dt>${t("audit.anomaly.window")}</dt>
      <dd>${t("audit.anomaly.window_value", { start: utcTime(a.window_start), end: utcTime(a.window_end) })}</dd>
      <dt>${t("audit.anomaly.where")}</dt>
      <dd>
        ${t("audit.anomaly.block", { block: String(a.block_number) })}
        <code class="address">${a.tx_hash}</code>
      </dd>
      ${a.status === "closed" &&
      html`<dt>${t("audit.anomaly.closed_by")}</dt>
        <dd><code class="address">${a.closed_by}</code>${a.closed_at ? ` · ${utcTime(a.closed_at)}` : ""}</dd>
        <dt>${t("audit.anomaly.note")}</dt>
        <dd class="anomaly-note">${a.note}</dd>`}
    </dl>
    <${EventsBehind} t=${t} session=${session} anomaly=${a} names=${names} />
    ${a.status === "open" && html`<${CloseForm} t=${t} session=${session} anomaly=${a} onClosed=${onClosed} />`}
    ${closedHere && html`<p id=${`anomaly-closed-${a.id}`} role="status">${t("audit.anomaly.closed")}</p>`}
  </li>`;
}

export function AuditAnomalies({ t, session }) {
  const [status, setStatus] = useState("open");
  const [rows, setRows] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [closedHere, setClosedHere] = useState(() => new Set());
  const departments = useDepartments(t, session, setError);
  const names = departmentNames(departments);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    anomalies(status, session.token.access_token)
      .then((found) => live && setRows(found))
      .catch((e) => live && setError(describeError(t, e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [status]);

  function closed(anomaly) {
    setRows((before) => before.map((a) => (a.id === anomaly.id ? anomaly : a)));
    setClosedHere((before) => new Set([...before, anomaly.id]));
  }

  return html`<section aria-labelledby="audit-anomalies-heading" class="card">
    <h2 id="audit-anomalies-heading">${t("audit.anomaly.heading")}</h2>
    <p class="hint">${t("audit.anomaly.hint")}</p>
    <div class="actions queue-filter">
      <label for="anomaly-status">${t("audit.anomaly.show")}</label>
      <select id="anomaly-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
        ${STATUSES.map((s) => html`<option value=${s} selected=${s === status}>${t(`audit.anomaly.filter.${s}`)}</option>`)}
      </select>
    </div>
    <${ErrorText} id="anomalies-error" text=${error} />
    ${loading && html`<${Busy} label=${t("audit.anomaly.loading")} />`}
    ${rows &&
    (rows.length
      ? html`<ul class="requests" id="anomalies">
          ${rows.map(
            (a) => html`<${AnomalyEntry}
              key=${a.id}
              t=${t}
              session=${session}
              anomaly=${a}
              names=${names}
              closedHere=${closedHere.has(a.id)}
              onClosed=${closed}
            />`,
          )}
        </ul>`
      : html`<p id="anomalies-empty">${t(`audit.anomaly.empty.${status}`)}</p>`)}
  </section>`;
}
