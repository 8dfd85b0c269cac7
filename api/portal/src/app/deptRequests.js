// "Requests filed": the department's own requests with the status the chain derives
// (pending, granted, declined with the resident's reason, withdrawn, expired), and a
// pending one withdrawn as `consent request withdraw` does (a signed WithdrawRequest).
import { useEffect, useState } from "preact/hooks";

import { allPages } from "./pages.js";
import { postSigned } from "./signedWrite.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

function withdraw(session, requestId) {
  const message = { department: session.wallet.address, requestId };
  return postSigned(session, "WithdrawRequest", `/access-requests/${requestId}/withdraw`, message);
}

/** A status (or decline reason) in words, else as served: a newer server may say more. */
function said(t, key, fallback) {
  return t(key) === key ? fallback : t(key);
}

function Filed({ t, asked, busy, onWithdraw }) {
  const id = asked.request_id;
  return html`<li class="request" id=${`filed-${id}`} aria-labelledby=${`filed-${id}-h`}>
    <h3 id=${`filed-${id}-h`}><code>${asked.resident}</code></h3>
    <dl>
      <dt>${t("dept.requests.fields")}</dt>
      <dd>${asked.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
      <dt>${t("dept.request.purpose")}</dt>
      <dd>${purposeLabel(t, asked.purpose)}</dd>
      <dt>${t("dept.requests.status")}</dt>
      <dd class="filed-status">
        ${said(t, `dept.requests.status.${asked.status}`, asked.status)}
        ${asked.status === "granted" && asked.consent_id !== null
          ? ` (${t("dept.requests.consent", { consent: String(asked.consent_id) })})`
          : ""}
      </dd>
      ${asked.reason &&
      html`<dt>${t("dept.requests.reason")}</dt>
        <dd class="filed-reason">${said(t, `requests.reason.${asked.reason}`, asked.reason)}</dd>`}
    </dl>
    ${asked.status === "pending" &&
    html`<button type="button" class="secondary" disabled=${busy} onClick=${() => onWithdraw(id)}>
      ${t("dept.requests.withdraw")}
    </button>`}
  </li>`;
}

export function DeptRequests({ t, session }) {
  const [rows, setRows] = useState(null);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function reload() {
    try {
      const all = await allPages("/access-requests", session.token.access_token);
      setRows(all.sort((a, b) => b.requested_at - a.requested_at));
    } catch (e) {
      setError(describeError(t, e));
    }
  }

  useEffect(() => {
    reload();
  }, [session.wallet.address]);

  async function onWithdraw(id) {
    setError("");
    setDone("");
    const label = t("dept.requests.withdrawing");
    try {
      setBusy({ label, value: 0.3 });
      await withdraw(session, id);
      setDone(t("dept.requests.withdrawn"));
      await reload();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section aria-labelledby="dept-requests-heading" class="card">
    <h2 id="dept-requests-heading">${t("dept.requests.heading")}</h2>
    <${ErrorText} id="dept-requests-error" text=${error} />
    ${done && html`<p id="dept-requests-said" role="status">${done}</p>`}
    ${busy && html`<${Progress} ...${busy} />`}
    ${rows &&
    (rows.length
      ? html`<ul class="requests">
          ${rows.map((r) => html`<${Filed} key=${r.request_id} t=${t} asked=${r} busy=${!!busy} onWithdraw=${onWithdraw} />`)}
        </ul>`
      : html`<p id="dept-requests-empty">${t("dept.requests.empty")}</p>`)}
  </section>`;
}
