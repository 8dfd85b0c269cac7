// Intents (eip712.js) from the API's /eip712 document: sign, digest, recover, acceptances.
import { crypto, serve } from "./io.mjs";

const e = await import(crypto("eip712.js"));

await serve({
  sign: async ({ eip712, name, message, privateKey }) => e.signIntent(privateKey, e.intentSpec(eip712, name), message),
  digest: async ({ eip712, name, message }) => ({ digest: e.intentDigest(e.intentSpec(eip712, name), message) }),
  recover: async ({ eip712, name, message, signature }) =>
    ({ signer: e.recoverIntentSigner(e.intentSpec(eip712, name), message, signature) }),
  acceptance: async ({ acceptance, expect }) => e.verifyAcceptance(acceptance, expect ?? {}),
});
