// "Emergency directive": the fields an emergency service (an ambulance holding the
// emergency role) may read if the resident cannot answer, as `consent emergency
// directive` leaves one: the fields' keys of the latest record wrapped (wrapping.js, the
// department's key checked first) for that one department, a signed EmergencyDirective,
// POST /emergency-directives. Withdrawing signs one with no fields.
import { useEffect, useState } from "preact/hooks";

import { toJson } from "../crypto/codec.js";

import { call } from "./api.js";
import { currentDirective } from "./keyHolders.js";
import { allPages } from "./pages.js";
import { loadRecord } from "./record.js";
import { fieldIds, signFor } from "./signedWrite.js";
import { ErrorText, Progress, Refusal, describeError, fieldLabel, html } from "./ui.js";
import { requireFields, trustedDepartment, wrapFields } from "./wrapping.js";

const DAY = 86400;
const NOBODY = "0x" + "00".repeat(20);

function localDate(seconds) {
  const lang = document.documentElement.lang || undefined;
  return new Date(Number(seconds) * 1000).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

/** Sign and post an EmergencyDirective naming `department` and `names` for `days`. */
async function leaveDirective(session, departments, department, names, days, step) {
  const token = session.token.access_token;
  const [record, eip712, health] = await Promise.all([loadRecord(session), call("GET", "/eip712"), call("GET", "/health")]);
  if (!record) throw new Refusal("directive.no_record");
  const checked = trustedDepartment(departments, department, eip712);
  requireFields(record, names);
  step(0.4);
  const wrapped = await wrapFields(record, names, checked);
  step(0.6);
  const message = {
    resident: session.wallet.address,
    department: checked.entry.address,
    fields: fieldIds(names),
    validUntil: BigInt(health.block_timestamp) + BigInt(days * DAY),
  };
  const signed = await signFor(session, "EmergencyDirective", message);
  step(0.8);
  const body = toJson({ ...signed, version: record.version, wrapped_keys: wrapped });
  const answer = await call("POST", "/emergency-directives", body, token);
  step(1);
  return answer;
}

async function withdrawDirective(session) {
  const message = { resident: session.wallet.address, department: NOBODY, fields: [], validUntil: 0n };
  const signed = await signFor(session, "EmergencyDirective", message);
  return call("POST", "/emergency-directives", toJson(signed), session.token.access_token);
}

function statusLabel(t, status) {
  const key = `directive.status.${status}`;
  return t(key) === key ? status : t(key);
}

function Current({ t, directive, names }) {
  if (!directive) return html`<p id="directive-none">${t("directive.none")}</p>`;
  const name = directive.department_name || names[(directive.department || "").toLowerCase()] || directive.department || "—";
  return html`<dl id="directive-current">
    <dt>${t("directive.status")}</dt>
    <dd class="directive-status">${statusLabel(t, directive.status)}</dd>
    <dt>${t("directive.department")}</dt>
    <dd class="directive-department">${directive.department ? name : "—"}</dd>
    <dt>${t("directive.fields")}</dt>
    <dd class="directive-fields">${directive.fields.length ? directive.fields.map((n) => fieldLabel(t, n)).join(", ") : "—"}</dd>
    <dt>${t("directive.until")}</dt>
    <dd>${directive.valid_until ? localDate(directive.valid_until) : "—"}</dd>
    <dt>${t("directive.signer")}</dt>
    <dd><code>${directive.signer}</code></dd>
  </dl>`;
}

export function EmergencyDirective({ t, session }) {
  const [state, setState] = useState(null); // {directive, departments, recordFields}
  const [chosen, setChosen] = useState("");
  const [ticked, setTicked] = useState([]);
  const [days, setDays] = useState("365");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [said, setSaid] = useState("");

  async function reload() {
    setError("");
    setBusy({ label: t("directive.loading"), value: 0.5 });
    try {
      const token = session.token.access_token;
      const [directive, departments, record] = await Promise.all([
        currentDirective(session.wallet.address, session.token.access_token),
        allPages("/departments", token),
        loadRecord(session),
      ]);
      const services = departments.filter((d) => d.active && (d.emergency_fields || []).length);
      setState({ directive, departments, services, recordFields: record ? Object.keys(record.fields) : [] });
      const keep = directive?.status === "active" ? directive.department : services[0]?.address;
      setChosen(keep || "");
      setTicked(directive?.status === "active" ? directive.fields : []);
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  useEffect(() => {
    reload();
  }, [session.wallet.address]);

  const names = Object.fromEntries((state?.departments || []).map((d) => [d.address.toLowerCase(), d.name]));
  const service = state?.services.find((d) => d.address.toLowerCase() === chosen.toLowerCase());
  const offered = service ? service.emergency_fields.filter((f) => state.recordFields.includes(f)) : [];

  async function submit(event) {
    event.preventDefault();
    setError("");
    setSaid("");
    const picked = ticked.filter((f) => offered.includes(f)).sort();
    if (!picked.length) return setError(t("directive.no_fields"));
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1) return setError(t("directive.bad_days"));
    const label = t("directive.saving");
    setBusy({ label, value: 0.1 });
    try {
      const answer = await leaveDirective(session, state.departments, service.address, picked, n, (v) => setBusy({ label, value: v }));
      setSaid(
        t("directive.saved", {
          department: service.name,
          fields: picked.map((f) => fieldLabel(t, f)).join(", "),
          until: localDate(answer.valid_until),
        }),
      );
      await reload();
    } catch (e) {
      setError(describeError(t, e, names));
    } finally {
      setBusy(null);
    }
  }

  async function withdraw() {
    setError("");
    setSaid("");
    setBusy({ label: t("directive.withdrawing"), value: 0.5 });
    try {
      await withdrawDirective(session);
      setSaid(t("directive.withdrawn"));
      await reload();
    } catch (e) {
      setError(describeError(t, e, names));
    } finally {
      setBusy(null);
    }
  }

  const toggle = (field) => setTicked(ticked.includes(field) ? ticked.filter((f) => f !== field) : [...ticked, field]);
  return html`<section aria-labelledby="directive-heading" class="card">
    <h2 id="directive-heading">${t("directive.heading")}</h2>
    <p class="hint">${t("directive.hint")}</p>
    ${state && html`<${Current} t=${t} directive=${state.directive} names=${names} />`}
    ${said && html`<p id="directive-said" role="status">${said}</p>`}
    <${ErrorText} id="directive-error" text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    ${state?.directive?.status === "active" &&
    html`<button type="button" class="secondary" id="directive-withdraw" disabled=${!!busy} onClick=${withdraw}>
      ${t("directive.withdraw")}
    </button>`}
    ${state &&
    (state.services.length
      ? html`<form id="directive-form" onSubmit=${submit} novalidate>
          <h3>${t("directive.form.heading")}</h3>
          <label for="directive-department">${t("directive.form.department")}</label>
          <select id="directive-department" value=${chosen} onChange=${(e) => setChosen(e.currentTarget.value)}>
            ${state.services.map((d) => html`<option value=${d.address}>${d.name}</option>`)}
          </select>
          <fieldset>
            <legend>${t("directive.form.fields")}</legend>
            ${offered.map(
              (f) => html`<div class="check">
                <input type="checkbox" id=${`directive-field-${f}`} checked=${ticked.includes(f)} onChange=${() => toggle(f)} />
                <label for=${`directive-field-${f}`}>${fieldLabel(t, f)}</label>
              </div>`,
            )}
          </fieldset>
          <label for="directive-days">${t("directive.form.days")}</label>
          <input id="directive-days" type="number" inputmode="numeric" min="1" step="1" value=${days} onInput=${(e) => setDays(e.currentTarget.value)} />
          <button type="submit" disabled=${!!busy}>${t("directive.form.submit")}</button>
        </form>`
      : html`<p id="directive-no-services">${t("directive.no_departments")}</p>`)}
  </section>`;
}
