// "Requests waiting": a resident's pending access requests, answered as the CLI's
// `consent grant --request` does (the keys wrapped for the department in the browser)
// or `consent request decline` does (a signed DeclineRequest with a reason code: the
// chain closes the request and the department sees it declined); below, the answered
// ones with their status as the chain derives it.
import { useEffect, useState } from "preact/hooks";

import { nameToBytes32 } from "../crypto/codec.js";

import { grantConsent } from "./grant.js";
import { allPages } from "./pages.js";
import { principal } from "./session.js";
import { postSigned } from "./signedWrite.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

export { allPages };

const DAY = 86400;
/** The reason codes the ledger accepts (ledger/vocabulary.py DECLINE_REASONS; a test
 * holds the two lists equal), each said by `requests.reason.<code>`. */
export const DECLINE_REASONS = ["NOT_NEEDED", "TOO_MANY_FIELDS", "TOO_LONG", "UNKNOWN_DEPARTMENT", "OTHER"];
// The fields ticked on a request not yet answered, kept in this tab so a reload mid-way
// keeps the choice. Field names only: nothing secret (no value, no key) is ever kept.
const TICKED = (requestId) => `portal.request.${requestId}`;

/** The ticked fields kept for `asked`, else all it asks for. */
function tickedFor(asked) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(TICKED(asked.request_id)) || "null");
    if (Array.isArray(kept)) return new Set(kept.filter((n) => asked.fields.includes(n)));
  } catch {
    // unreadable: start from the request as asked
  }
  return new Set(asked.fields);
}

function keepTicked(requestId, names) {
  try {
    if (names) sessionStorage.setItem(TICKED(requestId), JSON.stringify([...names].sort()));
    else sessionStorage.removeItem(TICKED(requestId));
  } catch {
    // not kept: a reload starts from the request as asked
  }
}

/** Grant `names` of `asked` for its duration: POST /consents with the signed Grant. */
function grantRequest(session, asked, names, step) {
  return grantConsent(
    session,
    {
      department: asked.department,
      fields: names,
      purpose: asked.purpose,
      duration: asked.duration,
      requestId: asked.request_id,
    },
    step,
  );
}

/** Decline `asked` with `reason`: POST /access-requests/{id}/decline, signed. */
function declineRequest(session, asked, reason) {
  const message = { resident: principal(session), requestId: asked.request_id, reason: nameToBytes32(reason) };
  return postSigned(session, "DeclineRequest", `/access-requests/${asked.request_id}/decline`, message);
}

function RequestCard({ t, session, asked, onDone }) {
  const [chosen, setChosen] = useState(() => tickedFor(asked));
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [reason, setReason] = useState(DECLINE_REASONS[0]);
  const id = asked.request_id;
  const days = asked.duration / DAY;

  async function decline() {
    setError("");
    const label = t("requests.declining");
    try {
      setBusy({ label, value: 0.3 });
      await declineRequest(session, asked, reason);
      keepTicked(id, null);
      onDone(t("requests.declined", { reason: t(`requests.reason.${reason}`) }));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  async function approve(names) {
    setError("");
    if (!names.length) return setError(t("requests.none_chosen"));
    const label = t("requests.granting");
    try {
      setBusy({ label, value: 0 });
      const answer = await grantRequest(session, asked, [...names].sort(), (v) => setBusy({ label, value: v }));
      keepTicked(id, null);
      onDone(t("requests.granted", { consent: String(answer.consent_id) }));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  function toggle(name, on) {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
    keepTicked(id, next);
  }

  return html`<li class="request" aria-labelledby=${`req-${id}`}>
    <h3 id=${`req-${id}`}>${asked.department_name || asked.department}</h3>
    <dl>
      <dt>${t("requests.purpose")}</dt>
      <dd>${purposeLabel(t, asked.purpose)}</dd>
      <dt>${t("requests.duration")}</dt>
      <dd>${t("requests.days", { days: String(days) })}</dd>
    </dl>
    <fieldset>
      <legend>${t("requests.fields")}</legend>
      ${asked.fields.map(
        (name) => html`<div class="check">
          <input
            type="checkbox"
            id=${`req-${id}-${name}`}
            checked=${chosen.has(name)}
            onChange=${(e) => toggle(name, e.currentTarget.checked)}
          />
          <label for=${`req-${id}-${name}`}>${fieldLabel(t, name)}</label>
        </div>`,
      )}
    </fieldset>
    <${ErrorText} text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    <div class="actions">
      <button type="button" disabled=${!!busy} onClick=${() => approve(asked.fields)}>
        ${t("requests.approve_all")}
      </button>
      <button type="button" disabled=${!!busy} onClick=${() => approve([...chosen])}>
        ${t("requests.approve_chosen")}
      </button>
    </div>
    <div class="decline">
      <label for=${`req-${id}-reason`}>${t("requests.decline_reason")}</label>
      <select id=${`req-${id}-reason`} value=${reason} onChange=${(e) => setReason(e.currentTarget.value)}>
        ${DECLINE_REASONS.map((code) => html`<option value=${code}>${t(`requests.reason.${code}`)}</option>`)}
      </select>
      <button type="button" class="secondary" disabled=${!!busy} onClick=${decline}>${t("requests.decline")}</button>
    </div>
  </li>`;
}

function statusLabel(t, status) {
  const key = `requests.status.${status}`;
  return t(key) === key ? status : t(key);
}

function Answered({ t, rows }) {
  if (!rows.length) return null;
  return html`<h3 id="requests-answered-heading">${t("requests.answered")}</h3>
    <ul class="requests" id="requests-answered" aria-labelledby="requests-answered-heading">
      ${rows.map(
        (r) => html`<li class="answered" id=${`answered-${r.request_id}`}>
          <p>
            <strong>${r.department_name || r.department}</strong>:
            ${" "}${r.fields.map((n) => fieldLabel(t, n)).join(", ")} (${purposeLabel(t, r.purpose)})
          </p>
          <p class="answered-status">${statusLabel(t, r.status)}</p>
        </li>`,
      )}
    </ul>`;
}

export function RequestsWaiting({ t, session, onChange }) {
  const [rows, setRows] = useState(null);
  const [answered, setAnswered] = useState([]);
  const [error, setError] = useState("");
  const [said, setSaid] = useState("");

  async function reload() {
    setError("");
    try {
      const all = await allPages(`/residents/${principal(session)}/access-requests`, session.token.access_token);
      setRows(all.filter((r) => r.status === "pending"));
      setAnswered(all.filter((r) => r.status !== "pending"));
    } catch (e) {
      setError(describeError(t, e));
    }
  }

  useEffect(() => {
    reload();
  }, [principal(session)]);

  function done(text) {
    setSaid(text);
    reload();
    if (onChange) onChange();
  }

  return html`<section aria-labelledby="requests-heading" class="card">
    <h2 id="requests-heading">${t("requests.heading")}</h2>
    <${ErrorText} text=${error} />
    ${said && html`<p id="requests-said" role="status">${said}</p>`}
    ${rows &&
    (rows.length
      ? html`<ul class="requests">
          ${rows.map((r) => html`<${RequestCard} key=${r.request_id} t=${t} session=${session} asked=${r} onDone=${done} />`)}
        </ul>`
      : html`<p id="requests-empty">${t("requests.empty")}</p>`)}
    <${Answered} t=${t} rows=${answered} />
  </section>`;
}
