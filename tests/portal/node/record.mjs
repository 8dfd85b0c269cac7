// Records (record.js, merkle.js): build what the CLI opens, open what the CLI built.
import { crypto, serve } from "./io.mjs";

const { fromHex } = await import(crypto("codec.js"));
const rec = await import(crypto("record.js"));
const merkle = await import(crypto("merkle.js"));

const view = (record) => ({
  version: record.version,
  root: record.root,
  fields: record.envelopes,
  values: Object.fromEntries(Object.entries(record.fields).map(([n, f]) => [n, { value: f.value.value, salt: f.value.salt, key: f.key }])),
  proofs: Object.fromEntries(Object.keys(record.fields).map((n) => [n, merkle.fieldProof(record.tree, n, record.fields[n].envelope.ciphertext)])),
});

await serve({
  build: async ({ values, resident, version, ownerPublicKey, salts }) =>
    view(await rec.buildRecord(values, { resident, version: BigInt(version), ownerPublicKey, salts })),
  open: async ({ fields, privateKey, resident, version, root }) =>
    view(await rec.openRecord(fields, fromHex(privateKey), { resident, version: BigInt(version), root })),
  root: async ({ fields }) => ({ root: rec.recordRoot(fields) }),
  verifyProof: async ({ root, field, ciphertext, proof }) => ({ valid: merkle.verifyFieldProof(root, field, ciphertext, proof) }),
  commitBody: async ({ values, resident, version, ownerPublicKey, privateKey, eip712, nonce, deadline }) => {
    const { intentSpec } = await import(crypto("eip712.js"));
    const record = await rec.buildRecord(values, { resident, version: BigInt(version), ownerPublicKey });
    return { body: await rec.commitRecordBody(record, privateKey, intentSpec(eip712, "CommitRecord"), { nonce: BigInt(nonce), deadline: BigInt(deadline) }) };
  },
  openGranted: async ({ served, privateKey, reader, resident, field }) =>
    rec.openGrantedField(served, fromHex(privateKey), { reader, resident, field }),
  commitment: async ({ field, value, salt }) => ({ commitment: rec.attestationCommitment(field, value, salt) }),
});
