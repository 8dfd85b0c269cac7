// "Who read my data": every access and refusal the chain logged for the resident
// (GET /residents/{a}/access-log, every page), newest first, each with the department's
// name, the fields and purpose in words, the chain's time, and its receipt, so the
// resident can hold the ledger to what it says; break-the-glass reads marked with their
// review deadline, and each act a delegate or guardian signed in the resident's name with
// who signed it.
import { useEffect, useState } from "preact/hooks";

import { allPages } from "./pages.js";
import { principal } from "./session.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

/**
 * What an entry was, by the event that logged it. Each kind has its own mark, class and
 * words (`log.kind.<kind>`), never colour alone: a read, a refusal, a break-the-glass
 * read or refusal, and an act a delegate or guardian signed in the resident's name.
 */
const KINDS = {
  AccessLogged: "read",
  AccessDenied: "refused",
  EmergencyAccessed: "emergency",
  EmergencyDenied: "emergency_refused",
};
const MARKS = { read: "✓", refused: "✕", emergency: "⚠", emergency_refused: "⚠✕", delegated: "✍", other: "•" };

function kindOf(entry) {
  return KINDS[entry.type] || (entry.signed_by ? "delegated" : "other");
}

/** A denial reason in a few words, as the auditor's charts say it (`audit.reason.<r>`;
 * the refusal's full sentence is the department's, api/locale), else as served. */
function reasonText(t, reason) {
  for (const key of [`audit.reason.${reason}`, `care.refusal.${reason}`])
    if (t(key) !== key) return t(key);
  return reason;
}

/** Chain time (seconds) as a local date and time in the page's language. */
function localTime(seconds) {
  const lang = document.documentElement.lang || undefined;
  return new Date(seconds * 1000).toLocaleString(lang, { dateStyle: "medium", timeStyle: "medium" });
}

function outcome(t, entry, kind) {
  const reason = entry.reason ? reasonText(t, entry.reason) : "—";
  if (kind === "read")
    return entry.use ? t("log.read_use", { use: String(entry.use) }) : t("log.kind.read");
  if (kind === "refused") return t("log.refused_because", { reason });
  if (kind === "emergency")
    return t("log.emergency", { access: String(entry.access_id ?? "—"), due: entry.review_due ? localTime(entry.review_due) : "—" });
  if (kind === "emergency_refused") return t("log.emergency_refused", { reason });
  if (kind === "delegated") return t(`log.delegated.${entry.type}`) === `log.delegated.${entry.type}` ? t("log.kind.other", { type: entry.type }) : t(`log.delegated.${entry.type}`);
  return t("log.kind.other", { type: entry.type });
}

/** Who signed an act in the resident's name (a delegate or guardian): not the department
 * the entry is about, so said apart. */
function signer(entry, kind) {
  return kind === "delegated" || (entry.signed_by && entry.department && entry.signed_by.toLowerCase() !== entry.department.toLowerCase())
    ? entry.signed_by
    : null;
}

function Entry({ t, entry, name }) {
  const kind = kindOf(entry);
  const receipt = entry.receipt;
  const id = `log-${receipt.block_number}-${receipt.log_index ?? 0}`;
  return html`<li class=${`log-entry log-${kind}`} id=${id} data-kind=${kind} aria-labelledby=${`${id}-h`}>
    <h3 id=${`${id}-h`}>${name}</h3>
    <p class="log-outcome">
      <span class="log-mark" aria-hidden="true">${MARKS[kind]}</span>
      <span>${outcome(t, entry, kind)}</span>
    </p>
    ${signer(entry, kind) &&
    html`<p class="log-signer">${t("log.signed_by")} <code>${signer(entry, kind)}</code></p>`}
    <dl>
      <dt>${t("log.when")}</dt>
      <dd>
        <time datetime=${new Date(entry.block_timestamp * 1000).toISOString()}>${localTime(entry.block_timestamp)}</time>
      </dd>
      <dt>${t("log.fields")}</dt>
      <dd class="log-fields">${entry.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
      <dt>${t("requests.purpose")}</dt>
      <dd class="log-purpose">${entry.purpose ? purposeLabel(t, entry.purpose) : "—"}</dd>
      <dt>${t("log.consent")}</dt>
      <dd>${entry.consent_id ?? "—"}</dd>
      <dt>${t("log.receipt")}</dt>
      <dd class="log-receipt">
        ${t("log.block", { block: String(receipt.block_number) })}
        <br />
        ${t("log.tx")} <code class="log-tx">${receipt.tx_hash}</code>
      </dd>
    </dl>
  </li>`;
}

export function AccessLog({ t, session }) {
  const [rows, setRows] = useState(null);
  const [names, setNames] = useState({});
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");

  async function reload() {
    setError("");
    setBusy({ label: t("log.loading"), value: 0.5 });
    try {
      const token = session.token.access_token;
      const [entries, departments] = await Promise.all([
        allPages(`/residents/${principal(session)}/access-log`, token),
        allPages("/departments", token),
      ]);
      setNames(Object.fromEntries(departments.map((d) => [d.address.toLowerCase(), d.name])));
      // Newest first, as served; ordered again by where the chain logged each one.
      const at = (e) => [e.receipt.block_number, e.receipt.log_index ?? 0];
      setRows(
        entries.sort((a, b) => {
          const [ba, la] = at(a);
          const [bb, lb] = at(b);
          return bb - ba || lb - la;
        }),
      );
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  useEffect(() => {
    reload();
  }, [principal(session)]);

  const nameOf = (e) => names[(e.department || "").toLowerCase()] || e.department_name || e.department || "—";
  return html`<section aria-labelledby="log-heading" class="card">
    <h2 id="log-heading">${t("log.heading")}</h2>
    <p class="hint">${t("log.hint")}</p>
    <${ErrorText} text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    ${rows &&
    (rows.length
      ? html`<ol class="timeline" id="log-entries">
          ${rows.map((e) => html`<${Entry} key=${`${e.receipt.tx_hash}-${e.receipt.log_index}`} t=${t} entry=${e} name=${nameOf(e)} />`)}
        </ol>`
      : html`<p id="log-empty">${t("log.empty")}</p>`)}
    <button type="button" class="secondary" disabled=${!!busy} onClick=${reload}>${t("log.refresh")}</button>
  </section>`;
}
