// Reading granted fields as `consent query` does: a signed Access (POST /queries), each
// field's key unwrapped with the department's own X25519 key and the value decrypted in
// this browser, its ciphertext proven under the record's root, and its attestations
// checked against the chain (deptAttestation.js). Nothing decrypted is ever sent.
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

/** As api.js call, with the answer parsed by parseExact. */
async function post(path, body, token) {
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
  return post("/queries", toJson(signed), session.token.access_token);
}

/**
 * `{receipt, fields: [{name, value, version, check}]}` for `names` of `consent`; a
 * refused query throws the API's problem (its `reason` said in words by describeError).
 */
export async function readFields(session, consent, names, step) {
  if (!session.encryption) throw new Refusal("dept.read.needs_key");
  const reader = session.wallet.address;
  const [answer, eip712] = await Promise.all([access(session, consent, names), call("GET", "/eip712")]);
  step(0.4);
  const spec = intentSpec(eip712, "Attest");
  const readers = chainReaders(spec.domain.verifyingContract, spec.domain.chainId);
  const now = BigInt(answer.receipt.block_timestamp);
  const fields = [];
  try {
    for (const name of Object.keys(answer.fields).sort()) {
      const entry = answer.fields[name];
      if (!verifyFieldProof(entry.root, name, entry.ciphertext, entry.proof))
        throw new Refusal("dept.read.bad_proof", { field: name });
      let value;
      try {
        value = await openGrantedField(entry, session.encryption.x25519.privateKey, { reader, resident: consent.resident, field: name });
      } catch {
        throw new Refusal("dept.read.unopenable", { field: name });
      }
      const candidates = entry.attestations ?? (entry.attestation ? [entry.attestation] : []);
      const check = await checkField(candidates, {
        spec,
        resident: consent.resident,
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
  return { receipt: answer.receipt, fields };
}
