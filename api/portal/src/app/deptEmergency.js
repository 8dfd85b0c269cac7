// "Emergency access" (break the glass) for a department holding the emergency role, as
// `consent emergency access` does: the resident's directive looked up (GET
// /emergency-directives/{resident}: the fields it names for this department), the fields
// to read chosen among them (and among those the department's emergency role covers, read
// from the chain itself through POST /chain), a reason code and a justification in words.
// The justification is salted here (crypto/saltedText.js) and only its hash is signed
// into the EmergencyAccess (POST /emergency-accesses); the answer is opened as a query's
// (deptRead.js openFields), and the text and salt are offered as a file to keep for the
// auditor who reviews the access. A refusal is the message table's sentence.
import { Contract, JsonRpcProvider, Network } from "ethers";
import { useEffect, useState } from "preact/hooks";

import { bytes32Label, checksumAddress, nameToBytes32, toHex, toJson } from "../crypto/codec.js";
import { JUSTIFICATION, InvalidText, saltText } from "../crypto/saltedText.js";

import { ApiError, call } from "./api.js";
import { utcTime } from "./auditUi.js";
import { timeLeft } from "./consentList.js";
import { Attestation } from "./deptConsents.js";
import { openFields, postExact } from "./deptRead.js";
import { KeptText } from "./keptText.js";
import { sentence } from "./problems.js";
import { fieldIds, signFor } from "./signedWrite.js";
import { ErrorText, Progress, Refusal, describeError, fieldLabel, html } from "./ui.js";

/** The reason codes the portal offers (ledger/vocabulary.py EMERGENCY_REASONS; a test
 * holds the two lists equal), each said by `emergency.reason.<code>`. */
export const EMERGENCY_REASONS = ["UNCONSCIOUS", "CARDIAC_ARREST", "SEVERE_INJURY", "ALLERGIC_REACTION", "POISONING", "OTHER"];

/** A reason code in words, else the code itself (the chain records any code). */
export function emergencyReason(t, code) {
  const key = `emergency.reason.${code}`;
  return t(key) === key ? code : t(key);
}

/** A directive this department cannot use, as the chain would refuse an access under it
 * (`reason` one of ledger/vocabulary.py EMERGENCY_REFUSALS). */
class Unusable extends Error {
  constructor(reason) {
    super(reason);
    this.name = "Unusable";
    this.reason = reason;
  }
}

/** An error in words; an unusable directive is the message table's sentence for the
 * refusal the chain would give (src/app/problems.js, api/locale). */
function said(t, error) {
  if (error instanceof Unusable) return sentence({ status: 403, reason: error.reason }, { language: t.lang }) ?? error.reason;
  return describeError(t, error);
}

/** The fields the chain's directory lets `address` read in an emergency (its role's), or
 * null when the chain cannot be read: the chain judges the access anyway. */
async function roleFields(address) {
  try {
    const health = await call("GET", "/health");
    const network = Network.from(Number(health.chain_id));
    const provider = new JsonRpcProvider(new URL("/chain", location.origin).href, network, {
      staticNetwork: network,
      batchMaxCount: 1,
    });
    try {
      const abi = ["function emergencyFields(address account) view returns (bytes32[])"];
      const directory = new Contract(health.contracts.ConsentDirectory, abi, provider);
      return (await directory.emergencyFields(address)).map((id) => bytes32Label(id));
    } finally {
      provider.destroy();
    }
  } catch {
    return null;
  }
}

/** GET the resident's directive; a directive this department cannot use is said as the
 * chain would refuse it (no directive for it, or run out). */
async function lookUp(session, resident) {
  let directive;
  try {
    directive = await call("GET", `/emergency-directives/${resident}`, undefined, session.token.access_token);
  } catch (e) {
    // 404: none left; 403: one naming another department. Either way none for this one.
    if (e instanceof ApiError && (e.status === 404 || e.status === 403)) throw new Unusable("no_directive");
    throw e;
  }
  const mine = directive.department && directive.department.toLowerCase() === session.wallet.address.toLowerCase();
  if (directive.status === "withdrawn" || !mine) throw new Unusable("no_directive");
  if (directive.status === "expired") throw new Unusable("directive_expired");
  return directive;
}

/** Sign the EmergencyAccess for `names` with `reason` and the hash of `salted`, send it,
 * and open what is served: `{answer, fields}`. */
async function breakTheGlass(session, resident, names, reason, salted, step) {
  const signed = await signFor(session, "EmergencyAccess", {
    department: session.wallet.address,
    resident,
    fields: fieldIds(names),
    reason: toHex(nameToBytes32(reason)),
    justificationHash: salted.hash,
  });
  step(0.2);
  const [answer, eip712] = await Promise.all([
    postExact("/emergency-accesses", toJson(signed), session.token.access_token),
    call("GET", "/eip712"),
  ]);
  step(0.4);
  return { answer, fields: await openFields(session, resident, answer, eip712, step) };
}

/** What the department keeps for the auditor, as the CLI's emergency-justifications.jsonl
 * line: what it is about, then SaltedText.to_json (`tag`, `text`, `salt`, `hash`). */
function keptDocument(salted, about) {
  return { kept_at: Math.floor(Date.now() / 1000), ...about, tag: salted.tag, text: salted.text, salt: salted.salt, hash: salted.hash };
}

/** The justification's text, salt and hash, and the file that keeps them. */
function KeepJustification({ t, kept }) {
  const strings = {
    heading: t("dept.emergency.keep.heading"),
    hint: t("dept.emergency.keep.hint"),
    text: t("dept.emergency.keep.text"),
    salt: t("dept.emergency.keep.salt"),
    hash: t("dept.emergency.keep.hash"),
    download: t("dept.emergency.keep.download"),
  };
  return html`<${KeptText} id="emergency-keep" strings=${strings} document=${kept.document} name=${kept.name} />`;
}

function Served({ t, result }) {
  const { answer, fields } = result;
  const at = Number(answer.receipt.block_timestamp);
  const due = Number(answer.review_due);
  return html`<div class="read-result" id="emergency-result" aria-live="polite">
    <h4>${t("dept.emergency.result", { access: String(answer.access_id), block: String(answer.receipt.block_number) })}</h4>
    <dl>
      <dt>${t("dept.emergency.access_id")}</dt>
      <dd id="emergency-access-id">${String(answer.access_id)}</dd>
      <dt>${t("dept.emergency.recorded_at")}</dt>
      <dd>${utcTime(at)}</dd>
      <dt>${t("dept.emergency.review_due")}</dt>
      <dd id="emergency-review-due">
        ${t("dept.emergency.review_due_value", { time: utcTime(due), left: timeLeft(t, due - at) })}
      </dd>
      <dt>${t("dept.emergency.reason")}</dt>
      <dd>${emergencyReason(t, answer.reason)}</dd>
    </dl>
    <ul class="granted">
      ${fields.map(
        (f) => html`<li id=${`emergency-granted-${f.name}`} class="granted-field">
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
  </div>`;
}

/** Whether a failed access may still have been recorded on chain (so its justification
 * must be kept): anything but a refusal the API answered before or instead of serving. */
function mayBeRecorded(error) {
  if (!(error instanceof ApiError)) return !(error instanceof Refusal);
  if (error.problem?.reason) return false; // refused on chain: EmergencyDenied keeps no hash
  return error.status >= 500 || Boolean(error.problem?.receipt);
}

function AccessForm({ t, session, directive, covered }) {
  const readable = directive.fields.filter((n) => !covered || covered.includes(n));
  const outside = directive.fields.filter((n) => covered && !covered.includes(n));
  const [chosen, setChosen] = useState(() => new Set(readable));
  const [reason, setReason] = useState("");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [result, setResult] = useState(null);
  const [kept, setKept] = useState(null);

  function toggle(name, on) {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    setChosen(next);
  }

  async function submit(event) {
    event.preventDefault();
    setError("");
    setResult(null);
    setKept(null);
    const label = t("dept.emergency.reading");
    let salted = null;
    let names = [];
    try {
      names = [...chosen].sort();
      if (!names.length) throw new Refusal("dept.emergency.no_fields");
      if (!reason) throw new Refusal("dept.emergency.no_reason");
      try {
        salted = saltText(JUSTIFICATION, text);
      } catch (e) {
        if (e instanceof InvalidText) throw new Refusal(`dept.emergency.justification_${e.reason}`);
        throw e;
      }
      setBusy({ label, value: 0.1 });
      const done = await breakTheGlass(session, directive.resident, names, reason, salted, (value) => setBusy({ label, value }));
      setResult(done);
      const about = {
        access_id: done.answer.access_id,
        resident: directive.resident,
        department: session.wallet.address,
        fields: names,
        reason,
        review_due: done.answer.review_due,
      };
      setKept({ document: keptDocument(salted, about), name: `emergency-justification-${done.answer.access_id}.json` });
    } catch (e) {
      setError(describeError(t, e));
      if (salted && mayBeRecorded(e)) {
        const about = { resident: directive.resident, department: session.wallet.address, fields: names, reason };
        setKept({ document: keptDocument(salted, about), name: `emergency-justification-${salted.hash.slice(2, 10)}.json` });
      }
    } finally {
      setBusy(null);
    }
  }

  return html`<form class="emergency-form" onSubmit=${submit} novalidate>
      <fieldset>
        <legend>${t("dept.emergency.fields")}</legend>
        ${readable.map(
          (name) => html`<div class="check">
            <input
              type="checkbox"
              id=${`emergency-field-${name}`}
              checked=${chosen.has(name)}
              onChange=${(e) => toggle(name, e.currentTarget.checked)}
            />
            <label for=${`emergency-field-${name}`}>${fieldLabel(t, name)}</label>
          </div>`,
        )}
      </fieldset>
      ${outside.length > 0 &&
      html`<p class="hint" id="emergency-outside-role">
        ${t("dept.emergency.outside_role", { fields: outside.map((n) => fieldLabel(t, n)).join(", ") })}
      </p>`}
      <label for="emergency-reason">${t("dept.emergency.reason")}</label>
      <select id="emergency-reason" value=${reason} onChange=${(e) => setReason(e.currentTarget.value)}>
        <option value="">${t("dept.emergency.choose_reason")}</option>
        ${EMERGENCY_REASONS.map((code) => html`<option value=${code} selected=${code === reason}>${emergencyReason(t, code)}</option>`)}
      </select>
      <label for="emergency-justification">${t("dept.emergency.justification")}</label>
      <p class="hint" id="emergency-justification-hint">${t("dept.emergency.justification_hint")}</p>
      <textarea
        id="emergency-justification"
        rows="4"
        aria-describedby="emergency-justification-hint"
        value=${text}
        onInput=${(e) => setText(e.currentTarget.value)}
      ></textarea>
      <${ErrorText} id="emergency-error" text=${error} />
      ${busy && html`<${Progress} ...${busy} />`}
      <button type="submit" disabled=${!!busy}>${t("dept.emergency.submit")}</button>
    </form>
    ${result && html`<${Served} t=${t} result=${result} />`}
    ${kept && html`<${KeepJustification} t=${t} kept=${kept} />`}`;
}

export function DeptEmergency({ t, session }) {
  const [address, setAddress] = useState("");
  const [directive, setDirective] = useState(null);
  const [covered, setCovered] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    roleFields(session.wallet.address).then(setCovered);
  }, [session.wallet.address]);

  async function submit(event) {
    event.preventDefault();
    setError("");
    setDirective(null);
    setBusy(true);
    try {
      let resident;
      try {
        resident = checksumAddress(address.trim());
      } catch {
        throw new Refusal("dept.emergency.bad_address");
      }
      setDirective(await lookUp(session, resident));
    } catch (e) {
      setError(said(t, e));
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="dept-emergency-heading" class="card">
    <h2 id="dept-emergency-heading">${t("dept.emergency.heading")}</h2>
    <p class="hint">${t("dept.emergency.hint")}</p>
    <form onSubmit=${submit} novalidate>
      <label for="emergency-resident">${t("dept.emergency.resident")}</label>
      <input
        id="emergency-resident"
        value=${address}
        onInput=${(e) => setAddress(e.currentTarget.value)}
        autocomplete="off"
        spellcheck="false"
        placeholder="0x…"
      />
      <${ErrorText} id="emergency-lookup-error" text=${error} />
      ${busy && html`<${Progress} label=${t("dept.emergency.looking_up")} value=${0.5} />`}
      <button type="submit" disabled=${busy}>${t("dept.emergency.look_up")}</button>
    </form>
    ${directive &&
    html`<section class="directive" id="emergency-directive" aria-labelledby="emergency-directive-heading">
      <h3 id="emergency-directive-heading">${t("dept.emergency.directive")}</h3>
      <dl>
        <dt>${t("dept.emergency.directive_resident")}</dt>
        <dd><code>${directive.resident}</code></dd>
        <dt>${t("dept.emergency.directive_fields")}</dt>
        <dd id="emergency-directive-fields">${directive.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
        <dt>${t("dept.emergency.directive_until")}</dt>
        <dd>${utcTime(Number(directive.valid_until))}</dd>
      </dl>
      <${AccessForm} key=${`${directive.resident}-${directive.receipt.tx_hash}`} t=${t} session=${session} directive=${directive} covered=${covered} />
    </section>`}
  </section>`;
}
