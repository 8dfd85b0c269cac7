// "Consents" for a department: the consents residents granted it (GET /consents, every
// page) with status, time left by chain time and uses; "Read" opens the granted fields
// in this browser (deptRead.js) and says per field whether its attestation holds.
import { useState } from "preact/hooks";

import { readFields } from "./deptRead.js";
import { LIVE, timeLeft, useConsentList } from "./consentList.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";


function label(t, prefix, code) {
  const key = `${prefix}.${code}`;
  return t(key) === key ? code : t(key);
}


/** A field's attestation check in words, with a mark (✓, – or ✗) beside them. */
export function Attestation({ t, check }) {
  if (check.status === "verified")
    return html`<p class="attestation verified">
      <span aria-hidden="true">✓ </span>${t("dept.read.verified", { issuer: check.issuer })}
    </p>`;
  if (check.status === "absent")
    return html`<p class="attestation absent">
      <span aria-hidden="true">– </span>${t("dept.attestation.absent")}
    </p>`;
  const reason = label(t, "dept.attestation", check.reason);
  const text = check.status === "unverified" ? t("dept.read.unverified", { detail: check.detail }) : reason;
  return html`<p class="attestation not-verified">
    <span aria-hidden="true">✗ </span>${text}
  </p>`;
}

function ReadPanel({ t, session, consent, onRead }) {
  const [chosen, setChosen] = useState(() => new Set(consent.fields));
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [result, setResult] = useState(null);
  const id = consent.consent_id;

  function toggle(name, on) {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  }

  async function read() {
    setError("");
    setResult(null);
    if (!chosen.size) return setError(t("dept.read.none_chosen"));
    const text = t("dept.read.reading");
    try {
      setBusy({ label: text, value: 0.1 });
      const names = [...chosen].sort();
      setResult(await readFields(session, consent, names, (value) => setBusy({ label: text, value })));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
      onRead();
    }
  }

  return html`<div class="read">
    <fieldset>
      <legend>${t("dept.read.fields")}</legend>
      ${consent.fields.map(
        (name) => html`<div class="check">
          <input
            type="checkbox"
            id=${`read-${id}-${name}`}
            checked=${chosen.has(name)}
            onChange=${(e) => toggle(name, e.currentTarget.checked)}
          />
          <label for=${`read-${id}-${name}`}>${fieldLabel(t, name)}</label>
        </div>`,
      )}
    </fieldset>
    <${ErrorText} id=${`read-error-${id}`} text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    <button type="button" disabled=${!!busy} onClick=${read}>${t("dept.read.submit", { consent: String(id) })}</button>
    ${result &&
    html`<div class="read-result" id=${`read-result-${id}`} aria-live="polite">
      <h4>${t("dept.read.result", { block: String(result.receipt.block_number) })}</h4>
      <ul class="granted">
        ${result.fields.map(
          (f) => html`<li id=${`granted-${id}-${f.name}`} class="granted-field">
            <dl>
              <dt>${fieldLabel(t, f.name)}</dt>
              <dd class="granted-value">${f.value}</dd>
              <dt>${t("dept.read.version")}</dt>
              <dd>${String(f.version)}</dd>
            </dl>
            <${Attestation} t=${t} check=${f.check} />
          </li>`,
        )}
      </ul>
    </div>`}
  </div>`;
}

export function DeptConsents({ t, session }) {
  const { rows, now, error, reload } = useConsentList(t, "/consents", session.token.access_token, [
    session.wallet.address,
  ]);

  return html`<section aria-labelledby="dept-consents-heading" class="card">
    <h2 id="dept-consents-heading">${t("dept.consents.heading")}</h2>
    <${ErrorText} text=${error} />
    ${!session.encryption && html`<p class="hint" id="dept-needs-key">${t("dept.read.needs_key")}</p>`}
    ${rows &&
    (rows.length
      ? html`<ul class="requests">
          ${rows.map(
            (c) => html`<li key=${c.consent_id} class="consent" id=${`dept-consent-${c.consent_id}`} aria-labelledby=${`dept-consent-h-${c.consent_id}`}>
              <h3 id=${`dept-consent-h-${c.consent_id}`}>${t("dept.consents.title", { consent: String(c.consent_id) })}</h3>
              <dl>
                <dt>${t("dept.consents.resident")}</dt>
                <dd><code>${c.resident}</code></dd>
                <dt>${t("dept.consents.status")}</dt>
                <dd class="consent-status">${label(t, "dept.status", c.status)}</dd>
                <dt>${t("dept.consents.fields")}</dt>
                <dd>${c.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
                <dt>${t("dept.consents.purpose")}</dt>
                <dd>${purposeLabel(t, c.purpose)}</dd>
                <dt>${t("dept.consents.time_left")}</dt>
                <dd>${LIVE.has(c.status) ? timeLeft(t, c.valid_until - now) : "—"}</dd>
                <dt>${t("dept.consents.uses")}</dt>
                <dd class="consent-uses">
                  ${c.max_uses
                    ? t("dept.consents.uses_of", { uses: c.uses, max: c.max_uses })
                    : t("dept.consents.uses_unlimited", { uses: c.uses })}
                </dd>
              </dl>
              ${session.encryption && html`<${ReadPanel} t=${t} session=${session} consent=${c} onRead=${reload} />`}
            </li>`,
          )}
        </ul>`
      : html`<p id="dept-consents-empty">${t("dept.consents.empty")}</p>`)}
  </section>`;
}
