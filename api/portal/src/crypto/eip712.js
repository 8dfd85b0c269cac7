/**
 * Signing intents in the browser from the `/eip712` document the API serves
 * (`{intents: {Name: {domain, types, primaryType}}, rules}`), recovering signers, and
 * checking the relayer's acceptance as wallets/acceptance.py does. ethers does the
 * hashing; this module checks messages against their Solidity types first (as
 * ledger/intents.py normalize_message), so a malformed message throws instead of
 * being signed as something no contract accepts, and writes bodies the API parses
 * (`{"message", "signature"}`, bytes as lower-case 0x-hex, integers as JSON integers).
 */

import { Signature, TypedDataEncoder, Wallet, verifyTypedData } from "ethers";

import { checksumAddress, fromHex, toHex } from "./codec.js";

export const DOMAIN_NAME = "ResidentConsentLedger";
export const DOMAIN_VERSION = "1";
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A well-formed intent was not; says which field and why. */
export class InvalidIntent extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidIntent";
  }
}

/**
 * `{domain, types (without EIP712Domain), primaryType}` of one intent from the served
 * document, once its domain is this protocol's. Pinning the chain and contracts
 * (trust on first use) is the caller's: `pins` = `{chainId, contracts: {addr: true}}`.
 */
export function intentSpec(eip712Document, name, { pins } = {}) {
  const spec = eip712Document?.intents?.[name];
  if (!spec) throw new InvalidIntent(`the API publishes no EIP-712 type ${name}`);
  const { domain } = spec;
  if (domain?.name !== DOMAIN_NAME || String(domain?.version) !== DOMAIN_VERSION) {
    throw new InvalidIntent(`the API's EIP-712 domain for ${name} is not ${DOMAIN_NAME} v${DOMAIN_VERSION}`);
  }
  if ((spec.primaryType ?? name) !== name || !Array.isArray(spec.types?.[name])) {
    throw new InvalidIntent(`the API's EIP-712 type ${name} is malformed`);
  }
  if (pins && (BigInt(domain.chainId) !== BigInt(pins.chainId) || !pins.contracts?.[checksumAddress(domain.verifyingContract)])) {
    throw new InvalidIntent(`the API's ${name} is signed for a chain or contract this wallet did not pin`);
  }
  // The primary type and the struct types it references (DefineService's ServiceItem),
  // as served: ethers refuses a type that nothing references, so EIP712Domain stays out.
  const types = Object.fromEntries(Object.entries(spec.types).filter(([type, members]) => type !== "EIP712Domain" && Array.isArray(members)));
  return {
    primaryType: name,
    types,
    domain: { name: domain.name, version: String(domain.version), chainId: BigInt(domain.chainId), verifyingContract: checksumAddress(domain.verifyingContract) },
  };
}

function normal(type, value, where, types = {}) {
  if (type.endsWith("[]")) {
    if (!Array.isArray(value)) throw new InvalidIntent(`${where}: expected a list for ${type}`);
    return value.map((v, i) => normal(type.slice(0, -2), v, `${where}[${i}]`, types));
  }
  if (Object.hasOwn(types, type)) return members(types, type, value, where);
  try {
    if (type === "address") return checksumAddress(value);
    if (type === "string") {
      if (typeof value !== "string") throw new Error("expected a string");
      return value;
    }
    if (type === "bool") {
      if (typeof value !== "boolean") throw new Error("expected a bool");
      return value;
    }
    if (type.startsWith("bytes")) {
      const size = type === "bytes" ? undefined : Number(type.slice(5));
      return toHex(fromHex(value, { length: size, what: where }));
    }
    if (type.startsWith("uint")) {
      const bits = BigInt(type.slice(4) || 256);
      const ok = typeof value === "bigint" || Number.isSafeInteger(value) || (typeof value === "string" && /^[0-9]+$/.test(value));
      if (!ok) throw new Error(`expected an integer for ${type}`);
      const v = BigInt(value);
      if (v < 0n || v >= 1n << bits) throw new Error(`${v} out of range for ${type}`);
      return v;
    }
  } catch (error) {
    if (error instanceof InvalidIntent) throw error;
    throw new InvalidIntent(`${where}: ${error.message}`);
  }
  throw new InvalidIntent(`${where}: unsupported type ${type}`);
}

/** A struct's value: exactly its members, each of its type (structs within too). */
function members(types, type, value, where) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidIntent(`${where}: expected a ${type} struct`);
  }
  const fields = types[type];
  const names = new Set(fields.map((f) => f.name));
  const extra = Object.keys(value).filter((k) => !names.has(k));
  const missing = [...names].filter((k) => !(k in value));
  if (extra.length || missing.length) {
    throw new InvalidIntent(`${where}${where.includes(".") || where.includes("[") ? "" : " message"} fields mismatch: missing [${missing}], unexpected [${extra}]`);
  }
  return Object.fromEntries(fields.map(({ name, type: t }) => [name, normal(t, value[name], `${where}.${name}`, types)]));
}

/** `message` checked against the intent's fields: exactly those, each of its type. */
export function normalizeMessage(spec, message) {
  return members(spec.types, spec.primaryType, message, spec.primaryType);
}

/** `keccak256(0x19 0x01 || domainSeparator || hashStruct(message))`, 0x-hex. */
export const intentDigest = (spec, message) => TypedDataEncoder.hash(spec.domain, spec.types, normalizeMessage(spec, message));

/** `{message, signature}`: the body of every signed write (extend it with the route's members). */
export async function signIntent(privateKey, spec, message) {
  const normalized = normalizeMessage(spec, message);
  const signature = await new Wallet(privateKey).signTypedData(spec.domain, spec.types, normalized);
  return { message: normalized, signature: toHex(checkSignature(signature)) };
}

/**
 * The 65 signature bytes if OpenZeppelin's ECDSA.recover would take their form
 * (v 27/28, r in range, low s); InvalidIntent saying why otherwise.
 */
export function checkSignature(signature) {
  const raw = fromHex(signature, { what: "signature" });
  if (raw.length !== 65) throw new InvalidIntent(`the signature must be 65 bytes (r, s, v), got ${raw.length}`);
  const r = BigInt(toHex(raw.subarray(0, 32)));
  const s = BigInt(toHex(raw.subarray(32, 64)));
  if (s > SECP256K1_N / 2n) throw new InvalidIntent("the signature is malleable (s must be in the lower half of the curve order)");
  if (raw[64] !== 27 && raw[64] !== 28) throw new InvalidIntent(`the signature's v must be 27 or 28, got ${raw[64]}`);
  if (r === 0n || r >= SECP256K1_N || s === 0n) throw new InvalidIntent("the signature's r or s is out of range");
  return raw;
}

/** The checksummed address that signed `message`; InvalidIntent if the signature is malformed. */
export function recoverIntentSigner(spec, message, signature) {
  const raw = checkSignature(signature);
  try {
    return verifyTypedData(spec.domain, spec.types, normalizeMessage(spec, message), Signature.from(toHex(raw)));
  } catch (error) {
    if (error instanceof InvalidIntent) throw error;
    throw new InvalidIntent("signature does not recover to any key");
  }
}

// -- the relayer's acceptance (ledger/acceptance.py) -------------------------------

/** Not served by `/eip712` (no contract checks it): its one definition on this side. */
const ACCEPTANCE_TYPES = {
  Acceptance: [
    { name: "intent", type: "bytes32" },
    { name: "journalId", type: "uint256" },
    { name: "acceptedAt", type: "uint64" },
    { name: "relayer", type: "address" },
  ],
};

export class InvalidAcceptance extends Error {
  constructor(message) {
    super(message);
    this.name = "InvalidAcceptance";
  }
}

/**
 * The acceptance, once its signature recovers to the relayer it names and it is
 * about `intent` (digest) on `chainId` (and by `relayer`) where given: the signer's
 * evidence that the relayer took the intent, should it never reach the chain.
 */
export function verifyAcceptance(document, { intent, chainId, relayer } = {}) {
  let a;
  try {
    a = {
      intent: toHex(fromHex(document.intent, { length: 32 })),
      chainId: normal("uint256", document.chain_id, "chain_id"),
      journalId: normal("uint256", document.journal_id, "journal_id"),
      acceptedAt: normal("uint64", document.accepted_at, "accepted_at"),
      relayer: checksumAddress(document.relayer),
      signature: checkSignature(document.signature),
    };
  } catch (error) {
    throw new InvalidAcceptance(`not an acceptance: ${error.message}`);
  }
  const domain = { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId: a.chainId };
  const message = { intent: a.intent, journalId: a.journalId, acceptedAt: a.acceptedAt, relayer: a.relayer };
  let signer;
  try {
    signer = verifyTypedData(domain, ACCEPTANCE_TYPES, message, Signature.from(toHex(a.signature)));
  } catch {
    throw new InvalidAcceptance("the acceptance's signature does not recover");
  }
  if (signer !== a.relayer) throw new InvalidAcceptance(`the acceptance names relayer ${a.relayer} but ${signer} signed it`);
  if (intent !== undefined && a.intent !== toHex(fromHex(intent, { length: 32 }))) {
    throw new InvalidAcceptance(`the acceptance is for intent ${a.intent}, not the one sent (${intent})`);
  }
  if (chainId !== undefined && a.chainId !== BigInt(chainId)) throw new InvalidAcceptance(`the acceptance is for chain ${a.chainId}, not ${chainId}`);
  if (relayer !== undefined && a.relayer !== checksumAddress(relayer)) throw new InvalidAcceptance(`the acceptance is by ${a.relayer}, not the relayer ${relayer}`);
  return { ...a, signature: toHex(a.signature) };
}
