/**
 * A resident's record at one version, as wallets/record.py builds and opens it, so a
 * version committed from the portal reads in the CLI and the reverse: per field a
 * fresh salt and 256-bit key, AES-256-GCM under the resident/field/version AAD, the
 * key HPKE-wrapped for the resident's own X25519 key; envelopes
 * `{"ciphertext", "nonce", "owner_wrapped_key"}`; the root over them committed with a
 * signed CommitRecord, and `PUT /residents/{address}/record` carries
 * `{"message", "signature", "fields"}` exactly as api/client_records.py sends it.
 */

import { AbiCoder, keccak256 } from "ethers";

import { checkVersion, checksumAddress, equalBytes, fromHex, nameToBytes32, toHex, toJson } from "./codec.js";
import { InvalidRecord, NONCE_LENGTH, decryptField, encryptField, fieldValue, newFieldKey } from "./fieldCipher.js";
import { unwrapKey, wrapKey } from "./keyWrap.js";
import { recordRoot, recordTree } from "./merkle.js";
import { signIntent } from "./eip712.js";

/** The wire form of one stored field (bytes as lower-case 0x-hex). */
export const envelopeJson = ({ ciphertext, nonce, ownerWrappedKey }) => ({
  ciphertext: toHex(ciphertext),
  nonce: toHex(nonce),
  owner_wrapped_key: toHex(ownerWrappedKey),
});

function parseEnvelope(data) {
  try {
    return {
      ciphertext: fromHex(data.ciphertext),
      nonce: fromHex(data.nonce, { length: NONCE_LENGTH }),
      ownerWrappedKey: fromHex(data.owner_wrapped_key),
    };
  } catch {
    throw new InvalidRecord();
  }
}

/**
 * Encrypt `{field name: value}` for the resident's own key. `salts` carries a salt
 * over for a field (an issuer's, so its attestation still matches); every other
 * field gets a fresh one. Returns the owner's view: values, keys, envelopes, root.
 */
export async function buildRecord(values, { resident, version, ownerPublicKey, salts = {} }) {
  resident = checksumAddress(resident);
  version = checkVersion(version);
  const names = Object.keys(values);
  if (!names.length) throw new Error("a record has at least one field");
  const stray = Object.keys(salts).filter((n) => !(n in values));
  if (stray.length) throw new Error(`salts for fields not in the record: ${stray}`);
  const fields = {};
  for (const name of names) {
    nameToBytes32(name);
    const value = fieldValue(values[name], ...(name in salts ? [fromHex(salts[name], { length: 32 })] : []));
    const key = newFieldKey();
    const { nonce, ciphertext } = await encryptField(key, value, { resident, field: name, version });
    const ownerWrappedKey = await wrapKey(key, ownerPublicKey, { recipient: resident, field: name, version });
    fields[name] = { value, key, envelope: { ciphertext, nonce, ownerWrappedKey } };
  }
  return sealed(resident, version, fields);
}

function sealed(resident, version, fields) {
  const envelopes = Object.fromEntries(Object.entries(fields).map(([n, f]) => [n, envelopeJson(f.envelope)]));
  const tree = recordTree(Object.fromEntries(Object.entries(fields).map(([n, f]) => [n, f.envelope.ciphertext])));
  return { resident, version, fields, envelopes, tree, root: tree.root };
}

/**
 * Values, salts and keys from stored envelopes and the owner's X25519 private key
 * alone (a new device). With `root` (the one the chain or the resident's own signed
 * commit holds) the envelopes must hash to it. InvalidRecord on any failure.
 */
export async function openRecord(envelopes, ownerPrivateKey, { resident, version, root }) {
  try {
    resident = checksumAddress(resident);
    version = checkVersion(version);
  } catch {
    throw new InvalidRecord();
  }
  if (!envelopes || !Object.keys(envelopes).length) throw new InvalidRecord();
  const fields = {};
  for (const [name, data] of Object.entries(envelopes)) {
    const envelope = parseEnvelope(data);
    const key = await unwrapKey(envelope.ownerWrappedKey, ownerPrivateKey, { recipient: resident, field: name, version });
    const value = await decryptField(key, { ...envelope, resident, field: name, version });
    fields[name] = { value, key, envelope };
  }
  const record = sealed(resident, version, fields);
  if (root !== undefined && root !== null) {
    let expected;
    try {
      expected = fromHex(root, { length: 32 });
    } catch {
      throw new InvalidRecord();
    }
    if (!equalBytes(fromHex(record.root), expected)) throw new InvalidRecord();
  }
  return record;
}

/**
 * The resident's record as its delegate opens it: each field's key from `wrappedKeys`
 * (wrapped for the delegate: recipient = the delegate), the values under the resident's
 * AAD, as wallets/delegation.py open_as_delegate. Every field needs its key; with
 * `root` the envelopes must hash to it. InvalidRecord on any failure.
 */
export async function openAsDelegate(envelopes, wrappedKeys, delegatePrivateKey, { delegate, resident, version, root }) {
  let fields;
  try {
    resident = checksumAddress(resident);
    delegate = checksumAddress(delegate);
    version = checkVersion(version);
    if (!envelopes || !Object.keys(envelopes).length) throw new InvalidRecord();
    fields = {};
    for (const [name, data] of Object.entries(envelopes)) {
      const envelope = parseEnvelope(data);
      if (!wrappedKeys || !wrappedKeys[name]) throw new InvalidRecord();
      const key = await unwrapKey(fromHex(wrappedKeys[name]), delegatePrivateKey, { recipient: delegate, field: name, version });
      const value = await decryptField(key, { ...envelope, resident, field: name, version });
      fields[name] = { value, key, envelope };
    }
  } catch {
    throw new InvalidRecord();
  }
  const record = sealed(resident, version, fields);
  if (root !== undefined && root !== null && !equalBytes(fromHex(record.root), fromHex(root, { length: 32 })))
    throw new InvalidRecord();
  return record;
}

/**
 * A granted field as `POST /queries` serves it (`ciphertext`, `nonce`, `wrapped_key`,
 * `version`), opened with the reader's (a department's) own X25519 key.
 */
export async function openGrantedField(served, readerPrivateKey, { reader, resident, field }) {
  const version = checkVersion(BigInt(served.version));
  let parts;
  try {
    parts = { ciphertext: fromHex(served.ciphertext), nonce: fromHex(served.nonce, { length: NONCE_LENGTH }), wrapped: fromHex(served.wrapped_key) };
  } catch {
    throw new InvalidRecord();
  }
  const key = await unwrapKey(parts.wrapped, readerPrivateKey, { recipient: reader, field, version });
  return decryptField(key, { ciphertext: parts.ciphertext, nonce: parts.nonce, resident, field, version });
}

/** The root the server re-checks for `{name: envelope}` (0x-hex). */
export { recordRoot };

/**
 * The `PUT /residents/{address}/record` body, as JSON text (nonce and deadline may
 * exceed a JS number): the signed CommitRecord and the envelopes (and `extra`: the keys
 * wrapped for the resident's delegates).
 */
export async function commitRecordBody(record, privateKey, spec, { nonce, deadline }, extra = {}) {
  const message = { resident: record.resident, version: record.version, root: record.root, nonce, deadline };
  const signed = await signIntent(privateKey, spec, message);
  return toJson({ ...signed, fields: record.envelopes, ...extra });
}

/**
 * The salted commitment an issuer attests: `keccak256(abi.encode(bytes32 fieldId,
 * string value, bytes32 salt))` (DESIGN, "Wire formats").
 */
export function attestationCommitment(field, value, salt) {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["bytes32", "string", "bytes32"],
    [toHex(nameToBytes32(field)), value, toHex(fromHex(salt, { length: 32 }))],
  );
  return keccak256(encoded);
}
