// The signed-in session kept across a reload, in this tab only (sessionStorage): the key
// files as chosen (still encrypted by their password) and the bearer token. Decrypted
// keys are never stored: after a reload the password unlocks the same files again.
const KEY = "portal.session";

/** Remember `{address, keystore, encryptionFile, token}` with the token's end time. */
export function keepSession({ address, keystore, encryptionFile, token }) {
  const expiresAt = Math.floor(Date.now() / 1000) + Number(token.expires_in || 0);
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ address, keystore, encryptionFile, token, expiresAt }));
  } catch {
    // not kept (storage refused): a reload asks for the files again
  }
}

/** The kept session, or null when there is none or its token has ended. */
export function keptSession() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (kept && kept.expiresAt > Math.floor(Date.now() / 1000) + 30) return kept;
  } catch {
    // unreadable: start over
  }
  forgetSession();
  return null;
}

export function forgetSession() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
}

/** Whose record, consents and log the resident's screens are about: the resident a
 * delegate acts for (`session.actingFor`, its entry of GET /residents/{a}/delegations),
 * else the signed-in wallet itself. What is signed is always signed by the wallet. */
export const principal = (session) => session.actingFor?.resident ?? session.wallet.address;

/** Every address whose signature in the principal's name the screens accept. */
export const principalSigners = (session) => [...new Set([principal(session), session.wallet.address])];
