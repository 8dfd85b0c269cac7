// "My record": the latest version opened in the browser with the resident's X25519 key,
// edited, and committed as a new version (PUT /residents/{a}/record, as the CLI does).
// Plaintext values live in this component's memory only: never in sessionStorage,
// localStorage or anywhere a reload could find them. So a reload with unsaved edits
// would lose them, and the page asks first (beforeunload) instead of keeping them.
import { useEffect, useState } from "preact/hooks";

import { checksumAddress, toHex } from "../crypto/codec.js";
import { intentSpec, recoverIntentSigner } from "../crypto/eip712.js";
import { buildRecord, commitRecordBody, openAsDelegate, openRecord } from "../crypto/record.js";

import { ApiError, call } from "./api.js";
import { committers, delegateKeysFor, ownerKey, rewrapDirective } from "./keyHolders.js";
import { principal } from "./session.js";
import { intentContext } from "./signedWrite.js";
import { ErrorText, Progress, describeError, fieldLabel, html } from "./ui.js";

export class UntrustedRecord extends Error {
  name = "UntrustedRecord";
}

const PIN = (address) => `portal.record.${address.toLowerCase()}`;

function pinnedVersion(address) {
  try {
    return BigInt(localStorage.getItem(PIN(address)) || "0");
  } catch {
    return 0n;
  }
}

function pinVersion(address, version) {
  try {
    if (version > pinnedVersion(address)) localStorage.setItem(PIN(address), String(version));
  } catch {
    // not remembered: the next page checks the signature only
  }
}

/**
 * As wallets/trust.py check_record: the served version is a signed CommitRecord of that
 * version and root for the resident (openRecord then checks the envelopes hash to it),
 * signed by the resident, by this wallet (a delegate), or by a delegate the resident's
 * own signed AppointDelegate gave the commit power; and no older than what this browser
 * last committed.
 */
async function checkCommit(session, stored, address) {
  const version = BigInt(stored.version);
  if (version < pinnedVersion(address)) throw new UntrustedRecord("rolled back");
  const commit = stored.commit;
  if (!commit || commit.type !== "CommitRecord") throw new UntrustedRecord("no signed commitment");
  const eip712 = await call("GET", "/eip712");
  const signer = recoverIntentSigner(intentSpec(eip712, "CommitRecord"), commit.message, commit.signature);
  const message = commit.message;
  const resident = checksumAddress(address);
  const accepted =
    signer === resident || signer === session.wallet.address || (await committers(session, resident, eip712)).has(signer);
  if (
    !accepted ||
    checksumAddress(message.resident) !== resident ||
    BigInt(message.version) !== version ||
    String(message.root).toLowerCase() !== String(stored.root).toLowerCase()
  )
    throw new UntrustedRecord("not the record you committed");
}

/** The latest stored version opened with the owner's key, or as the delegate acting
 * for the resident with the keys wrapped for it (null: none yet). */
export async function loadRecord(session) {
  const address = principal(session);
  let stored;
  try {
    stored = await call("GET", `/residents/${address}/record`, undefined, session.token.access_token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
  await checkCommit(session, stored, address);
  if (address !== session.wallet.address)
    return openAsDelegate(stored.fields, stored.wrapped_keys, session.encryption.x25519.privateKey, {
      delegate: session.wallet.address,
      resident: address,
      version: BigInt(stored.version),
      root: stored.root,
    });
  return openRecord(stored.fields, session.encryption.x25519.privateKey, {
    resident: address,
    version: BigInt(stored.version),
    root: stored.root,
  });
}

/**
 * Commit `values` as version latest+1 with fresh keys; salts carried over for values
 * left unchanged, except the `fresh` fields (a revoked consent exposed them). The new
 * keys go to the delegates in force and the directive's department too (keyHolders.js).
 */
export async function commitValues(session, record, values, step, { fresh = [] } = {}) {
  const address = principal(session);
  const own = address === session.wallet.address;
  const eip712 = await call("GET", "/eip712");
  const salts = {};
  for (const [name, value] of Object.entries(values)) {
    const before = record?.fields[name]?.value;
    if (before && before.value === value && !fresh.includes(name)) salts[name] = toHex(before.salt);
  }
  step(0.2);
  const built = await buildRecord(values, {
    resident: address,
    version: (record ? record.version : 0n) + 1n,
    // Encrypted for the resident, whoever commits it: a delegate's version stays the
    // resident's to open.
    ownerPublicKey: own ? session.encryption.x25519.publicKey : await ownerKey(session, address, eip712),
    salts,
  });
  step(0.5);
  const delegateKeys = await delegateKeysFor(session, built, eip712);
  const { spec, nonce, deadline } = await intentContext("CommitRecord", session.wallet.address);
  const body = await commitRecordBody(built, session.wallet.privateKey, spec, { nonce, deadline }, { delegate_keys: delegateKeys });
  step(0.7);
  await call("PUT", `/residents/${address}/record`, body, session.token.access_token);
  pinVersion(address, built.version);
  if (own) await rewrapDirective(session, built, eip712); // only the resident re-wraps it
  step(1);
  return built;
}

/** Whether `values` (or a field being added) differ from the record as opened. */
function unsaved(record, values, adding) {
  if (adding) return true;
  const opened = record ? record.fields : {};
  const names = Object.keys(values);
  if (names.length !== Object.keys(opened).length) return true;
  return names.some((n) => !opened[n] || opened[n].value.value !== values[n]);
}

/** While `dirty`, leaving or reloading the page asks first (the browser's own prompt). */
function useLeaveWarning(dirty) {
  useEffect(() => {
    if (!dirty) return undefined;
    const warn = (event) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
}

export function MyRecord({ t, session, refresh }) {
  const [record, setRecord] = useState(undefined);
  const [values, setValues] = useState({});
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [saved, setSaved] = useState("");

  async function reload() {
    setError("");
    setBusy({ label: t("record.loading"), value: 0.5 });
    try {
      const opened = await loadRecord(session);
      setRecord(opened);
      setValues(
        opened ? Object.fromEntries(Object.entries(opened.fields).map(([n, f]) => [n, f.value.value])) : {},
      );
    } catch (e) {
      setRecord(null);
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  useEffect(() => {
    reload();
  }, [principal(session), refresh]);

  useLeaveWarning(record !== undefined && unsaved(record, values, adding));

  function onAdding(event) {
    const form = event.currentTarget.form;
    setAdding(!!(form.elements["new-field-name"].value || form.elements["new-field-value"].value));
  }

  async function submit(event) {
    event.preventDefault();
    setError("");
    setSaved("");
    const form = event.currentTarget;
    const next = { ...values };
    const name = form.elements["new-field-name"].value.trim();
    const value = form.elements["new-field-value"].value;
    if (name) next[name] = value;
    if (!Object.keys(next).length) return setError(t("record.empty"));
    const label = t("record.committing");
    try {
      setBusy({ label, value: 0 });
      const built = await commitValues(session, record, next, (v) => setBusy({ label, value: v }));
      form.elements["new-field-name"].value = "";
      form.elements["new-field-value"].value = "";
      setAdding(false);
      setRecord(built);
      setValues(next);
      setSaved(t("record.saved", { version: String(built.version) }));
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  const names = Object.keys(values);
  return html`<section aria-labelledby="record-heading" class="card">
    <h2 id="record-heading">${t("record.heading")}</h2>
    <p class="hint">${t("record.hint")}</p>
    ${record === undefined
      ? null
      : html`<p id="record-version">
          ${record ? t("record.version", { version: String(record.version) }) : t("record.none")}
        </p>`}
    <form onSubmit=${submit} novalidate>
      ${names.map(
        (name) => html`<label for=${`field-${name}`}>${fieldLabel(t, name)}</label>
          <input
            id=${`field-${name}`}
            name=${`field-${name}`}
            value=${values[name]}
            onInput=${(e) => setValues({ ...values, [name]: e.currentTarget.value })}
          />`,
      )}
      <fieldset>
        <legend>${t("record.add")}</legend>
        <label for="new-field-name">${t("record.add.name")}</label>
        <input id="new-field-name" name="new-field-name" autocomplete="off" onInput=${onAdding} />
        <label for="new-field-value">${t("record.add.value")}</label>
        <input id="new-field-value" name="new-field-value" autocomplete="off" onInput=${onAdding} />
      </fieldset>
      <${ErrorText} id="record-error" text=${error} />
      ${saved && html`<p id="record-saved" role="status">${saved}</p>`}
      ${busy && html`<${Progress} ...${busy} />`}
      <button type="submit" disabled=${!!busy || record === undefined}>${t("record.commit")}</button>
    </form>
  </section>`;
}
