// A Grant signed in the browser, as the CLI's `consent grant` makes one: the field keys of
// the latest record version wrapped for the department (wrapping.js: only once the
// admin's signed registration of its key checks out), POST /consents, and the
// consent as served checked against the Grant just signed. Approving a request and
// renewing a consent both grant through this one path.
import { nameToBytes32, toHex, toJson } from "../crypto/codec.js";
import { signIntent } from "../crypto/eip712.js";

import { call } from "./api.js";
import { checkConsent } from "./consentTerms.js";
import { loadRecord } from "./record.js";
import { allPages } from "./pages.js";
import { principal, principalSigners } from "./session.js";
import { fieldIds, intentContext } from "./signedWrite.js";
import { Refusal } from "./ui.js";
import { requireFields, trustedDepartment, wrapFields } from "./wrapping.js";

const NO_REQUEST = "0x" + "00".repeat(32);

/**
 * Grant `terms` = {department, fields, purpose, duration (seconds), maxUses?, requestId?}
 * from chain time now. `missing` names the string said when the record lacks a field
 * (its wording differs between approving and renewing). Returns POST /consents's answer.
 */
export async function grantConsent(session, terms, step, { missing = "requests.missing_fields" } = {}) {
  const address = principal(session);
  const token = session.token.access_token;
  const names = [...terms.fields].sort();
  const [record, departments, eip712] = await Promise.all([
    loadRecord(session),
    allPages("/departments", token),
    call("GET", "/eip712"),
  ]);
  step(0.3);
  if (!record) throw new Refusal("requests.no_record");
  const department = trustedDepartment(departments, terms.department, eip712);
  const { entry } = department;
  requireFields(record, names, missing);
  const wrapped = await wrapFields(record, names, department);
  step(0.6);
  const { spec, nonce, deadline } = await intentContext("Grant", session.wallet.address);
  const now = deadline - 600n;
  const message = {
    resident: address,
    department: entry.address,
    fields: fieldIds(names),
    purpose: toHex(nameToBytes32(terms.purpose)),
    validFrom: now,
    validUntil: now + BigInt(terms.duration),
    maxUses: BigInt(terms.maxUses || 0),
    requestId: terms.requestId || NO_REQUEST,
    nonce,
    deadline,
  };
  const signed = await signIntent(session.wallet.privateKey, spec, message);
  step(0.8);
  const body = toJson({ ...signed, version: record.version, wrapped_keys: wrapped });
  const answer = await call("POST", "/consents", body, token);
  // As the CLI's grant: the consent as served must be the Grant just signed.
  const consent = await call("GET", `/consents/${answer.consent_id}`, undefined, token);
  checkConsent(consent, eip712, address, principalSigners(session));
  step(1);
  return answer;
}
