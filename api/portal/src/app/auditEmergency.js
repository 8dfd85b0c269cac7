// "Emergency reviews": the review queue as `consent emergency queue` lists it (GET
// /audit/emergency-accesses?status=pending|overdue|reviewed, every page, statuses judged
// in chain time), each access in words with its deadline, an overdue one marked by words
// and a mark (not colour alone); the department's justification file checked here
// against the hash the chain recorded; and a review as `consent emergency review` makes
// one: the outcome and notes in words, the notes salted here (crypto/saltedText.js) and
// only their hash signed into the ReviewEmergency (POST /emergency-accesses/{id}/review).
import { useEffect, useState } from "preact/hooks";

import { nameToBytes32, toHex } from "../crypto/codec.js";
import { InvalidText, JUSTIFICATION, REVIEW_NOTES, matchesHash, saltText } from "../crypto/saltedText.js";

import { call } from "./api.js";
import { Busy, utcTime } from "./auditUi.js";
import { timeLeft } from "./consentList.js";
import { emergencyReason } from "./deptEmergency.js";
import { KeptText } from "./keptText.js";
import { postSigned } from "./signedWrite.js";
import { ErrorText, Progress, Refusal, describeError, fieldLabel, html } from "./ui.js";

/** The review outcomes (ledger/vocabulary.py REVIEW_OUTCOMES; a test holds them equal). */
export const OUTCOMES = ["justified", "unjustified"];
/** The queue's filters; "" asks for every access. */
const STATUSES = ["pending", "overdue", "reviewed", ""];

/** Every access of the queue under `status` and the chain time they were judged at. */
async function queue(status, token) {
  const items = [];
  let cursor = null;
  let asOf = null;
  for (;;) {
    const params = new URLSearchParams();
    if (status) params.set("status", status);
    if (cursor) params.set("cursor", cursor);
    const page = await call("GET", `/audit/emergency-accesses?${params}`, undefined, token);
    items.push(...page.data);
    if (asOf === null) asOf = Number(page.as_of);
    cursor = page.next_cursor;
    if (!cursor) return { items, asOf };
  }
}

/** The access's standing: `{kind, mark, text}`, said in words with a mark beside them. */
function standing(t, item, asOf) {
  const due = Number(item.review_due);
  if (item.outcome) {
    const outcome = t(`audit.emergency.outcome.${item.outcome}`);
    return item.late
      ? { kind: "late", mark: "⚠", text: t("audit.emergency.standing.late", { outcome }) }
      : { kind: "reviewed", mark: "✓", text: t("audit.emergency.standing.reviewed", { outcome }) };
  }
  if (asOf > due)
    return { kind: "overdue", mark: "⚠", text: t("audit.emergency.standing.overdue", { late: timeLeft(t, asOf - due) }) };
  return { kind: "pending", mark: "○", text: t("audit.emergency.standing.pending", { left: timeLeft(t, due - asOf) }) };
}

/** The department's justification file checked against the hash on chain, in this
 * browser: the file is read here and never sent. */
function CheckJustification({ t, item }) {
  const [said, setSaid] = useState(null);
  const id = `justification-${item.access_id}`;

  async function chosen(event) {
    const file = event.currentTarget.files?.[0];
    setSaid(null);
    if (!file) return;
    let document = null;
    try {
      document = JSON.parse(await file.text());
    } catch {
      // not JSON: said below as not matching
    }
    const holds = document && document.tag === JUSTIFICATION && matchesHash(document, item.justification_hash);
    setSaid(
      holds
        ? { ok: true, text: t("audit.emergency.justification_matches", { text: document.text }) }
        : { ok: false, text: t("audit.emergency.justification_differs") },
    );
  }

  return html`<div class="check-justification">
    <label for=${id}>${t("audit.emergency.justification_file")}</label>
    <input type="file" id=${id} accept="application/json,.json" onChange=${chosen} />
    ${said &&
    html`<p id=${`${id}-said`} class=${said.ok ? "ok" : "error"} role="status">
      <span aria-hidden="true">${said.ok ? "✓ " : "✗ "}</span>${said.text}
    </p>`}
  </div>`;
}

function ReviewForm({ t, session, item, onReviewed }) {
  const [outcome, setOutcome] = useState("");
  const [notes, setNotes] = useState("");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const id = item.access_id;

  async function submit(event) {
    event.preventDefault();
    setError("");
    const label = t("audit.emergency.reviewing");
    try {
      if (!OUTCOMES.includes(outcome)) throw new Refusal("audit.emergency.no_outcome");
      let salted;
      try {
        salted = saltText(REVIEW_NOTES, notes);
      } catch (e) {
        if (e instanceof InvalidText) throw new Refusal(`audit.emergency.notes_${e.reason}`);
        throw e;
      }
      setBusy({ label, value: 0.3 });
      const reviewed = await postSigned(session, "ReviewEmergency", `/emergency-accesses/${id}/review`, {
        accessId: BigInt(id),
        outcome: toHex(nameToBytes32(outcome)),
        notesHash: salted.hash,
      });
      setBusy({ label, value: 1 });
      onReviewed(reviewed, salted);
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<form class="review" onSubmit=${submit} novalidate aria-labelledby=${`review-${id}-heading`}>
    <h4 id=${`review-${id}-heading`}>${t("audit.emergency.review_heading", { access: String(id) })}</h4>
    <fieldset>
      <legend>${t("audit.emergency.outcome")}</legend>
      ${OUTCOMES.map(
        (o) => html`<div class="check">
          <input
            type="radio"
            name=${`review-${id}-outcome`}
            id=${`review-${id}-${o}`}
            value=${o}
            checked=${outcome === o}
            onChange=${() => setOutcome(o)}
          />
          <label for=${`review-${id}-${o}`}>${t(`audit.emergency.outcome.${o}`)}</label>
        </div>`,
      )}
    </fieldset>
    <label for=${`review-${id}-notes`}>${t("audit.emergency.notes")}</label>
    <p class="hint" id=${`review-${id}-notes-hint`}>${t("audit.emergency.notes_hint")}</p>
    <textarea
      id=${`review-${id}-notes`}
      rows="3"
      aria-describedby=${`review-${id}-notes-hint`}
      value=${notes}
      onInput=${(e) => setNotes(e.currentTarget.value)}
    ></textarea>
    <${ErrorText} id=${`review-${id}-error`} text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    <button type="submit" disabled=${!!busy}>${t("audit.emergency.review_submit", { access: String(id) })}</button>
  </form>`;
}

function AccessEntry({ t, session, item, asOf, kept, onReviewed }) {
  const id = item.access_id;
  const due = Number(item.review_due);
  const now = standing(t, item, asOf);
  const notesStrings = {
    heading: t("audit.emergency.keep.heading"),
    hint: t("audit.emergency.keep.hint"),
    text: t("audit.emergency.keep.text"),
    salt: t("audit.emergency.keep.salt"),
    hash: t("audit.emergency.keep.hash"),
    download: t("audit.emergency.keep.download"),
  };
  return html`<li class="emergency-access" id=${`emergency-access-${id}`} aria-labelledby=${`emergency-access-h-${id}`}>
    <h3 id=${`emergency-access-h-${id}`}>${t("audit.emergency.title", { access: String(id) })}</h3>
    <p class=${`emergency-standing standing-${now.kind}`}>
      <span class="standing-mark" aria-hidden="true">${now.mark} </span><span class="standing-text">${now.text}</span>
    </p>
    <dl>
      <dt>${t("audit.emergency.department")}</dt>
      <dd class="emergency-department">${item.department_name || item.department}</dd>
      <dt>${t("audit.emergency.resident")}</dt>
      <dd><code class="address">${item.resident}</code></dd>
      <dt>${t("audit.emergency.fields")}</dt>
      <dd class="emergency-fields">${item.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
      <dt>${t("audit.emergency.reason")}</dt>
      <dd class="emergency-reason">${emergencyReason(t, item.reason)}</dd>
      <dt>${t("audit.emergency.accessed_at")}</dt>
      <dd>${utcTime(Number(item.accessed_at))}</dd>
      <dt>${t("audit.emergency.review_due")}</dt>
      <dd class="emergency-due">${utcTime(due)}</dd>
      <dt>${t("audit.emergency.justification_hash")}</dt>
      <dd><code class="address">${item.justification_hash}</code></dd>
      ${item.outcome &&
      html`<dt>${t("audit.emergency.reviewed_by")}</dt>
        <dd>
          <code class="address">${item.reviewer}</code>
          ${item.reviewed_at ? html` · ${utcTime(Number(item.reviewed_at))}` : ""}
        </dd>
        <dt>${t("audit.emergency.notes_hash")}</dt>
        <dd><code class="address emergency-notes-hash">${item.notes_hash}</code></dd>`}
    </dl>
    <${CheckJustification} t=${t} item=${item} />
    ${!item.outcome && html`<${ReviewForm} t=${t} session=${session} item=${item} onReviewed=${onReviewed} />`}
    ${kept &&
    html`<p id=${`review-${id}-said`} role="status">
        ${t(kept.late ? "audit.emergency.reviewed_late" : "audit.emergency.reviewed", {
          access: String(id),
          outcome: t(`audit.emergency.outcome.${kept.outcome}`),
        })}
      </p>
      <${KeptText} id=${`review-${id}-keep`} strings=${notesStrings} document=${kept.document} name=${kept.name} />`}
  </li>`;
}

export function AuditEmergency({ t, session }) {
  const [status, setStatus] = useState("pending");
  const [listed, setListed] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  // Reviews made on this screen: the entry stays in view, reviewed, with its notes to keep.
  const [kept, setKept] = useState({});
  const [round, setRound] = useState(0);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    queue(status, session.token.access_token)
      .then((found) => live && setListed(found))
      .catch((e) => live && setError(describeError(t, e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [status, round]);

  function reviewed(item, answer, salted) {
    const at = Number(answer.receipt.block_timestamp);
    const updated = {
      ...item,
      outcome: answer.outcome,
      late: answer.late,
      reviewer: answer.reviewer,
      reviewed_at: at,
      notes_hash: answer.notes_hash,
      status: answer.late ? "overdue" : "reviewed",
    };
    setListed((before) => ({ ...before, items: before.items.map((i) => (i.access_id === item.access_id ? updated : i)) }));
    const document = { access_id: item.access_id, outcome: answer.outcome, tag: salted.tag, text: salted.text, salt: salted.salt, hash: salted.hash };
    setKept((before) => ({
      ...before,
      [item.access_id]: { outcome: answer.outcome, late: answer.late, document, name: `emergency-review-notes-${item.access_id}.json` },
    }));
  }

  return html`<section aria-labelledby="audit-emergency-heading" class="card">
    <h2 id="audit-emergency-heading">${t("audit.emergency.heading")}</h2>
    <p class="hint">${t("audit.emergency.hint")}</p>
    <div class="actions queue-filter">
      <label for="emergency-status">${t("audit.emergency.status")}</label>
      <select id="emergency-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
        ${STATUSES.map((s) => html`<option value=${s} selected=${s === status}>${t(`audit.emergency.filter.${s || "all"}`)}</option>`)}
      </select>
      <button type="button" class="secondary" id="emergency-refresh" disabled=${loading} onClick=${() => setRound(round + 1)}>
        ${t("audit.emergency.refresh")}
      </button>
    </div>
    <${ErrorText} id="emergency-queue-error" text=${error} />
    ${loading && html`<${Busy} label=${t("audit.emergency.loading")} />`}
    ${listed &&
    html`<p class="hint" id="emergency-as-of">${t("audit.emergency.as_of", { time: utcTime(listed.asOf) })}</p>`}
    ${listed &&
    (listed.items.length
      ? html`<ul class="requests" id="emergency-queue">
          ${listed.items.map(
            (item) => html`<${AccessEntry}
              key=${item.access_id}
              t=${t}
              session=${session}
              item=${item}
              asOf=${listed.asOf}
              kept=${kept[item.access_id]}
              onReviewed=${(answer, salted) => reviewed(item, answer, salted)}
            />`,
          )}
        </ul>`
      : html`<p id="emergency-queue-empty">${t(`audit.emergency.empty.${status || "all"}`)}</p>`)}
  </section>`;
}
