/**
 * An actor's key files, as wallets/keystore.py and wallets/identity.py write them:
 *
 * - `signing-key.json`: the secp256k1 key as Web3 Secret Storage v3 (scrypt,
 *   AES-128-CTR, keccak MAC), opened and written by ethers, so the same file works
 *   in the CLI, geth and MetaMask;
 * - `encryption-key.json`: the X25519 key (and optionally the ML-KEM hybrid, which
 *   the portal carries but cannot use) under the same password with scrypt +
 *   AES-256-GCM; its AAD is the canonical JSON of every member but `nonce` and
 *   `ciphertext`, so a file cannot be swapped to another identity or downgraded
 *   to a weaker scrypt cost unnoticed.
 *
 * A wrong password and an altered ciphertext are the same event (WrongPassword);
 * a malformed file is CorruptKeystore. scrypt parameters are bounded on reading,
 * as in Python, so a hostile file cannot ask for gigabytes.
 */

import { Wallet, encryptKeystoreJson, getBytes, scrypt } from "ethers";
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

import { canonicalJson, checksumAddress, equalBytes, fromHex, randomBytes, toHex, utf8 } from "./codec.js";

export const ENCRYPTION_KEY_FORMAT = "consent-ledger/encryption-keys";
/** geth's "standard" scrypt cost, as the CLI writes by default. */
export const DEFAULT_SCRYPT_N = 2 ** 18;
export const MAX_SCRYPT_N = 2 ** 20;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const X25519_LENGTH = 32;
const HYBRID_LENGTH = 96;

export class KeystoreError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}
export class WrongPassword extends KeystoreError {}
export class CorruptKeystore extends KeystoreError {}

const kem = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() }).kem;

function parse(document, what) {
  if (document !== null && typeof document === "object") return document;
  try {
    const parsed = JSON.parse(document);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
  } catch {
    /* fall through */
  }
  throw new CorruptKeystore(`${what} is not a JSON object`);
}

function checkScrypt(n, r, p) {
  const ok = [n, r, p].every(Number.isSafeInteger) && n >= 2 && n <= MAX_SCRYPT_N && (n & (n - 1)) === 0
    && r >= 1 && r <= 8 && p >= 1 && p <= 16;
  if (!ok) throw new CorruptKeystore(`scrypt parameters out of bounds: n=${n}, r=${r}, p=${p}`);
}

// -- Web3 Secret Storage v3 ---------------------------------------------------------

/**
 * The private key (0x-hex) and address in a v3 keystore. ethers normalises the
 * password to NFKD; Python does not, so passwords that change under NFKD (rare:
 * compatibility characters) would open in one and not the other.
 */
export async function openSigningKey(document, password, { progress } = {}) {
  const keystore = parse(document, "signing keystore");
  if (keystore.version !== 3) throw new CorruptKeystore("not a Web3 Secret Storage v3 keystore (version must be 3)");
  const crypto = keystore.crypto ?? keystore.Crypto;
  const params = crypto?.kdfparams;
  if (!params || crypto.cipher !== "aes-128-ctr") throw new CorruptKeystore("v3 keystore is malformed");
  if (crypto.kdf === "scrypt") checkScrypt(params.n, params.r, params.p);
  else if (crypto.kdf !== "pbkdf2" || !(params.c >= 1 && params.c <= 10_000_000)) {
    throw new CorruptKeystore(`unsupported kdf ${crypto.kdf}`);
  }
  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(JSON.stringify(keystore), password, progress);
  } catch (error) {
    if (/incorrect password/i.test(String(error?.message))) {
      throw new WrongPassword("wrong password for the signing keystore (or its ciphertext was altered)");
    }
    throw new CorruptKeystore(`signing keystore cannot be decrypted: ${error?.shortMessage ?? error?.message}`);
  }
  return { privateKey: wallet.privateKey, address: wallet.address };
}

/** A v3 keystore document for a 0x-hex private key (scrypt cost `scryptN`). */
export async function createSigningKeystore(privateKey, password, { scryptN = DEFAULT_SCRYPT_N, progress } = {}) {
  if (typeof password !== "string" || !password) throw new Error("a keystore password must be a non-empty string");
  const wallet = new Wallet(privateKey);
  const json = await encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    { scrypt: { N: scryptN, r: SCRYPT_R, p: SCRYPT_P }, progress },
  );
  return JSON.parse(json);
}

// -- encryption-key.json ------------------------------------------------------------

/** The X25519 public key of a raw 32-byte private key (WebCrypto exports it with the JWK). */
export async function x25519PublicKey(privateKey) {
  const key = await kem.deserializePrivateKey(privateKey);
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", key);
  return fromBase64Url(jwk.x);
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** A fresh X25519 key pair as raw bytes. */
export async function newEncryptionKey() {
  const pair = await kem.generateKeyPair();
  return {
    privateKey: new Uint8Array(await kem.serializePrivateKey(pair.privateKey)),
    publicKey: new Uint8Array(await kem.serializePublicKey(pair.publicKey)),
  };
}

async function headerKey(password, salt, n, r, p) {
  // Python derives from password.encode("utf-8") with no normalisation: so here.
  const raw = getBytes(await scrypt(utf8(password), salt, n, r, p, 32));
  return globalThis.crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** The `encryption-key.json` document for an X25519 private key, owned by `address`. */
export async function createEncryptionKeystore(privateKey, password, { address, scryptN = DEFAULT_SCRYPT_N }) {
  if (typeof password !== "string" || !password) throw new Error("a keystore password must be a non-empty string");
  checkScrypt(scryptN, SCRYPT_R, SCRYPT_P);
  const secret = fromHex(privateKey, { length: X25519_LENGTH, what: "X25519 private key" });
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const header = {
    format: ENCRYPTION_KEY_FORMAT,
    version: 1,
    address: checksumAddress(address),
    public_keys: { x25519: toHex(await x25519PublicKey(secret)) },
    crypto: {
      kdf: "scrypt",
      kdfparams: { n: scryptN, r: SCRYPT_R, p: SCRYPT_P, dklen: 32, salt: toHex(salt) },
      cipher: "aes-256-gcm",
    },
  };
  const key = await headerKey(password, salt, scryptN, SCRYPT_R, SCRYPT_P);
  const sealed = await globalThis.crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: utf8(canonicalJson(header)) }, key, secret,
  );
  header.crypto.nonce = toHex(nonce);
  header.crypto.ciphertext = toHex(new Uint8Array(sealed));
  return header;
}

/**
 * Open `encryption-key.json`: `{x25519: {privateKey, publicKey}, hybrid}` where
 * `hybrid` is the raw 96-byte ML-KEM+X25519 secret if the file has one (kept, not
 * usable here). `address`, if given, must be the file's owner.
 */
export async function openEncryptionKeystore(document, password, { address } = {}) {
  const raw = parse(document, "encryption keystore");
  let header, salt, nonce, ciphertext, publicKeys;
  try {
    if (raw.format !== ENCRYPTION_KEY_FORMAT || raw.version !== 1) throw new CorruptKeystore("not a consent-ledger encryption keystore (format/version)");
    const { crypto } = raw;
    const params = crypto.kdfparams;
    if (crypto.kdf !== "scrypt" || crypto.cipher !== "aes-256-gcm") throw new CorruptKeystore("unsupported kdf or cipher in encryption keystore");
    if (params.dklen !== 32) throw new CorruptKeystore("encryption keystore must derive 32-byte keys");
    checkScrypt(params.n, params.r, params.p);
    salt = fromHex(params.salt, { what: "salt" });
    nonce = fromHex(crypto.nonce, { length: 12, what: "nonce" });
    ciphertext = fromHex(crypto.ciphertext, { what: "ciphertext" });
    publicKeys = Object.fromEntries(Object.entries(raw.public_keys).map(([k, v]) => [k, toHex(fromHex(v, { what: k }))]));
    header = {
      format: ENCRYPTION_KEY_FORMAT,
      version: 1,
      address: checksumAddress(raw.address),
      public_keys: publicKeys,
      crypto: { kdf: "scrypt", kdfparams: { n: params.n, r: params.r, p: params.p, dklen: 32, salt: toHex(salt) }, cipher: "aes-256-gcm" },
    };
  } catch (error) {
    if (error instanceof CorruptKeystore) throw error;
    throw new CorruptKeystore(`encryption keystore is malformed: ${error?.message}`);
  }
  if (address !== undefined && header.address !== checksumAddress(address)) {
    throw new CorruptKeystore(`encryption keystore belongs to ${header.address}, not to ${checksumAddress(address)}`);
  }
  const { n, r, p } = header.crypto.kdfparams;
  let plaintext;
  try {
    const key = await headerKey(password, salt, n, r, p);
    plaintext = new Uint8Array(await globalThis.crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: utf8(canonicalJson(header)) }, key, ciphertext,
    ));
  } catch {
    throw new WrongPassword("wrong password for the encryption keystore (or the file was altered)");
  }
  if (plaintext.length !== X25519_LENGTH && plaintext.length !== X25519_LENGTH + HYBRID_LENGTH) {
    throw new CorruptKeystore("encryption keystore holds keys of an unexpected size");
  }
  const privateKey = plaintext.slice(0, X25519_LENGTH);
  const publicKey = await x25519PublicKey(privateKey);
  if (!publicKeys.x25519 || !equalBytes(publicKey, fromHex(publicKeys.x25519))) {
    throw new CorruptKeystore("encryption keystore's public keys do not match its private keys");
  }
  const hybrid = plaintext.length > X25519_LENGTH ? plaintext.slice(X25519_LENGTH) : null;
  return { address: header.address, x25519: { privateKey, publicKey }, hybrid };
}

// -- identity -----------------------------------------------------------------------

/**
 * Open a saved identity (both files, one password), as Identity.load: the two files
 * must belong to the same account.
 */
export async function openIdentity({ signing, encryption }, password, options = {}) {
  const account = await openSigningKey(signing, password, options);
  const keys = await openEncryptionKeystore(encryption, password, { address: account.address });
  return { ...account, encryption: keys };
}

/** A new identity and its two files (what the portal offers to download). */
export async function createIdentity(password, { scryptN = DEFAULT_SCRYPT_N, progress } = {}) {
  const wallet = Wallet.createRandom();
  const encryption = await newEncryptionKey();
  const files = {
    signing: await createSigningKeystore(wallet.privateKey, password, { scryptN, progress }),
    encryption: await createEncryptionKeystore(encryption.privateKey, password, { address: wallet.address, scryptN }),
  };
  const identity = { privateKey: wallet.privateKey, address: wallet.address, encryption: { address: wallet.address, x25519: encryption, hybrid: null } };
  return { identity, files };
}
