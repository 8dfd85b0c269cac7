// Salted texts (saltedText.js): the hash of a text with a given salt, a fresh one made,
// and a kept document checked against a digest, as the browser does them.
import { crypto, serve } from "./io.mjs";

const salted = await import(crypto("saltedText.js"));

/** The module's own refusal as an answer (InvalidText is not an io.mjs error kind). */
function made(tag, text, salt) {
  try {
    return salted.saltText(tag, text, salt);
  } catch (error) {
    if (error?.name !== "InvalidText") throw error;
    return { refused: error.reason };
  }
}

await serve({
  tags: async () => ({ justification: salted.JUSTIFICATION, notes: salted.REVIEW_NOTES, max: salted.MAX_TEXT_BYTES }),
  hash: async ({ cases }) => cases.map(({ tag, text, salt }) => salted.saltedHash(tag, text, salt)),
  salt: async ({ cases }) => cases.map(({ tag, text, salt }) => made(tag, text, salt)),
  fresh: async ({ tag, text }) => [made(tag, text), made(tag, text)],
  matches: async ({ cases }) => cases.map(({ document, digest }) => salted.matchesHash(document, digest)),
});
