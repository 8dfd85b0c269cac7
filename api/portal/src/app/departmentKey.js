// A department's encryption key, taken only once the admin's signed registration that
// set it checks out (as wallets/trust.py check_department_key; the signer pinned on
// first use in this browser, as the CLI pins it in the wallet).
import { checksumAddress, equalBytes, fromHex } from "../crypto/codec.js";
import { intentSpec, recoverIntentSigner } from "../crypto/eip712.js";

const KEY_INTENTS = new Set(["RegisterDepartment", "RotateDepartmentKey"]);
const ADMIN_PIN = "portal.admin";

export class UntrustedKey extends Error {}

export function departmentKey(entry, eip712) {
  const name = entry.name || entry.address;
  const served = fromHex(entry.encryption_key, { what: "encryption key" });
  const intent = entry.key_intent;
  if (!intent || !KEY_INTENTS.has(intent.type)) throw new UntrustedKey(`no signed registration for ${name}'s key`);
  const signer = recoverIntentSigner(intentSpec(eip712, intent.type), intent.message, intent.signature);
  if (checksumAddress(intent.message.department || "0x" + "00".repeat(20)) !== checksumAddress(entry.address))
    throw new UntrustedKey(`the signed registration for ${name} names another department`);
  if (!equalBytes(fromHex(intent.message.encryptionKey || "0x"), served))
    throw new UntrustedKey(`the server serves ${name}'s key unlike the admin signed it`);
  admitAdmin(signer, `${name}'s key`);
  return served;
}

/** The admin this browser pinned, checksummed (null: none yet). */
export function pinnedAdmin() {
  try {
    const pinned = localStorage.getItem(ADMIN_PIN);
    return pinned ? checksumAddress(pinned) : null;
  } catch {
    return null;
  }
}

/** `signer` as the admin: pinned on first use in this browser, the same one after. */
export function admitAdmin(signer, what) {
  let pinned = null;
  try {
    pinned = localStorage.getItem(ADMIN_PIN);
    if (!pinned) localStorage.setItem(ADMIN_PIN, signer);
  } catch {
    // no storage: checked against this page's first signer only
  }
  if (pinned && checksumAddress(pinned) !== signer)
    throw new UntrustedKey(`${what} is signed by ${signer}, not by the admin this browser knows`);
}
