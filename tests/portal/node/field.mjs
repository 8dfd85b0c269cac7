// Field encryption (fieldCipher.js) and key wrapping (keyWrap.js), for the interop tests.
import { crypto, serve } from "./io.mjs";

const { fromHex } = await import(crypto("codec.js"));
const { decryptField, encryptField, fieldValue } = await import(crypto("fieldCipher.js"));
const { unwrapKey, wrapKey } = await import(crypto("keyWrap.js"));

await serve({
  encrypt: async ({ key, value, salt, resident, field, version, nonce }) =>
    encryptField(fromHex(key), fieldValue(value, fromHex(salt)), {
      resident, field, version: BigInt(version), ...(nonce ? { nonce: fromHex(nonce) } : {}),
    }),
  decrypt: async ({ key, nonce, ciphertext, resident, field, version }) =>
    decryptField(fromHex(key), { nonce: fromHex(nonce), ciphertext: fromHex(ciphertext), resident, field, version: BigInt(version) }),
  wrap: async ({ key, publicKey, recipient, field, version }) =>
    ({ wrapped: await wrapKey(fromHex(key), publicKey, { recipient, field, version: BigInt(version) }) }),
  unwrap: async ({ wrapped, privateKey, recipient, field, version }) =>
    ({ key: await unwrapKey(wrapped, fromHex(privateKey), { recipient, field, version: BigInt(version) }) }),
});
