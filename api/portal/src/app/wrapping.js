// The one path by which a record's field keys leave the browser: wrapped (HPKE) for a
// department's key, and only once departmentKey() has checked the admin's signed
// registration of that key. A single Grant (grant.js) and a bundle of several
// departments (bundle.js) both wrap through here.
import { toHex } from "../crypto/codec.js";
import { wrapKey } from "../crypto/keyWrap.js";

import { departmentKey } from "./departmentKey.js";
import { Refusal } from "./ui.js";

/** `{entry, publicKey}` of `address` in the directory `departments`, its key checked. */
export function trustedDepartment(departments, address, eip712) {
  const entry = departments.find((d) => d.address.toLowerCase() === String(address).toLowerCase());
  if (!entry) throw new Refusal("requests.no_department", { department: address });
  try {
    return { entry, publicKey: departmentKey(entry, eip712) };
  } catch (e) {
    throw new Refusal("requests.untrusted_key", { department: entry.name, detail: e.message });
  }
}

/** Throws `missing` (a string key) unless `record` holds every field of `names`. */
export function requireFields(record, names, missing = "requests.missing_fields") {
  if (!record) throw new Refusal("requests.no_record");
  const lacking = names.filter((n) => !record.fields[n]);
  if (lacking.length) throw new Refusal(missing, { version: String(record.version), fields: lacking.join(", ") });
}

/** `{field: 0x-hex wrapped key}` of `names` of `record` for the checked `department`. */
export async function wrapFields(record, names, { entry, publicKey }) {
  const wrapped = {};
  for (const name of names)
    wrapped[name] = toHex(
      await wrapKey(record.fields[name].key, publicKey, { recipient: entry.address, field: name, version: record.version }),
    );
  return wrapped;
}
