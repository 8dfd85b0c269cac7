/**
 * Texts behind an emergency access, as wallets/emergency.py makes them: a department's
 * justification, an auditor's review notes. The chain keeps only
 * `keccak256(abi.encode(string tag, string text, bytes32 salt))`, with a fresh 32-byte
 * salt per text and a tag naming the kind of text; the writer keeps text and salt (the
 * `{tag, text, salt, hash}` document of SaltedText.to_json) to show whoever checks them.
 * Text and salt never leave the browser: only the hash is signed and sent.
 */

import { AbiCoder, keccak256 } from "ethers";

import { fromHex, randomBytes, toHex, utf8 } from "./codec.js";

export const JUSTIFICATION = "consent-ledger/v1:emergency-justification";
export const REVIEW_NOTES = "consent-ledger/v1:emergency-review-notes";
export const SALT_LENGTH = 32;
/** The longest text kept (UTF-8 bytes), as wallets/emergency.py MAX_TEXT_BYTES. */
export const MAX_TEXT_BYTES = 4096;

/** A text that cannot be salted: `reason` "empty" or "too_long". */
export class InvalidText extends Error {
  constructor(reason, message) {
    super(message);
    this.name = "InvalidText";
    this.reason = reason;
  }
}

/** `keccak256(abi.encode(string tag, string text, bytes32 salt))` as 0x-hex (lower case). */
export function saltedHash(tag, text, salt) {
  const raw = fromHex(salt, { length: SALT_LENGTH, what: "salt" });
  const encoded = AbiCoder.defaultAbiCoder().encode(["string", "string", "bytes32"], [tag, text, toHex(raw)]);
  return keccak256(encoded).toLowerCase();
}

/**
 * `{tag, text, salt, hash}` for `text` (trimmed) with a fresh salt, as SaltedText.new;
 * InvalidText for an empty or over-long text. `salt` may be given (tests).
 */
export function saltText(tag, text, salt = randomBytes(SALT_LENGTH)) {
  const cleaned = String(text).trim();
  if (!cleaned) throw new InvalidText("empty", "the text is empty: say why, in words");
  if (utf8(cleaned).length > MAX_TEXT_BYTES) throw new InvalidText("too_long", `the text is over ${MAX_TEXT_BYTES} bytes`);
  const saltHex = toHex(fromHex(salt, { length: SALT_LENGTH, what: "salt" }));
  return { tag, text: cleaned, salt: saltHex, hash: saltedHash(tag, cleaned, saltHex) };
}

/** Whether `document` (`{tag, text, salt}`) is what `digest` (the chain's) commits to. */
export function matchesHash(document, digest) {
  try {
    return saltedHash(String(document.tag), String(document.text), document.salt) === String(digest).toLowerCase();
  } catch {
    return false;
  }
}
