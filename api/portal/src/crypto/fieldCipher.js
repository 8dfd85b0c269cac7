/**
 * AES-256-GCM encryption of one field value, byte for byte as wallets/field_cipher.py
 * (DESIGN, "Wire formats"): plaintext is the compact UTF-8 JSON
 * `{"value":"…","salt":"0x…"}` (what JSON.stringify writes and Python writes with
 * ensure_ascii=False), AAD is UTF-8 of `"{resident lower-case}:{field}:{version}"`, so a
 * ciphertext moved to another resident, field or version does not decrypt. Every
 * failure to open is the one opaque InvalidRecord, as in Python.
 */

import { fromHex, fromUtf8, lowerAddress, checkVersion, nameToBytes32, randomBytes, toHex, utf8 } from "./codec.js";

export const KEY_LENGTH = 32;
export const NONCE_LENGTH = 12;
export const SALT_LENGTH = 32;

/** Decryption or parsing failed; deliberately says nothing more (no oracle). */
export class InvalidRecord extends Error {
  constructor() {
    super("the record could not be opened");
    this.name = "InvalidRecord";
  }
}

/** UTF-8 of `"{resident}:{field}:{version}"`, lower-case address. */
export function fieldAad({ resident, field, version }) {
  nameToBytes32(field);
  return utf8(`${lowerAddress(resident)}:${field}:${checkVersion(version)}`);
}

/** A field's plaintext document with a fresh salt unless one is carried over. */
export function fieldValue(value, salt = randomBytes(SALT_LENGTH)) {
  if (typeof value !== "string") throw new Error("field values are strings");
  if (salt.length !== SALT_LENGTH) throw new Error(`salt must be ${SALT_LENGTH} bytes`);
  return { value, salt: new Uint8Array(salt) };
}

export function toPlaintext({ value, salt }) {
  return utf8(JSON.stringify({ value, salt: toHex(salt) }));
}

/** Strict, as FieldValue.from_plaintext: exactly `value` and `salt`, no duplicates. */
export function fromPlaintext(plaintext) {
  try {
    const text = fromUtf8(plaintext);
    const document = JSON.parse(text);
    const keys = document && typeof document === "object" && !Array.isArray(document) ? Object.keys(document) : [];
    if (keys.length !== 2 || !("value" in document) || !("salt" in document)) throw new Error("members");
    // JSON.parse keeps the last of duplicate members, Python refuses them: count the keys.
    if ((text.match(/"(value|salt)"\s*:/g) || []).length !== 2) throw new Error("duplicate member");
    if (typeof document.value !== "string" || typeof document.salt !== "string") throw new Error("types");
    return fieldValue(document.value, fromHex(document.salt, { length: SALT_LENGTH }));
  } catch {
    throw new InvalidRecord();
  }
}

/** A fresh 256-bit key; one per field and record version (never reused). */
export const newFieldKey = () => randomBytes(KEY_LENGTH);

const aesKey = (raw, usage) =>
  globalThis.crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, [usage]);

/**
 * Encrypt under a fresh random nonce (each key encrypts once, so random nonces are
 * far from GCM's birthday bound). `nonce` is for known-answer tests only: reusing a
 * (key, nonce) pair destroys GCM.
 */
export async function encryptField(key, value, { resident, field, version, nonce = randomBytes(NONCE_LENGTH) }) {
  if (key.length !== KEY_LENGTH) throw new Error(`field keys are ${KEY_LENGTH} bytes`);
  if (nonce.length !== NONCE_LENGTH) throw new Error(`nonces are ${NONCE_LENGTH} bytes`);
  const additionalData = fieldAad({ resident, field, version });
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData },
    await aesKey(key, "encrypt"),
    toPlaintext(value),
  );
  return { nonce: new Uint8Array(nonce), ciphertext: new Uint8Array(sealed) };
}

/** Decrypt and parse one field; InvalidRecord on any failure at all. */
export async function decryptField(key, { nonce, ciphertext, resident, field, version }) {
  let plaintext;
  try {
    if (key.length !== KEY_LENGTH || nonce.length !== NONCE_LENGTH) throw new Error("lengths");
    const additionalData = fieldAad({ resident, field, version });
    plaintext = await globalThis.crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData },
      await aesKey(key, "decrypt"),
      ciphertext,
    );
  } catch {
    throw new InvalidRecord();
  }
  return fromPlaintext(new Uint8Array(plaintext));
}
