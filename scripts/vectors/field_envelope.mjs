// AES-256-GCM field envelope known-answer vectors, computed with Node's own crypto
// (OpenSSL through node:crypto, independent of Python's `cryptography` bindings).
//
//   node scripts/vectors/field_envelope.mjs > tests/wallets/vectors/field_envelope.json
//
// Plaintext = JSON.stringify({value, salt}) in UTF-8; AAD = "{resident}:{field}:{version}"
// with the lower-case address (DESIGN, "Wire formats"). Each vector also carries the
// attestation commitment keccak256(abi.encode(bytes32 fieldId, string value, bytes32 salt)),
// encoded by ethers' AbiCoder. Keys and nonces are fixed here
// ONLY to make known answers; the wallet draws them at random.

import { createCipheriv } from "node:crypto";

import { fixedAddress, fixedBytes, name32, print, requireFromContracts } from "./common.mjs";

const { AbiCoder, keccak256 } = requireFromContracts("ethers");
const { StandardMerkleTree } = requireFromContracts("@openzeppelin/merkle-tree");

const hex = (buffer) => "0x" + Buffer.from(buffer).toString("hex");
const bytes = (h) => Buffer.from(h.slice(2), "hex");

const resident = fixedAddress("resident:1");

const inputs = [
  ["ascii", "income", 1, "85000"],
  ["chinese", "household_registration", 1, "浙江省杭州市西湖区"],
  ["empty-value", "marital_status", 2, ""],
  ["json-escapes", "address", 3, 'Flat "7B"\\Block 3\n\tRoom\u0001 ✓ 😀'],
  ["max-version", "phone", 18446744073709551615n, "+86 138 0013 8000"],
];

const vectors = inputs.map(([label, field, version, value]) => {
  const key = fixedBytes(`field-key:${label}`);
  const nonce = fixedBytes(`field-nonce:${label}`, 12);
  const salt = fixedBytes(`field-salt:${label}`);
  const plaintext = Buffer.from(JSON.stringify({ value, salt }), "utf8");
  const aad = Buffer.from(`${resident.toLowerCase()}:${field}:${version}`, "utf8");
  const cipher = createCipheriv("aes-256-gcm", bytes(key), bytes(nonce));
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const leaf = [name32(field), keccak256(ciphertext)];
  return {
    label,
    resident,
    field,
    version: version.toString(),
    value,
    salt,
    key,
    nonce,
    plaintext: hex(plaintext),
    aad: hex(aad),
    ciphertext: hex(ciphertext),
    ciphertextHash: keccak256(ciphertext),
    leafHash: StandardMerkleTree.of([leaf], ["bytes32", "bytes32"]).leafHash(leaf),
    commitment: keccak256(
      AbiCoder.defaultAbiCoder().encode(["bytes32", "string", "bytes32"], [name32(field), value, salt]),
    ),
  };
});

print({ generator: "scripts/vectors/field_envelope.mjs", implementation: "node:crypto AES-256-GCM", vectors });
