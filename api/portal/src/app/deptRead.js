// Reading granted fields as `consent query` does: a signed Access (POST /queries), each
// field's key unwrapped with the department's own X25519 key and the value decrypted in
// this browser, its ciphertext proven under the record's root, and its attestations
// checked against the chain (deptAttestation.js). Nothing decrypted is ever sent. An
// emergency access's answer is opened by the same code (openFields, deptEmergency.js).
import { toJson } from "../crypto/codec.js";
import { intentSpec } from "../crypto/eip712.js";
import { verifyFieldProof } from "../crypto/merkle.js";
import { openGrantedField } from "../crypto/record.js";

import { ApiError, call } from "./api.js";
import { chainReaders, checkField } from "./deptAttestation.js";
import { fieldIds, signFor } from "./signedWrite.js";
import { Refusal } from "./ui.js";

/** JSON with integers beyond 2^53 kept exact (an attestation may expire at 2^63). */
function parseExact(text) {
  return JSON.parse(text, (_, value, context) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)
      ? BigInt(context.source)
      : value,
  );
}

/** As api.js call, with the answer parsed by parseExact (a signed write's answer that
 * carries fields and attestations: POST /queries, POST /emergency-accesses). */
export async function postExact(path, body, token) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body,
    credentials: "omit",
  });
  const text = await answer.text();
  const data = text ? parseExact(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

/** POST /queries with a signed Access for `names` of `consent`: the raw answer. */
async function access(session, consent, names) {
  const signed = await signFor(session, "Access", {
    department: session.wallet.address,
    resident: consent.resident,
    consentId: BigInt(consent.consent_id),
    fields: fieldIds(names),
  });
  return postExact("/queries", toJson(signed), session.token.access_token);
}

/**
 * `{receipt, fields: [{name, value, version, check}]}` for `names` of `consent`; a
 * refused query throws the API's problem (its `reason` said in words by describeError).
 */
export async function readFields(session, consent, names, step) {
  if (!session.encryption) throw new Refusal("dept.read.needs_key");
  const [answer, eip712] = await Promise.all([access(session, consent, names), call("GET", "/eip712")]);
  step(0.4);
  return { receipt: answer.receipt, fields: await openFields(session, consent.resident, answer, eip712, step) };
}

/**
 * The fields of a served answer (`POST /queries`'s, or an emergency access's, which has
 * the same `fields` and `receipt`) of `resident`: each proven under its record's root,
 * its key unwrapped with the department's own key, decrypted here and its attestations
 * checked against the chain at the answer's block. `[{name, value, version, check}]`;
 * a field that fails its proof or does not open throws a Refusal naming it.
 */
export async function openFields(session, resident, answer, eip712, step = () => {}) {
  if (!session.encryption) throw new Refusal("dept.read.needs_key");
  const reader = session.wallet.address;
  const spec = intentSpec(eip712, "Attest");
  const readers = chainReaders(spec.domain.verifyingContract, spec.domain.chainId);
  const now = BigInt(answer.receipt.block_timestamp);
  const names = Object.keys(answer.fields).sort();
  const fields = [];
  try {
    for (const name of names) {
      const entry = answer.fields[name];
      if (!verifyFieldProof(entry.root, name, entry.ciphertext, entry.proof))
        throw new Refusal("dept.read.bad_proof", { field: name });
      let value;
      try {
        value = await openGrantedField(entry, session.encryption.x25519.privateKey, { reader, resident, field: name });
      } catch {
        throw new Refusal("dept.read.unopenable", { field: name });
      }
      const candidates = entry.attestations ?? (entry.attestation ? [entry.attestation] : []);
      const check = await checkField(candidates, {
        spec,
        resident,
        field: name,
        value: value.value,
        salt: value.salt,
        isTrusted: readers.isTrusted,
        recordedAt: readers.recordedAt,
        now,
      });
      fields.push({ name, value: value.value, version: Number(entry.version), check });
      step(0.4 + (0.6 * fields.length) / names.length);
    }
  } finally {
    readers.close();
  }
  return fields;
}
