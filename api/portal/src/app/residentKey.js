// A resident's encryption key (a delegate's, to wrap the record's keys for), taken only
// once the registrar's signed EnrollResident sets exactly it and the admin's signed
// GrantRole made that registrar one, as wallets/trust.py check_resident_key.
import { keccak256, toUtf8Bytes } from "ethers";

import { checksumAddress, equalBytes, fromHex, labelToBytes32, toHex } from "../crypto/codec.js";
import { intentSpec, recoverIntentSigner } from "../crypto/eip712.js";

import { UntrustedKey, admitAdmin, pinnedAdmin } from "./departmentKey.js";

const REGISTRAR_ROLE = keccak256(toUtf8Bytes("REGISTRAR_ROLE"));

/** The key of `GET /residents/{a}/encryption-key`'s `entry`, or UntrustedKey. */
export function residentKey(entry, eip712) {
  const resident = checksumAddress(entry.resident);
  const served = fromHex(entry.encryption_key, { what: "encryption key" });
  const enrolment = entry.key_intent;
  if (!enrolment || enrolment.type !== "EnrollResident") throw new UntrustedKey(`no signed enrolment for ${resident}'s key`);
  const registrar = recoverIntentSigner(intentSpec(eip712, "EnrollResident"), enrolment.message, enrolment.signature);
  if (checksumAddress(enrolment.message.resident || "0x" + "00".repeat(20)) !== resident)
    throw new UntrustedKey(`the signed enrolment for ${resident} names another resident`);
  if (!equalBytes(fromHex(enrolment.message.encryptionKey || "0x"), served))
    throw new UntrustedKey(`the server serves ${resident}'s key unlike its registrar signed it`);
  const appointment = entry.registrar_intent;
  if (pinnedAdmin() === registrar) return served; // the admin enrolled it itself
  if (!appointment || appointment.type !== "GrantRole")
    throw new UntrustedKey(`no admin's signed GrantRole makes ${registrar} a registrar`);
  const admin = recoverIntentSigner(intentSpec(eip712, "GrantRole"), appointment.message, appointment.signature);
  const role = toHex(labelToBytes32(String(appointment.message.role || "")));
  if (checksumAddress(appointment.message.account || "0x" + "00".repeat(20)) !== registrar || role !== REGISTRAR_ROLE)
    throw new UntrustedKey(`the signed GrantRole for ${registrar} does not make it a registrar`);
  admitAdmin(admin, `the registrar role of ${registrar}`);
  return served;
}
