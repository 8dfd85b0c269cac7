// "Verify": GET /audit/verify, as `consent audit verify` runs it: the server re-derives
// every event from the chain and checks the read model, every signature and every served
// access. It gives no steps, so the progress says what runs without claiming how far.
import { useState } from "preact/hooks";

import { call } from "./api.js";
import { Busy, utcTime } from "./auditUi.js";
import { ErrorText, describeError, html } from "./ui.js";

function problemLabel(t, kind) {
  const key = `audit.problem.${kind}`;
  return t(key) === key ? kind : t(key);
}

/** Where a problem is: its event's transaction, else the journal's acceptance. */
function Where({ t, problem }) {
  const receipt = problem.receipt;
  if (receipt?.tx_hash)
    return html`<p>
      ${t("audit.verify.receipt", {
        block: String(receipt.block_number),
        log: String(receipt.log_index),
        time: receipt.block_timestamp ? utcTime(receipt.block_timestamp) : "",
      })}
      <code class="address problem-tx">${receipt.tx_hash}</code>
    </p>`;
  const accepted = problem.acceptance;
  if (accepted)
    return html`<p>
      ${t("audit.verify.acceptance", { id: String(accepted.journal_id ?? "") })}
      ${accepted.tx_hash && html`<code class="address problem-tx">${accepted.tx_hash}</code>`}
    </p>`;
  return null;
}

export function AuditVerify({ t, session }) {
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState(null);
  const [error, setError] = useState("");

  async function run() {
    setError("");
    setReport(null);
    setBusy(true);
    try {
      setReport(await call("GET", "/audit/verify", undefined, session.token.access_token));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="audit-verify-heading" class="card">
    <h2 id="audit-verify-heading">${t("audit.verify.heading")}</h2>
    <p class="hint">${t("audit.verify.hint")}</p>
    <button type="button" id="verify-run" disabled=${busy} onClick=${run}>${t("audit.verify.run")}</button>
    ${busy && html`<${Busy} label=${t("audit.verify.running")} />`}
    <${ErrorText} id="verify-error" text=${error} />
    ${report &&
    html`<div id="verify-outcome" role="status">
      ${report.ok
        ? html`<p id="verify-ok" class="ok">
            <span aria-hidden="true">✓ </span>${t("audit.verify.ok", {
              events: String(report.events),
              signatures: String(report.signatures_verified),
              block: String(report.to_block),
            })}
          </p>`
        : html`<p id="verify-failed" class="error">
              ${t("audit.verify.failed", { problems: String(report.problems.length), events: String(report.events) })}
            </p>
            <ul id="verify-problems" class="requests">
              ${report.problems.map(
                (p) => html`<li class="problem">
                  <h3>${problemLabel(t, p.kind)}</h3>
                  <p class="problem-detail">${t("audit.verify.detail", { detail: p.detail })}</p>
                  <${Where} t=${t} problem=${p} />
                </li>`,
              )}
            </ul>`}
      ${report.unacknowledged?.length > 0 &&
      html`<p id="verify-unacknowledged" class="hint">
        ${t("audit.verify.unacknowledged", { count: String(report.unacknowledged.length) })}
      </p>`}
    </div>`}
  </section>`;
}
