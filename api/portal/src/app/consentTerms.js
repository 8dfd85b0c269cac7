// A served consent's terms, checked against the Grant (or the GrantBundle, one of its
// items) its resident signed, as wallets/trust.py check_consent, before the portal acts
// on them.
import { checksumAddress, labelToBytes32, toHex } from "../crypto/codec.js";
import { intentSpec, recoverIntentSigner } from "../crypto/eip712.js";

const ZERO32 = "0x" + "00".repeat(32);

const hex32 = (label) => toHex(labelToBytes32(label));

function served(c) {
  return {
    resident: checksumAddress(c.resident),
    department: checksumAddress(c.department),
    fields: c.fields.map(hex32).sort().join(","),
    purpose: hex32(c.purpose),
    validFrom: String(c.valid_from),
    validUntil: String(c.valid_until),
    maxUses: String(c.max_uses),
    requestId: (c.request_id || ZERO32).toLowerCase(),
  };
}

function signed(m) {
  return {
    resident: checksumAddress(m.resident),
    department: checksumAddress(m.department),
    fields: m.fields.map((f) => String(f).toLowerCase()).sort().join(","),
    purpose: String(m.purpose).toLowerCase(),
    validFrom: String(m.validFrom),
    validUntil: String(m.validUntil),
    maxUses: String(m.maxUses),
    requestId: String(m.requestId).toLowerCase(),
  };
}

/** A bundle item's terms as a Grant's members (a bundle names no request). */
const itemGrant = (m, item) => ({ ...item, resident: m.resident, validFrom: m.validFrom, requestId: ZERO32 });

/** Throws (saying which term) unless `consent` is what `resident` signed (or, in its
 * name, one of `signers`: the delegate this browser signs as). */
export function checkConsent(consent, eip712, resident, signers = [resident]) {
  const grant = consent.grant;
  const type = grant?.type;
  if (type !== "Grant" && type !== "GrantBundle") throw new Error(`no signed Grant for consent ${consent.consent_id}`);
  const signer = recoverIntentSigner(intentSpec(eip712, type), grant.message, grant.signature);
  const a = served(consent);
  const differ = (b) => Object.keys(a).filter((k) => a[k] !== b[k]);
  let b;
  if (type === "GrantBundle") {
    // One consent per item: the served terms must be one item's, from the bundle's start.
    const items = (Array.isArray(grant.message.items) ? grant.message.items : []).map((i) => signed(itemGrant(grant.message, i)));
    if (!items.length) throw new Error(`consent ${consent.consent_id}: the signed GrantBundle has no items`);
    b = items.find((item) => !differ(item).length) || items[0];
  } else b = signed(grant.message);
  const differing = differ(b);
  if (differing.length) throw new Error(`consent ${consent.consent_id}: ${differing.join(", ")} differ from the signed ${type}`);
  if (b.resident !== checksumAddress(resident) || !signers.some((s) => checksumAddress(s) === signer))
    throw new Error(`consent ${consent.consent_id} was not signed by ${resident}`);
}
