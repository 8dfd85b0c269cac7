/**
 * Record roots, as wallets/record.py and wallets/merkle.py: an OpenZeppelin
 * StandardMerkleTree (the library itself, so the portal and the contracts agree by
 * construction) over leaves `(bytes32 fieldId, bytes32 keccak256(ciphertext))` with
 * leaf encoding `["bytes32", "bytes32"]`, leaves sorted by hash (the default).
 */

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256 } from "ethers";

import { fromHex, nameToBytes32, toHex } from "./codec.js";

export const LEAF_ENCODING = ["bytes32", "bytes32"];

/** The leaf value `[fieldId, keccak256(ciphertext)]` as 0x-hex. */
export function fieldLeaf(field, ciphertext) {
  return [toHex(nameToBytes32(field)), keccak256(fromHex(ciphertext, { what: "ciphertext" }))];
}

/** The tree over `{field name: ciphertext}` (bytes or 0x-hex). */
export function recordTree(ciphertexts) {
  const entries = Object.entries(ciphertexts);
  if (!entries.length) throw new Error("a record has at least one field");
  return StandardMerkleTree.of(entries.map(([name, ct]) => fieldLeaf(name, ct)), LEAF_ENCODING);
}

/** The root committed on chain for `{name: envelope}` (what the server re-checks). */
export function recordRoot(envelopes) {
  const ciphertexts = Object.fromEntries(Object.entries(envelopes).map(([n, e]) => [n, e.ciphertext]));
  return recordTree(ciphertexts).root;
}

/** The single-field proof of `field`'s ciphertext in `tree`. */
export const fieldProof = (tree, field, ciphertext) => tree.getProof(fieldLeaf(field, ciphertext));

/** Whether `ciphertext` is `field`'s under `root`; false (never a throw) for bad input. */
export function verifyFieldProof(root, field, ciphertext, proof) {
  try {
    return StandardMerkleTree.verify(toHex(fromHex(root, { length: 32 })), LEAF_ENCODING, fieldLeaf(field, ciphertext), proof);
  } catch {
    return false;
  }
}
