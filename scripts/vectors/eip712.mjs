// EIP-712 known-answer vectors for every intent, computed by ethers 6 — an
// implementation independent of eth-account.
//
//   node scripts/vectors/eip712.mjs > tests/wallets/vectors/eip712.json
//
// The types are NOT copied here: they are read from ledger/intents.py (the single
// source of truth) through Python, so a change there changes these vectors, and
// tests/wallets/test_signing.py fails until they are regenerated and committed.
// Integers are written as decimal strings (uint256 does not fit a JSON number).

import { fixedAddress, fixedBytes, name32, print, pythonJson, requireFromContracts } from "./common.mjs";

const { TypedDataEncoder, Wallet, keccak256, toUtf8Bytes, ZeroHash } = requireFromContracts("ethers");

const spec = pythonJson(`
import json
from ledger.eip712 import DOMAIN_NAME, DOMAIN_VERSION
from ledger.intents import INTENTS, eip712_types
print(json.dumps({
    "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION},
    "intents": {name: {"contract": i.contract, "types": eip712_types(name)} for name, i in INTENTS.items()},
}))
`);

const MAX_UINT256 = (2n ** 256n - 1n).toString();
const MAX_UINT64 = (2n ** 64n - 1n).toString();
const MAX_UINT32 = (2n ** 32n - 1n).toString();

const admin = fixedAddress("admin");
const registrar = fixedAddress("registrar");
const department = fixedAddress("department:housing");
const issuer = fixedAddress("issuer:public-security");
const resident = fixedAddress("resident:1");
const contracts = {
  ConsentDirectory: fixedAddress("contract:ConsentDirectory"),
  ConsentLedger: fixedAddress("contract:ConsentLedger"),
  ConsentDelegates: fixedAddress("contract:ConsentDelegates"),
  ConsentEmergency: fixedAddress("contract:ConsentEmergency"),
};
const delegate = fixedAddress("resident:2");

// One signer per vector's role; keys are fixed so ethers' RFC 6979 signatures are too.
const signerKey = (label) => fixedBytes(`signer:${label}`);

const messages = {
  RegisterDepartment: [
    ["x25519-key", "admin", {
      department, name: "市住房保障局 Housing Bureau", code: "HOUSING-01",
      encryptionKey: fixedBytes("x25519-public-key"), nonce: "1", deadline: "1767225600",
    }],
    ["hybrid-key", "admin", {
      department, name: "Health Commission", code: "HEALTH",
      encryptionKey: fixedBytes("mlkem768-x25519-public-key", 1216), nonce: MAX_UINT256,
      deadline: "1767225600",
    }],
    ["empty-strings-and-bytes", "admin", {
      department, name: "", code: "", encryptionKey: "0x", nonce: "0", deadline: "0",
    }],
  ],
  GrantRole: [
    ["issuer-with-fields", "admin", {
      role: keccak256(toUtf8Bytes("ISSUER_ROLE")), account: issuer,
      fields: [name32("id_number"), name32("household_registration")],
      nonce: "7", deadline: "1767225600",
    }],
    ["admin-role-no-fields", "admin", {
      role: ZeroHash, account: registrar, fields: [], nonce: MAX_UINT256, deadline: MAX_UINT256,
    }],
  ],
  EnrollResident: [
    ["typical", "registrar", {
      resident, idCommitment: fixedBytes("id-commitment"),
      encryptionKey: fixedBytes("resident-x25519-public-key"), nonce: "42", deadline: "1767225600",
    }],
  ],
  CommitRecord: [
    ["first-version", "resident", {
      resident, version: "1", root: fixedBytes("record-root"), nonce: "3", deadline: "1767225600",
    }],
    ["max-version", "resident", {
      resident, version: MAX_UINT64, root: ZeroHash, nonce: MAX_UINT256, deadline: "0",
    }, MAX_UINT64],
  ],
  Attest: [
    ["typical", "issuer", {
      issuer, resident, field: name32("household_registration"),
      commitment: fixedBytes("commitment"), issuedAt: "1735689600", expiresAt: "1767225600",
    }],
    ["max-times", "issuer", {
      issuer, resident, field: name32("id_number"), commitment: ZeroHash,
      issuedAt: "0", expiresAt: MAX_UINT64,
    }, "1"],
  ],
  AccessRequest: [
    ["typical", "department", {
      department, resident, fields: [name32("income"), name32("social_insurance")],
      purpose: name32("HOUSING"), duration: "2592000", nonce: "11", deadline: "1767225600",
    }],
  ],
  Grant: [
    ["linked-to-request", "resident", {
      resident, department, fields: [name32("income"), name32("social_insurance")],
      purpose: name32("HOUSING"), validFrom: "1735689600", validUntil: "1738281600",
      maxUses: "3", requestId: fixedBytes("request-id"), nonce: "5", deadline: "1767225600",
    }],
    ["unlimited-no-request", "resident", {
      resident, department, fields: [name32("name")], purpose: name32("SOCIAL_ASSISTANCE"),
      validFrom: "0", validUntil: MAX_UINT64, maxUses: MAX_UINT32, requestId: ZeroHash,
      nonce: "0", deadline: MAX_UINT256,
    }],
  ],
  Revoke: [
    ["typical", "resident", { resident, consentId: "1", nonce: "6", deadline: "1767225600" }],
  ],
  Access: [
    ["typical", "department", {
      department, resident, consentId: "1", fields: [name32("income")],
      nonce: "12", deadline: "1767225600",
    }],
  ],
  SetDepartmentActive: [
    ["suspend", "admin", { department, active: false, nonce: "13", deadline: "1767225600" }],
    ["reinstate", "admin", { department, active: true, nonce: MAX_UINT256, deadline: "0" }],
  ],
  RevokeRole: [
    ["registrar", "admin", {
      role: keccak256(toUtf8Bytes("REGISTRAR_ROLE")), account: registrar,
      nonce: "14", deadline: "1767225600",
    }],
  ],
  DistrustIssuer: [
    ["two-fields", "admin", {
      issuer, fields: [name32("id_number"), name32("household_registration")],
      nonce: "15", deadline: "1767225600",
    }],
    ["no-fields", "admin", { issuer, fields: [], nonce: "0", deadline: MAX_UINT256 }],
  ],
  DeclineRequest: [
    ["too-many-fields", "resident", {
      resident, requestId: fixedBytes("request-id"), reason: name32("TOO_MANY_FIELDS"),
      nonce: "17", deadline: "1767225600",
    }],
  ],
  WithdrawRequest: [
    ["typical", "department", {
      department, requestId: fixedBytes("request-id"), nonce: "18", deadline: "1767225600",
    }],
  ],
  SetPurposePolicy: [
    ["two-fields-90-days", "admin", {
      purpose: name32("HOUSING"), fields: [name32("income"), name32("name")],
      maxDuration: "7776000", nonce: "19", deadline: "1767225600",
    }],
    ["no-limit", "admin", { purpose: name32("HOUSING"), fields: [], maxDuration: "0", nonce: "0", deadline: MAX_UINT256 }],
  ],
  DefineService: [
    ["three-departments", "admin", {
      service: name32("NEWBORN_REGISTRATION"), name: "新生儿出生登记 Newborn registration",
      items: [
        { department, fields: [name32("address"), name32("name")], purpose: name32("HOUSING"), duration: "2592000", maxUses: "5" },
        { department: fixedAddress("department:health"), fields: [name32("name")], purpose: name32("HEALTH"), duration: "5184000", maxUses: "0" },
        { department: fixedAddress("department:social-insurance"), fields: [name32("income"), name32("name")], purpose: name32("SOCIAL_INSURANCE"), duration: MAX_UINT64, maxUses: MAX_UINT32 },
      ],
      nonce: "21", deadline: "1767225600",
    }],
    ["no-items", "admin", { service: name32("EMPTY"), name: "", items: [], nonce: "0", deadline: "0" }],
  ],
  GrantBundle: [
    ["three-items-narrowed", "resident", {
      resident, service: name32("NEWBORN_REGISTRATION"),
      items: [
        { department, fields: [name32("name")], purpose: name32("HOUSING"), validUntil: "1769817600", maxUses: "2" },
        { department: fixedAddress("department:health"), fields: [name32("name")], purpose: name32("HEALTH"), validUntil: "1772409600", maxUses: "0" },
        { department: fixedAddress("department:social-insurance"), fields: [], purpose: name32("SOCIAL_INSURANCE"), validUntil: MAX_UINT64, maxUses: MAX_UINT32 },
      ],
      validFrom: "1767225600", nonce: "22", deadline: "1767229200",
    }],
    ["one-item", "resident", {
      resident, service: name32("X"),
      items: [{ department, fields: [name32("income")], purpose: name32("TAXATION"), validUntil: "1", maxUses: "1" }],
      validFrom: "0", nonce: MAX_UINT256, deadline: MAX_UINT256,
    }],
  ],
  AppointDelegate: [
    ["guardian-all-powers", "registrar", {
      resident, delegate, powers: "15", validUntil: "1798761600", nonce: "30", deadline: "1767225600",
    }],
    ["max-values", "resident", {
      resident, delegate, powers: "255", validUntil: MAX_UINT64, nonce: MAX_UINT256, deadline: "0",
    }],
  ],
  RemoveDelegate: [
    ["by-resident", "resident", { resident, delegate, nonce: "31", deadline: "1767225600" }],
  ],
  EmergencyDirective: [
    ["two-fields", "resident", {
      resident, department, fields: [name32("health_summary"), name32("phone")].sort(),
      validUntil: "1798761600", nonce: "32", deadline: "1767225600",
    }],
    ["withdrawn", "resident", {
      resident, department, fields: [], validUntil: "0", nonce: "33", deadline: "1767225600",
    }],
  ],
  EmergencyAccess: [
    ["unconscious", "department", {
      department, resident, fields: [name32("health_summary")], reason: name32("UNCONSCIOUS"),
      justificationHash: fixedBytes("justification", 32), nonce: "34", deadline: "1767225600",
    }],
  ],
  ReviewEmergency: [
    ["justified", "auditor", {
      accessId: "1", outcome: name32("justified"), notesHash: ZeroHash, nonce: "35",
      deadline: "1767225600",
    }],
    ["max-id", "auditor", {
      accessId: MAX_UINT256, outcome: name32("unjustified"), notesHash: fixedBytes("notes", 32),
      nonce: "0", deadline: "0",
    }],
  ],
  RevokeBundle: [
    ["bundle-1", "resident", { resident, bundleId: "1", nonce: "23", deadline: "1767229200" }],
    ["max-id", "resident", { resident, bundleId: MAX_UINT256, nonce: "0", deadline: "0" }],
  ],
  RotateDepartmentKey: [
    ["x25519-key", "admin", {
      department, encryptionKey: fixedBytes("rotated-x25519-public-key"),
      nonce: "16", deadline: "1767225600",
    }],
  ],
};

const names = Object.keys(spec.intents).sort();
const missing = names.filter((n) => !(n in messages));
if (missing.length) throw new Error(`no fixed message for intents: ${missing.join(", ")}`);

const vectors = [];
for (const name of names) {
  const { contract, types: allTypes } = spec.intents[name];
  // The intent's own type and any struct types it references (ethers wants no domain type).
  const { EIP712Domain, ...types } = allTypes;
  // Entries: [label, signing role, message, chain id (default: anvil's 31337)].
  for (const [label, role, message, chainId = "31337"] of messages[name]) {
    const domain = { ...spec.domain, chainId, verifyingContract: contracts[contract] };
    const encoder = TypedDataEncoder.from(types);
    const key = signerKey(role);
    const wallet = new Wallet(key);
    vectors.push({
      name,
      label,
      domain,
      types,
      message,
      encodeType: encoder.encodeType(name),
      typeHash: keccak256(toUtf8Bytes(encoder.encodeType(name))),
      domainSeparator: TypedDataEncoder.hashDomain(domain),
      structHash: encoder.hash(message),
      digest: TypedDataEncoder.hash(domain, types, message),
      signerKey: key,
      signer: wallet.address,
      signature: await wallet.signTypedData(domain, types, message),
    });
  }
}

print({
  generator: "scripts/vectors/eip712.mjs",
  implementation: "ethers TypedDataEncoder / Wallet.signTypedData",
  vectors,
});
