// Merkle known-answer vectors from @openzeppelin/merkle-tree's StandardMerkleTree.
//
//   node scripts/vectors/merkle.mjs > tests/wallets/vectors/merkle.json
//
// Record trees use DESIGN's leaves (bytes32 fieldId, bytes32 keccak256(ciphertext))
// with fixed pseudo-ciphertexts; the generic cases exercise other leaf encodings,
// dynamic types and sortLeaves: false. tests/wallets/test_merkle.py rebuilds every
// tree with wallets.merkle and compares root, whole tree and every proof.

import { fixedAddress, fixedBytes, name32, print, requireFromContracts } from "./common.mjs";

const { StandardMerkleTree } = requireFromContracts("@openzeppelin/merkle-tree");
const { keccak256 } = requireFromContracts("ethers");

const SEED_FIELDS = [
  "name", "id_number", "birth_date", "household_registration", "address", "phone",
  "marital_status", "income", "social_insurance", "health_summary", "vehicle", "property",
];

function describe(label, values, leafEncoding, options, extra = {}) {
  const tree = StandardMerkleTree.of(values, leafEncoding, options);
  const proofs = [];
  for (const [index, value] of tree.entries()) {
    proofs.push({ index, leafHash: tree.leafHash(value), proof: tree.getProof(index) });
  }
  return { label, leafEncoding, options, values, ...extra, root: tree.root, dump: tree.dump(), proofs };
}

const cases = [];

for (const count of [1, 2, 3, 5, 12]) {
  const fields = SEED_FIELDS.slice(0, count);
  const ciphertexts = Object.fromEntries(
    fields.map((f, i) => [f, fixedBytes(`ciphertext:${f}`, 29 + 7 * i)]),
  );
  const values = fields.map((f) => [name32(f), keccak256(ciphertexts[f])]);
  cases.push(describe(`record-${count}`, values, ["bytes32", "bytes32"], {}, { ciphertexts }));
}

cases.push(
  describe(
    "address-uint256",
    [
      [fixedAddress("a"), "5000000000000000000"],
      [fixedAddress("b"), "2500000000000000000"],
      [fixedAddress("c"), "115792089237316195423570985008687907853269984665640564039457584007913129639935"],
      [fixedAddress("d"), "0"],
    ],
    ["address", "uint256"],
    {},
  ),
);

cases.push(
  describe(
    "string-bytes32-dynamic",
    [
      ["", fixedBytes("s0")],
      ["户籍 household registration", fixedBytes("s1")],
      ["a much longer string that spans more than one thirty-two byte ABI word", fixedBytes("s2")],
    ],
    ["string", "bytes32"],
    {},
  ),
);

cases.push(
  describe(
    "unsorted-leaves",
    SEED_FIELDS.slice(0, 6).map((f) => [name32(f), fixedBytes(`unsorted:${f}`)]),
    ["bytes32", "bytes32"],
    { sortLeaves: false },
  ),
);

print({ generator: "scripts/vectors/merkle.mjs", implementation: "@openzeppelin/merkle-tree", cases });
