// Who else holds keys of the resident's record, and gets the keys of each new version
// wrapped for it, as the CLI's commit does (api/client_delegates.py delegate_keys_for,
// the directive's re-wrap): the delegates in force whose powers need them (their keys
// checked against their registrar's signed enrolment first) and the department of the
// directive in force. Consents are re-wrapped by the rotation that needs it (rotation.js).
import { checksumAddress } from "../crypto/codec.js";
import { intentSpec, recoverIntentSigner } from "../crypto/eip712.js";

import { ApiError, call } from "./api.js";
import { allPages } from "./pages.js";
import { residentKey } from "./residentKey.js";
import { Refusal } from "./ui.js";
import { trustedDepartment, wrapFields } from "./wrapping.js";

/** Grant, commit and read need the record's keys; revoking needs none. */
const KEYED_POWERS = 1 | 4 | 8;

/** `{delegate: {field: wrapped key}}` of `record`'s fields for each keyed delegate in force. */
export async function delegateKeysFor(session, record, eip712) {
  const token = session.token.access_token;
  let listed;
  try {
    listed = await allPages(`/residents/${record.resident}/delegates`, token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return {};
    throw e;
  }
  const keys = {};
  for (const d of listed) {
    if (d.status !== "active" || !(Number(d.power_bits) & KEYED_POWERS)) continue;
    const publicKey = await delegatePublicKey(session, d.delegate, eip712);
    keys[d.delegate] = await wrapFields(record, Object.keys(record.fields), { entry: { address: d.delegate }, publicKey });
  }
  return keys;
}

/** A delegate's key, once its enrolment checks out (Refusal otherwise). */
export async function delegatePublicKey(session, delegate, eip712) {
  const entry = await call("GET", `/residents/${delegate}/encryption-key`, undefined, session.token.access_token);
  try {
    return residentKey(entry, eip712);
  } catch (e) {
    throw new Refusal("delegates.untrusted_key", { delegate, detail: e.message });
  }
}

/** The resident's directive as it stands, or null when it left none. */
export async function currentDirective(resident, token) {
  const found = await call("GET", `/emergency-directives?resident=${resident}`, undefined, token);
  return found.data[0] ?? null;
}

/** The resident's own key, checked as a delegate's is: what a delegate encrypts a
 * version it commits for. */
export async function ownerKey(session, resident, eip712) {
  return delegatePublicKey(session, resident, eip712);
}

/** The delegates whose CommitRecord of `resident`'s record this browser accepts: those a
 * signed AppointDelegate of the resident itself gave the commit power, at some time (the
 * chain judged each commit at its block), as the CLI's record_signers. */
export async function committers(session, resident, eip712) {
  const accepted = new Set();
  let listed;
  try {
    listed = await allPages(`/residents/${resident}/delegates`, session.token.access_token);
  } catch {
    return accepted; // not ours to list: only the resident's and this wallet's own count
  }
  const spec = intentSpec(eip712, "AppointDelegate");
  for (const d of listed)
    for (const event of d.history || []) {
      const intent = event.intent;
      if (event.type !== "DelegateAppointed" || !intent) continue;
      try {
        const signer = recoverIntentSigner(spec, intent.message, intent.signature);
        if (
          signer === checksumAddress(resident) &&
          checksumAddress(intent.message.resident) === signer &&
          checksumAddress(intent.message.delegate) === checksumAddress(d.delegate) &&
          Number(intent.message.powers) & 4
        )
          accepted.add(checksumAddress(d.delegate));
      } catch {
        // a signature that does not check out accepts no one
      }
    }
  return accepted;
}

/** After `record` is committed: its keys of the directive's fields for the directive's
 * department, when a directive is in force. */
export async function rewrapDirective(session, record, eip712) {
  const token = session.token.access_token;
  const directive = await currentDirective(record.resident, token);
  if (!directive || directive.status !== "active" || !directive.department) return;
  const names = directive.fields.filter((f) => record.fields[f]);
  if (names.length !== directive.fields.length) return; // a field left the record: the directive cannot follow
  const departments = await allPages("/departments", token);
  const wrapped = await wrapFields(record, names, trustedDepartment(departments, directive.department, eip712));
  const body = { version: Number(record.version), wrapped_keys: wrapped };
  await call("PUT", `/emergency-directives/${record.resident}/wrapped-keys`, body, token);
}
