// A granted field's attestations checked in the browser, as wallets/attestation.py
// verify_attestation / pick_attestation do: the issuer's EIP-712 Attest signature,
// resident and field, the salted commitment to the value just decrypted, the window at
// the query's block time, and the chain's own record of it and its trust list, read
// through the same-origin read-only JSON-RPC (`POST /chain`), never the API's word.
import { Contract, JsonRpcProvider, Network } from "ethers";

import { checksumAddress, fromHex, nameToBytes32, toHex } from "../crypto/codec.js";
import { intentDigest, recoverIntentSigner } from "../crypto/eip712.js";
import { attestationCommitment } from "../crypto/record.js";

/** The directory's two reads a department's check needs (contracts/ConsentDirectory.sol). */
export const DIRECTORY_ABI = [
  "function isTrustedIssuer(address issuer, bytes32 field, uint64 at) view returns (bool)",
  "function attestationRecordedAt(bytes32 digest) view returns (uint64)",
];

/** An attestation that does not hold; `reason` as wallets.errors.InvalidAttestation's. */
export class InvalidAttestation extends Error {
  constructor(reason, detail) {
    super(detail || reason);
    this.name = "InvalidAttestation";
    this.reason = reason;
  }
}

// Failures saying the attestation is not about this value at all: another failure is
// reported first, since that one concerned the value in hand.
const NOT_THIS_VALUE = new Set(["malformed", "bad_signature", "wrong_resident", "wrong_field", "commitment_mismatch"]);

/**
 * `{isTrusted(issuer, fieldId, at), recordedAt(digest)}` from the ConsentDirectory at
 * `directory` on chain `chainId`, through `POST /chain` on this origin. Whatever the
 * node fails with propagates: "cannot tell" is not "untrusted".
 */
export function chainReaders(directory, chainId) {
  const network = Network.from(Number(chainId));
  const provider = new JsonRpcProvider(new URL("/chain", location.origin).href, network, {
    staticNetwork: network,
    batchMaxCount: 1,
  });
  const contract = new Contract(directory, DIRECTORY_ABI, provider);
  return {
    isTrusted: (issuer, fieldId, at) => contract.isTrustedIssuer(issuer, fieldId, at),
    recordedAt: async (digest) => BigInt(await contract.attestationRecordedAt(digest)),
    close: () => provider.destroy(),
  };
}

function parse(spec, attestation) {
  try {
    const signature = toHex(fromHex(attestation.signature, { length: 65, what: "signature" }));
    const m = attestation.message;
    const message = {
      issuer: checksumAddress(m.issuer),
      resident: checksumAddress(m.resident),
      field: toHex(fromHex(m.field, { length: 32, what: "field" })),
      commitment: toHex(fromHex(m.commitment, { length: 32, what: "commitment" })),
      issuedAt: BigInt(m.issuedAt),
      expiresAt: BigInt(m.expiresAt),
    };
    intentDigest(spec, message); // every member of its Solidity type
    return { message, signature };
  } catch (e) {
    throw new InvalidAttestation("malformed", e?.message);
  }
}

/**
 * The issuer, once the attestation holds for `value` with `salt` of `field` of
 * `resident`; InvalidAttestation (reason malformed, bad_signature, wrong_resident,
 * wrong_field, commitment_mismatch, not_yet_valid, expired, not_recorded,
 * untrusted_issuer) otherwise. `spec` is the served Attest intent (the directory's
 * domain); `now` the query's block time.
 */
export async function verifyAttestation(attestation, { spec, resident, field, value, salt, isTrusted, recordedAt, now }) {
  const { message, signature } = parse(spec, attestation);
  let signer;
  try {
    signer = recoverIntentSigner(spec, message, signature);
  } catch (e) {
    throw new InvalidAttestation("bad_signature", e?.message);
  }
  const issuer = message.issuer;
  if (signer !== issuer) throw new InvalidAttestation("bad_signature", `signed by ${signer}, not by issuer ${issuer}`);
  if (message.resident !== checksumAddress(resident)) throw new InvalidAttestation("wrong_resident", `attests ${message.resident}`);
  const fieldId = toHex(nameToBytes32(field));
  if (message.field !== fieldId) throw new InvalidAttestation("wrong_field", `attests field ${message.field}`);
  let expected;
  try {
    expected = attestationCommitment(field, value, salt);
  } catch (e) {
    throw new InvalidAttestation("commitment_mismatch", e?.message);
  }
  if (message.commitment !== expected.toLowerCase())
    throw new InvalidAttestation("commitment_mismatch", "value and salt do not open the commitment");
  now = BigInt(now);
  if (now < message.issuedAt) throw new InvalidAttestation("not_yet_valid", `issued at ${message.issuedAt}, now ${now}`);
  if (now >= message.expiresAt) throw new InvalidAttestation("expired", `expired at ${message.expiresAt}, now ${now}`);
  const at = await recordedAt(intentDigest(spec, message));
  if (!at) throw new InvalidAttestation("not_recorded", "the chain holds no record of it");
  for (const moment of [at, now]) {
    if (!(await isTrusted(issuer, fieldId, moment)))
      throw new InvalidAttestation("untrusted_issuer", `${issuer} is not trusted for this field at ${moment}`);
  }
  return issuer;
}

/**
 * The issuer of the first of `candidates` that holds for this value; if none does,
 * the failure of the one that came closest (its commitment opened), else the first's;
 * reason `absent` for none at all. Chain failures propagate.
 */
export async function pickAttestation(candidates, check) {
  const failures = [];
  for (const candidate of candidates || []) {
    try {
      return { attestation: candidate, issuer: await verifyAttestation(candidate, check) };
    } catch (e) {
      if (!(e instanceof InvalidAttestation)) throw e;
      failures.push(e);
    }
  }
  if (!failures.length) throw new InvalidAttestation("absent", "no attestation of this field");
  throw failures.find((f) => !NOT_THIS_VALUE.has(f.reason)) || failures[0];
}

/**
 * `{status, issuer?, reason?, detail?}` of one granted field: "verified", "invalid"
 * (with the reason), "absent", or "unverified" (the chain could not be read).
 */
export async function checkField(candidates, check) {
  try {
    const { issuer } = await pickAttestation(candidates, check);
    return { status: "verified", issuer };
  } catch (e) {
    if (e instanceof InvalidAttestation)
      return e.reason === "absent" ? { status: "absent", reason: "absent" } : { status: "invalid", reason: e.reason, detail: e.message };
    return { status: "unverified", reason: "chain_unreadable", detail: String(e?.shortMessage || e?.message || e) };
  }
}
