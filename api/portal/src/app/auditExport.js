// Export as `consent audit export` does: GET /audit/export?format=csv|jsonl with the
// current filters, fetched (the bearer token is a header, a plain link cannot send it),
// checked for its end marker (a cut stream can end on a whole line and look complete,
// api/export_marker.py) and only then offered as a file from a Blob URL.
import { useState } from "preact/hooks";

import { ApiError } from "./api.js";
import { filterParams } from "./auditFilters.js";
import { Busy } from "./auditUi.js";
import { ErrorText, Refusal, describeError, html } from "./ui.js";

const TYPES = { csv: "text/csv", jsonl: "application/x-ndjson" };

/** The event count the export's end marker states, checked against the lines before it;
 * throws a Refusal when the marker is missing or wrong. */
export function checkedCount(format, text) {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const last = (lines[lines.length - 1] || "").replace(/\r$/, "");
  let count = NaN;
  let before = 0;
  if (format === "jsonl") {
    try {
      const end = JSON.parse(last);
      if (end && end.end === true && Object.keys(end).length === 2) count = end.events;
    } catch {
      // not the marker
    }
    before = lines.length - 1;
  } else {
    const cells = last.split(",");
    if (cells[0] === "end") count = Number(cells[1]);
    before = lines.length - 2; // the header row
  }
  if (!Number.isInteger(count) || count !== before) throw new Refusal("audit.export.cut");
  return count;
}

function fileName(format) {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  return `consent-ledger-events-${stamp}.${format}`;
}

async function download(format, filters, token, onBytes) {
  const params = filterParams(filters);
  params.set("format", format);
  const answer = await fetch(`/audit/export?${params}`, {
    headers: { Accept: TYPES[format], Authorization: `Bearer ${token}` },
    credentials: "omit",
  });
  if (!answer.ok) {
    const text = await answer.text();
    let problem = null;
    try {
      problem = JSON.parse(text);
    } catch {
      // not problem+json
    }
    throw new ApiError(answer.status, problem);
  }
  const reader = answer.body.getReader();
  const chunks = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.length;
    onBytes(bytes);
  }
  const blob = new Blob(chunks, { type: TYPES[format] });
  const count = checkedCount(format, await blob.text());
  return { blob, count, bytes };
}

function offer(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ExportButtons({ t, session, filters }) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [said, setSaid] = useState("");

  async function run(format) {
    setError("");
    setSaid("");
    const label = t("audit.export.downloading", { format: format.toUpperCase() });
    setBusy({ label, detail: "" });
    try {
      const { blob, count } = await download(format, filters, session.token.access_token, (bytes) =>
        setBusy({ label, detail: t("audit.export.received", { kb: (bytes / 1024).toFixed(1) }) }),
      );
      const name = fileName(format);
      offer(blob, name);
      setSaid(t("audit.export.done", { count: String(count), name }));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section class="export" aria-labelledby="export-heading">
    <h3 id="export-heading">${t("audit.export.heading")}</h3>
    <p class="hint">${t("audit.export.hint")}</p>
    <div class="actions">
      <button type="button" id="export-csv" disabled=${!!busy} onClick=${() => run("csv")}>
        ${t("audit.export.csv")}
      </button>
      <button type="button" id="export-jsonl" disabled=${!!busy} onClick=${() => run("jsonl")}>
        ${t("audit.export.jsonl")}
      </button>
    </div>
    ${busy && html`<${Busy} label=${busy.label} detail=${busy.detail} />`}
    ${said && html`<p id="export-said" role="status">${said}</p>`}
    <${ErrorText} id="export-error" text=${error} />
  </section>`;
}
