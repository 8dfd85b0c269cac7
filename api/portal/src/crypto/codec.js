/**
 * The portal's one codec for bytes, addresses, schema names and JSON, matching
 * ledger/codec.py and ledger/vocabulary.py: the wire is 0x-hex (lower case),
 * inside is Uint8Array, addresses are EIP-55, field ids are ASCII names padded
 * into bytes32. Strict parsers throw, so a malformed server answer never turns
 * into a key or a ciphertext silently.
 */

import { getAddress } from "ethers";

const HEX = /^0[xX]([0-9a-fA-F]{2})*$/;

/** `Uint8Array` → `"0x…"` (lower case, always prefixed), as ledger.codec.to_hex. */
export function toHex(bytes) {
  let out = "0x";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * 0x-hex → bytes; `length` (if given) must match. Bytes pass through (copied), so
 * callers may take either form from the wire or from their own state.
 */
export function fromHex(value, { length, what = "value" } = {}) {
  let raw;
  if (value instanceof Uint8Array) {
    raw = new Uint8Array(value);
  } else if (typeof value === "string" && HEX.test(value)) {
    raw = new Uint8Array((value.length - 2) / 2);
    for (let i = 0; i < raw.length; i++) raw[i] = parseInt(value.slice(2 + 2 * i, 4 + 2 * i), 16);
  } else {
    throw new Error(`${what} must be 0x-prefixed hex with an even number of digits`);
  }
  if (length !== undefined && raw.length !== length) {
    throw new Error(`${what} must be ${length} bytes, got ${raw.length}`);
  }
  return raw;
}

/** Byte-wise equality (for keys and roots; none of it is secret-timing sensitive here). */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const utf8 = (text) => new TextEncoder().encode(text);
/** Strict UTF-8 decoding: invalid bytes throw instead of becoming U+FFFD. */
export const fromUtf8 = (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);

/** EIP-55 form; mixed case must carry a correct checksum (ethers enforces it). */
export function checksumAddress(address) {
  if (typeof address !== "string" || !address.startsWith("0x")) {
    throw new Error(`not a 0x-hex address: ${address}`);
  }
  return getAddress(address);
}

/** The lower-case `0x…` form DESIGN's AAD and HPKE `info` strings use. */
export const lowerAddress = (address) => checksumAddress(address).toLowerCase();

/** Record versions are uint64 on chain; as wallets/key_wrap.py check_version. */
export function checkVersion(version) {
  const v = typeof version === "bigint" ? version : Number.isSafeInteger(version) ? BigInt(version) : null;
  if (v === null || v < 0n || v >= 1n << 64n) {
    throw new Error(`version must be an integer in [0, 2**64), got ${version}`);
  }
  return v;
}

const isNameByte = (b) => b >= 0x21 && b <= 0x7e;

/** Field ids and purpose codes: 1-32 printable ASCII (no spaces) right-padded into bytes32. */
export function nameToBytes32(name) {
  const raw = typeof name === "string" ? utf8(name) : new Uint8Array();
  if (!raw.length || raw.length > 32 || raw.length !== name.length || !raw.every(isNameByte)) {
    throw new Error(`not a schema name (1-32 printable ASCII, no spaces): ${JSON.stringify(name)}`);
  }
  const out = new Uint8Array(32);
  out.set(raw);
  return out;
}

/**
 * How the read side shows a bytes32: its name when the bytes are one, else 0x-hex
 * (never mistaken for a name: 66 characters), as ledger.vocabulary.bytes32_label.
 */
export function bytes32Label(value) {
  const raw = fromHex(value, { length: 32, what: "bytes32" });
  let end = raw.length;
  while (end > 0 && raw[end - 1] === 0) end--;
  const name = raw.subarray(0, end);
  if (name.length && name.every(isNameByte)) return String.fromCharCode(...name);
  return toHex(raw);
}

/** The inverse of {@link bytes32Label}. */
export function labelToBytes32(label) {
  if (label.length === 66 && label.startsWith("0x")) return fromHex(label, { length: 32 });
  return nameToBytes32(label);
}

/**
 * JSON text for request bodies with BigInt written as a bare integer: the API's
 * messages take JSON integers (uint256 nonces do not fit a JS number).
 */
export function toJson(value) {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Python's `json.dumps(sort_keys=True, separators=(",", ":"))` for ASCII documents:
 * the keystore header's AAD must be these exact bytes.
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Fresh random bytes from WebCrypto (browser and Node alike). */
export function randomBytes(length) {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}
