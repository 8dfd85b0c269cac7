// "Delegates": who acts for the resident, with which powers and until when, as `consent
// delegate list|appoint|remove` do. Appointing wraps every field key of the latest record
// for the delegate's key (checked against its registrar's signed enrolment first) when
// its powers need them; removing one rotates the record (rotation.js), so the keys it
// held open nothing new. A guardian a registrar appointed is listed, not changed here.
import { useEffect, useState } from "preact/hooks";

import { checksumAddress, toJson } from "../crypto/codec.js";

import { call } from "./api.js";
import { delegatePublicKey } from "./keyHolders.js";
import { allPages } from "./pages.js";
import { loadRecord } from "./record.js";
import { rotateRecord } from "./rotation.js";
import { postSigned, signFor } from "./signedWrite.js";
import { ErrorText, Progress, describeError, html } from "./ui.js";
import { wrapFields } from "./wrapping.js";

const DAY = 86400;
/** The powers in bit order, as ledger/intents.py POWERS names them. */
export const POWERS = [
  ["grant", 1],
  ["revoke", 2],
  ["commit", 4],
  ["read", 8],
];
const KEYED_POWERS = 1 | 4 | 8;

function localDate(seconds) {
  const lang = document.documentElement.lang || undefined;
  return new Date(Number(seconds) * 1000).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
}

export const powerWords = (t, names) => names.map((p) => t(`power.${p}`)).join(", ");

async function appoint(session, delegate, bits, days, step) {
  const [eip712, health] = await Promise.all([call("GET", "/eip712"), call("GET", "/health")]);
  const message = {
    resident: session.wallet.address,
    delegate,
    powers: BigInt(bits),
    validUntil: BigInt(health.block_timestamp) + BigInt(days * DAY),
  };
  const extra = {};
  if (bits & KEYED_POWERS) {
    const publicKey = await delegatePublicKey(session, delegate, eip712); // checked before anything is opened
    step(0.3);
    const record = await loadRecord(session);
    if (record) {
      extra.wrapped_keys = await wrapFields(record, Object.keys(record.fields), { entry: { address: delegate }, publicKey });
      extra.version = record.version;
    }
  }
  step(0.6);
  const signed = await signFor(session, "AppointDelegate", message);
  const body = toJson({ ...signed, ...extra });
  const answer = await call("POST", `/residents/${session.wallet.address}/delegates`, body, session.token.access_token);
  step(1);
  return answer;
}

/** Remove `d`; rotate the record when its powers gave it keys. The new version or null. */
async function remove(session, d, step) {
  const me = session.wallet.address;
  const token = session.token.access_token;
  await postSigned(session, "RemoveDelegate", `/residents/${me}/delegates/${d.delegate}/remove`, { resident: me, delegate: d.delegate });
  step(0.3);
  if (!(Number(d.power_bits) & KEYED_POWERS)) return null;
  const record = await loadRecord(session);
  if (!record) return null;
  const consents = await allPages(`/residents/${me}/consents`, token);
  const next = await rotateRecord(session, record, Object.keys(record.fields), consents, (v) => step(0.3 + v * 0.7));
  return next.version;
}

function statusLabel(t, status) {
  const key = `delegates.status.${status}`;
  return t(key) === key ? status : t(key);
}

function DelegateCard({ t, d, busy, onRemove }) {
  const id = d.delegate.toLowerCase();
  return html`<li class="delegate" id=${`delegate-${id}`} aria-labelledby=${`delegate-h-${id}`}>
    <h3 id=${`delegate-h-${id}`}>${t("delegates.title", { delegate: d.delegate })}</h3>
    ${d.guardian && html`<p class="delegate-guardian">${t("delegates.guardian", { registrar: d.appointed_by })}</p>`}
    <dl>
      <dt>${t("delegates.status")}</dt>
      <dd class="delegate-status">${statusLabel(t, d.status)}</dd>
      <dt>${t("delegates.powers")}</dt>
      <dd class="delegate-powers">${powerWords(t, d.powers)}</dd>
      <dt>${t("delegates.until")}</dt>
      <dd>${localDate(d.valid_until)}</dd>
    </dl>
    ${d.status === "active" &&
    !d.guardian &&
    html`<button type="button" disabled=${!!busy} onClick=${() => onRemove(d)}>
      ${t("delegates.remove", { delegate: d.delegate })}
    </button>`}
  </li>`;
}

export function Delegates({ t, session }) {
  const [rows, setRows] = useState(null);
  const [address, setAddress] = useState("");
  const [bits, setBits] = useState(8);
  const [days, setDays] = useState("365");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [said, setSaid] = useState("");
  const me = session.wallet.address;

  async function reload() {
    try {
      setRows(await allPages(`/residents/${me}/delegates`, session.token.access_token));
    } catch (e) {
      setError(describeError(t, e));
    }
  }

  useEffect(() => {
    setBusy({ label: t("delegates.loading"), value: 0.5 });
    reload().finally(() => setBusy(null));
  }, [me]);

  async function submit(event) {
    event.preventDefault();
    setError("");
    setSaid("");
    let delegate;
    try {
      delegate = checksumAddress(address.trim());
    } catch {
      return setError(t("delegates.bad_address"));
    }
    if (!bits) return setError(t("delegates.no_powers"));
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1) return setError(t("delegates.bad_days"));
    const label = t("delegates.appointing");
    setBusy({ label, value: 0.1 });
    try {
      const answer = await appoint(session, delegate, bits, n, (v) => setBusy({ label, value: v }));
      setSaid(t("delegates.appointed", { delegate: answer.delegate, until: localDate(answer.valid_until) }));
      setAddress("");
      await reload();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  async function onRemove(d) {
    setError("");
    setSaid("");
    const label = t("delegates.removing");
    setBusy({ label, value: 0.1 });
    try {
      const version = await remove(session, d, (v) => setBusy({ label, value: v }));
      setSaid(
        version === null
          ? t("delegates.removed", { delegate: d.delegate })
          : t("delegates.rotated", { delegate: d.delegate, version: String(version) }),
      );
      await reload();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section aria-labelledby="delegates-heading" class="card">
    <h2 id="delegates-heading">${t("delegates.heading")}</h2>
    <p class="hint">${t("delegates.hint")}</p>
    ${said && html`<p id="delegates-said" role="status">${said}</p>`}
    <${ErrorText} id="delegates-error" text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    ${rows &&
    (rows.length
      ? html`<ul class="delegates" id="delegate-list">
          ${rows.map((d) => html`<${DelegateCard} key=${d.delegate} t=${t} d=${d} busy=${busy} onRemove=${onRemove} />`)}
        </ul>`
      : html`<p id="delegates-none">${t("delegates.none")}</p>`)}
    <form id="delegate-form" onSubmit=${submit} novalidate>
      <h3>${t("delegates.appoint.heading")}</h3>
      <label for="delegate-address">${t("delegates.appoint.address")}</label>
      <input id="delegate-address" autocomplete="off" spellcheck="false" value=${address} onInput=${(e) => setAddress(e.currentTarget.value)} />
      <fieldset>
        <legend>${t("delegates.appoint.powers")}</legend>
        ${POWERS.map(
          ([name, bit]) => html`<div class="check">
            <input type="checkbox" id=${`power-${name}`} checked=${!!(bits & bit)} onChange=${(e) => setBits(e.currentTarget.checked ? bits | bit : bits & ~bit)} />
            <label for=${`power-${name}`}>${t(`power.${name}`)}</label>
          </div>`,
        )}
      </fieldset>
      <label for="delegate-days">${t("delegates.appoint.days")}</label>
      <input id="delegate-days" type="number" inputmode="numeric" min="1" step="1" value=${days} onInput=${(e) => setDays(e.currentTarget.value)} />
      <button type="submit" disabled=${!!busy}>${t("delegates.appoint.submit")}</button>
    </form>
  </section>`;
}
