// Shared helpers for the known-answer vector scripts in this folder.
//
// The scripts run with the repository's pinned npm packages (contracts/node_modules),
// print one JSON document on stdout, and are deterministic: every input is fixed or
// derived from a fixed label, so re-running one reproduces the committed file byte for
// byte (tests/wallets checks that).

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const requireFromContracts = createRequire(path.join(repoRoot, "contracts", "package.json"));

const ethers = requireFromContracts("ethers");

/** 32 bytes (or `length` bytes) derived from a label: keccak256 chained as needed. */
export function fixedBytes(label, length = 32) {
  let out = "";
  let counter = 0;
  while (out.length < 2 * length) {
    out += ethers.keccak256(ethers.toUtf8Bytes(`${label}#${counter}`)).slice(2);
    counter += 1;
  }
  return "0x" + out.slice(0, 2 * length);
}

/** A checksummed address derived from a label. */
export function fixedAddress(label) {
  return ethers.getAddress(fixedBytes(`address:${label}`, 20));
}

/** A schema name right-padded into bytes32, as ledger.vocabulary.name_to_bytes32 does. */
export function name32(name) {
  return ethers.zeroPadBytes(ethers.toUtf8Bytes(name), 32);
}

/** Python used for reading the single source of truth (ledger/intents.py). */
export function python() {
  if (process.env.PYTHON) return process.env.PYTHON;
  const venv = path.join(repoRoot, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

/** Run a Python snippet in the repository root and parse its JSON output. */
export function pythonJson(source) {
  return JSON.parse(execFileSync(python(), ["-c", source], { cwd: repoRoot, encoding: "utf8" }));
}

export function print(document) {
  process.stdout.write(JSON.stringify(document, null, 2) + "\n");
}
