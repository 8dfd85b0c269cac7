// Shared by the interop harnesses: read one JSON request on stdin, run the named
// operation, print one JSON answer on stdout. Failures the portal would show a user
// come back as {"error": "<ErrorClass>", "message": ...} (exit 0) so the Python test
// can assert on the kind; anything else crashes with a stack trace (exit 1).

import { readFileSync } from "node:fs";

export const crypto = (module) => new URL(`../../../api/portal/src/crypto/${module}`, import.meta.url).href;

const EXPECTED = new Set([
  "InvalidRecord", "InvalidIntent", "InvalidAcceptance", "WrongPassword", "CorruptKeystore",
]);

/** JSON with BigInt as bare integers and Uint8Array as 0x-hex, as the wire has them. */
function encode(value) {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return `__bigint__${v}`;
    if (v instanceof Uint8Array) return "0x" + Buffer.from(v).toString("hex");
    return v;
  }).replace(/"__bigint__([0-9]+)"/g, "$1");
}

export async function serve(operations) {
  const request = JSON.parse(readFileSync(0, "utf8"));
  const operation = operations[request.op];
  if (!operation) throw new Error(`unknown op ${request.op}`);
  try {
    process.stdout.write(encode({ ok: await operation(request) }));
  } catch (error) {
    if (!EXPECTED.has(error?.name)) throw error;
    process.stdout.write(encode({ error: error.name, message: error.message }));
  }
}
