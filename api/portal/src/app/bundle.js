// A whole service granted with one signature, as tests/api/bundles.py makes one: a
// GrantBundle over every item of the service in its order (each as the resident narrowed
// it, never wider), the fields each department's items grant wrapped for that
// department's checked key (wrapping.js, the same path as a single Grant), POST /bundles,
// and every consent as served checked against the bundle just signed. One RevokeBundle
// ends it.
import { labelToBytes32, toHex, toJson } from "../crypto/codec.js";
import { signIntent } from "../crypto/eip712.js";

import { call } from "./api.js";
import { checkConsent } from "./consentTerms.js";
import { allPages } from "./pages.js";
import { loadRecord } from "./record.js";
import { fieldIds, intentContext, postSigned } from "./signedWrite.js";
import { Refusal } from "./ui.js";
import { requireFields, trustedDepartment, wrapFields } from "./wrapping.js";

const hex32 = (label) => toHex(labelToBytes32(label));

/** Throws unless `chosen` (fields, duration seconds, maxUses) narrows service item `item`
 * (number `index`): the browser refuses a widening before the chain would. */
export function checkNarrowed(item, chosen, index) {
  const at = { item: String(index + 1), department: item.department_name || item.department };
  if (!chosen.fields.length) throw new Refusal("services.no_fields", at);
  if (chosen.fields.some((f) => !item.fields.includes(f))) throw new Refusal("services.wider", at);
  if (!Number.isInteger(chosen.duration) || chosen.duration < 1 || chosen.duration > item.duration)
    throw new Refusal("services.bad_duration", at);
  const cap = item.max_uses;
  const uses = chosen.maxUses;
  if (!Number.isInteger(uses) || uses < 0 || (cap && (uses < 1 || uses > cap))) throw new Refusal("services.bad_uses", at);
}

/** Grant `service` (as GET /services serves it) with `chosen[i]` for its item i, from chain
 * time now. Returns `{granted: POST /bundles's answer, bundle: GET /bundles/{id}}`. */
export async function grantBundle(session, service, chosen, step) {
  const address = session.wallet.address;
  const token = session.token.access_token;
  if (chosen.length !== service.items.length) throw new Error("one choice per service item");
  service.items.forEach((item, i) => checkNarrowed(item, chosen[i], i));
  const [record, departments, eip712] = await Promise.all([
    loadRecord(session),
    allPages("/departments", token),
    call("GET", "/eip712"),
  ]);
  step(0.2);
  const wanted = new Map(); // department address → the fields its items grant
  chosen.forEach((c, i) => {
    const key = service.items[i].department;
    wanted.set(key, new Set([...(wanted.get(key) || []), ...c.fields]));
  });
  requireFields(record, [...new Set(chosen.flatMap((c) => c.fields))].sort());
  // Every department's key is checked before any key is wrapped for any of them.
  const trusted = [...wanted.keys()].map((d) => trustedDepartment(departments, d, eip712));
  const wrapped = {};
  for (const department of trusted)
    wrapped[department.entry.address] = await wrapFields(record, [...wanted.get(department.entry.address)].sort(), department);
  step(0.5);
  const { spec, nonce, deadline } = await intentContext("GrantBundle", address);
  const now = deadline - 600n;
  const message = {
    resident: address,
    service: hex32(service.service),
    items: service.items.map((item, i) => ({
      department: item.department,
      fields: fieldIds([...chosen[i].fields].sort()),
      purpose: hex32(item.purpose),
      validUntil: now + BigInt(chosen[i].duration),
      maxUses: BigInt(chosen[i].maxUses),
    })),
    validFrom: now,
    nonce,
    deadline,
  };
  const signed = await signIntent(session.wallet.privateKey, spec, message);
  step(0.7);
  const body = toJson({ ...signed, version: record.version, wrapped_keys: wrapped });
  const granted = await call("POST", "/bundles", body, token);
  const bundle = await call("GET", `/bundles/${granted.bundle_id}`, undefined, token);
  // As a single grant: each consent as served must be an item of the bundle just signed
  // (GET /consents/{id} carries its signed provenance; the bundle's list does not).
  const served = await Promise.all(granted.consent_ids.map((id) => call("GET", `/consents/${id}`, undefined, token)));
  for (const consent of served) checkConsent(consent, eip712, address);
  step(1);
  return { granted, bundle };
}

/** End every consent of bundle `bundleId` still in force: one signed RevokeBundle. */
export function revokeBundle(session, bundleId) {
  const message = { resident: session.wallet.address, bundleId: BigInt(bundleId) };
  return postSigned(session, "RevokeBundle", `/bundles/${bundleId}/revoke`, message);
}
