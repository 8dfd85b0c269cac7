// A record rotated away from someone who held its keys (a revoked consent's department,
// a removed delegate), as the CLI's rotate: a new version with fresh keys for every field
// and fresh salts for the `fresh` fields, committed (record.js: the delegates in force and
// the directive get the new keys), then the new keys re-wrapped for every consent still
// live. Every department key is checked before anything is committed.
import { toJson } from "../crypto/codec.js";

import { call } from "./api.js";
import { LIVE } from "./consentList.js";
import { allPages } from "./pages.js";
import { commitValues } from "./record.js";
import { trustedDepartment, wrapFields } from "./wrapping.js";

/** The new version, once committed and re-wrapped for the live consents of `consents`. */
export async function rotateRecord(session, record, fresh, consents, step) {
  const token = session.token.access_token;
  const names = Object.keys(record.fields);
  const survivors = consents.filter((c) => LIVE.has(c.status) && c.fields.some((f) => names.includes(f)));
  const [departments, eip712] = await Promise.all([allPages("/departments", token), call("GET", "/eip712")]);
  const keys = {};
  for (const c of survivors)
    if (departments.some((d) => d.address.toLowerCase() === c.department.toLowerCase()))
      keys[c.consent_id] = trustedDepartment(departments, c.department, eip712);
  step(0.5);
  const values = Object.fromEntries(names.map((n) => [n, record.fields[n].value.value]));
  const next = await commitValues(session, record, values, () => {}, { fresh });
  step(0.8);
  for (const c of survivors) {
    if (!(c.consent_id in keys)) continue;
    const wrapped = await wrapFields(next, c.fields.filter((f) => names.includes(f)), keys[c.consent_id]);
    await call("PUT", `/consents/${c.consent_id}/wrapped-keys`, toJson({ version: next.version, wrapped_keys: wrapped }), token);
  }
  step(1);
  return next;
}
