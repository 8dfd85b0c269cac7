// A signed write as api/client_signing.py makes one: the served EIP-712 domain, the
// contract's lowest unused nonce, a deadline of chain time + 10 minutes.
import { nameToBytes32, toHex, toJson } from "../crypto/codec.js";
import { intentSpec, signIntent } from "../crypto/eip712.js";

import { call } from "./api.js";

const DEADLINE_SECONDS = 600n;

/** `{spec, nonce, deadline}` for intent `name` signed by `address`. */
export async function intentContext(name, address) {
  const [eip712, health, nonces] = await Promise.all([
    call("GET", "/eip712"),
    call("GET", "/health"),
    call("GET", `/nonces/${address}`),
  ]);
  const spec = intentSpec(eip712, name);
  const contract = spec.domain.verifyingContract.toLowerCase();
  const entry = Object.entries(health.contracts).find(([, a]) => String(a).toLowerCase() === contract);
  if (!entry || !(entry[0] in nonces)) throw new Error(`no nonce for the contract of ${name}`);
  return {
    spec,
    nonce: BigInt(nonces[entry[0]]),
    deadline: BigInt(health.block_timestamp) + DEADLINE_SECONDS,
  };
}

/** The bytes32 ids of field `names` as every field list is signed: a set, ascending. */
export const fieldIds = (names) => names.map((n) => toHex(nameToBytes32(n))).sort();

/** `message` of intent `name` signed with the session's key, nonce and deadline filled. */
export async function signFor(session, name, message) {
  const { spec, nonce, deadline } = await intentContext(name, session.wallet.address);
  return signIntent(session.wallet.privateKey, spec, { ...message, nonce, deadline });
}

/** POST `path` with `message` signed as intent `name`; the API's answer. */
export async function postSigned(session, name, path, message) {
  return call("POST", path, toJson(await signFor(session, name, message)), session.token.access_token);
}
