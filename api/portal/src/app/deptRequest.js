// "File a request": a department asks a resident for fields, for a purpose and a number
// of days, as `consent request create` does (a signed AccessRequest, POST /access-requests).
import { useEffect, useState } from "preact/hooks";

import { checksumAddress, nameToBytes32, toHex } from "../crypto/codec.js";

import { call } from "./api.js";
import { fieldIds, postSigned } from "./signedWrite.js";
import { ErrorText, Progress, Refusal, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

const DAY = 86400;
const MAX_DAYS = 3650;

/** Sign and send the request; the API's `{request_id, receipt}`. */
export function fileRequest(session, { resident, fields, purpose, days }) {
  return postSigned(session, "AccessRequest", "/access-requests", {
    department: session.wallet.address,
    resident,
    fields: fieldIds(fields),
    purpose: toHex(nameToBytes32(purpose)),
    duration: BigInt(days * DAY),
  });
}

/** The form's terms checked before anything is signed; Refusal in words otherwise. */
function terms(form, chosen) {
  let resident;
  try {
    resident = checksumAddress(form.elements.resident.value.trim());
  } catch (e) {
    throw new Refusal("dept.request.bad_address");
  }
  if (!chosen.size) throw new Refusal("dept.request.no_fields");
  const purpose = form.elements.purpose.value;
  if (!purpose) throw new Refusal("dept.request.no_purpose");
  const days = Number(form.elements.days.value);
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS)
    throw new Refusal("dept.request.bad_days", { max: String(MAX_DAYS) });
  return { resident, fields: [...chosen].sort(), purpose, days };
}

export function FileRequest({ t, session }) {
  const [schema, setSchema] = useState(null);
  const [chosen, setChosen] = useState(() => new Set());
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [said, setSaid] = useState("");

  useEffect(() => {
    call("GET", "/schema").then(setSchema, (e) => setError(describeError(t, e)));
  }, []);

  function toggle(name, on) {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  }

  async function submit(event) {
    event.preventDefault();
    setError("");
    setSaid("");
    const form = event.currentTarget;
    const label = t("dept.request.sending");
    try {
      const asked = terms(form, chosen);
      setBusy({ label, value: 0.3 });
      const answer = await fileRequest(session, asked);
      setBusy({ label, value: 1 });
      setSaid(t("dept.request.sent", { request: answer.request_id }));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  const fields = schema ? Object.keys(schema.fields) : [];
  const purposes = schema ? Object.keys(schema.purposes) : [];
  return html`<section aria-labelledby="dept-request-heading" class="card">
    <h2 id="dept-request-heading">${t("dept.request.heading")}</h2>
    <p class="hint">${t("dept.request.hint")}</p>
    <form onSubmit=${submit} novalidate>
      <label for="dept-resident">${t("dept.request.resident")}</label>
      <input id="dept-resident" name="resident" autocomplete="off" spellcheck="false" placeholder="0x…" />
      <fieldset>
        <legend>${t("dept.request.fields")}</legend>
        ${fields.map(
          (name) => html`<div class="check">
            <input
              type="checkbox"
              id=${`dept-field-${name}`}
              checked=${chosen.has(name)}
              onChange=${(e) => toggle(name, e.currentTarget.checked)}
            />
            <label for=${`dept-field-${name}`}>${fieldLabel(t, name)}</label>
          </div>`,
        )}
      </fieldset>
      <label for="dept-purpose">${t("dept.request.purpose")}</label>
      <select id="dept-purpose" name="purpose">
        <option value="">${t("dept.request.choose_purpose")}</option>
        ${purposes.map((code) => html`<option value=${code}>${purposeLabel(t, code)}</option>`)}
      </select>
      <label for="dept-days">${t("dept.request.days")}</label>
      <input id="dept-days" name="days" type="number" inputmode="numeric" min="1" max=${MAX_DAYS} defaultValue="30" />
      <${ErrorText} id="dept-request-error" text=${error} />
      ${busy && html`<${Progress} ...${busy} />`}
      <button type="submit" disabled=${!!busy || !schema}>${t("dept.request.submit")}</button>
    </form>
    ${said && html`<p id="dept-request-said" role="status">${said}</p>`}
  </section>`;
}
