/**
 * HPKE (RFC 9180) wrapping of 32-byte field keys, as wallets/key_wrap.py: base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, single shot, no AAD;
 * `info` = UTF-8 of `"consent-ledger/v1:{recipient lower-case}:{field}:{version}"`
 * binds the key to one recipient, field and version; encoded `enc || ciphertext`
 * (32 + 32 + 16 = 80 bytes). The ML-KEM-768+X25519 hybrid suite Python also offers
 * is not here: @hpke/core has no ML-KEM, and DESIGN requires only X25519.
 */

import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

import { checkVersion, concatBytes, fromHex, lowerAddress, nameToBytes32, utf8 } from "./codec.js";
import { InvalidRecord } from "./fieldCipher.js";

export const KEY_LENGTH = 32;
export const INFO_PREFIX = "consent-ledger/v1";
export const X25519_PUBLIC_KEY_LENGTH = 32;
export const X25519_WRAPPED_LENGTH = 32 + KEY_LENGTH + 16;
export const HYBRID_WRAPPED_LENGTH = 1120 + KEY_LENGTH + 16;

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});

/** `info` for HPKE: UTF-8 of `consent-ledger/v1:{recipient}:{field}:{version}`. */
export function wrapInfo({ recipient, field, version }) {
  nameToBytes32(field);
  return utf8(`${INFO_PREFIX}:${lowerAddress(recipient)}:${field}:${checkVersion(version)}`);
}

/** A recipient's X25519 public key (32 bytes or 0x-hex, as published on chain). */
export function importPublicKey(raw) {
  const bytes = fromHex(raw, { what: "encryption key" });
  if (bytes.length !== X25519_PUBLIC_KEY_LENGTH) {
    throw new Error(
      `only X25519 encryption keys (32 bytes) are supported in the browser, got ${bytes.length} bytes`,
    );
  }
  return suite.kem.deserializePublicKey(bytes);
}

/** An X25519 private key (32 raw bytes) as the CryptoKey HPKE opens with. */
export const importPrivateKey = (raw) => suite.kem.deserializePrivateKey(fromHex(raw, { length: 32 }));

/** Wrap a 32-byte field key for `recipient`; returns `enc || ciphertext` (80 bytes). */
export async function wrapKey(key, recipientPublicKey, { recipient, field, version }) {
  if (key.length !== KEY_LENGTH) throw new Error(`field keys are ${KEY_LENGTH} bytes`);
  const info = wrapInfo({ recipient, field, version });
  const publicKey = recipientPublicKey instanceof Uint8Array || typeof recipientPublicKey === "string"
    ? await importPublicKey(recipientPublicKey)
    : recipientPublicKey;
  const { enc, ct } = await suite.seal({ recipientPublicKey: publicKey, info }, key);
  return concatBytes(new Uint8Array(enc), new Uint8Array(ct));
}

/**
 * The field key inside `wrapped`; InvalidRecord on any failure whatsoever (a hybrid
 * wrapping included: the portal cannot open one and says so by the same error).
 */
export async function unwrapKey(wrapped, recipientPrivateKey, { recipient, field, version }) {
  try {
    const info = wrapInfo({ recipient, field, version });
    const bytes = fromHex(wrapped);
    if (bytes.length !== X25519_WRAPPED_LENGTH) throw new Error("not an X25519 wrapping");
    const privateKey = recipientPrivateKey instanceof Uint8Array
      ? await importPrivateKey(recipientPrivateKey)
      : recipientPrivateKey;
    const key = new Uint8Array(
      await suite.open({ recipientKey: privateKey, enc: bytes.slice(0, 32), info }, bytes.slice(32)),
    );
    if (key.length !== KEY_LENGTH) throw new Error("length");
    return key;
  } catch {
    throw new InvalidRecord();
  }
}
