// Key files (keystore.js): open what the CLI saved, save what the CLI opens.
import { crypto, serve } from "./io.mjs";

const ks = await import(crypto("keystore.js"));

await serve({
  openIdentity: async ({ signing, encryption, password }) => {
    const opened = await ks.openIdentity({ signing, encryption }, password);
    return { address: opened.address, privateKey: opened.privateKey, x25519: opened.encryption.x25519, hybrid: opened.encryption.hybrid };
  },
  openSigning: async ({ signing, password }) => ks.openSigningKey(signing, password),
  createIdentity: async ({ password, scryptN }) => {
    const { identity, files } = await ks.createIdentity(password, { scryptN });
    return { address: identity.address, privateKey: identity.privateKey, x25519: identity.encryption.x25519, files };
  },
});
