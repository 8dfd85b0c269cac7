// "My consents": status, time left (chain time), uses; revoke (a signed Revoke,
// POST /consents/{id}/revoke, then the record rotated as `consent revoke` does); renew
// (a new Grant of the same department, fields and purpose for a new duration, through
// the same path as approving a request: grant.js; the old consent is left as it is).
import { useState } from "preact/hooks";

import { call } from "./api.js";
import { checkConsent } from "./consentTerms.js";
import { BundleCard } from "./bundleCard.js";
import { revokeBundle } from "./bundle.js";
import { loadRecord } from "./record.js";
import { rotateRecord } from "./rotation.js";
import { principal, principalSigners } from "./session.js";
import { grantConsent } from "./grant.js";
import { LIVE, timeLeft, useConsentList } from "./consentList.js";
import { postSigned } from "./signedWrite.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

// A consent in force or ended on its own (time or uses): renewing it grants the same
// terms again. A revoked one stays revoked: the resident withdrew it on purpose.
const RENEWABLE = new Set(["active", "expired", "exhausted"]);
const DAY = 86400;

/** The consent's own duration in whole days (at least one): the renewal's default. */
function durationDays(c) {
  return Math.max(1, Math.round((Number(c.valid_until) - Number(c.valid_from)) / DAY));
}

/** A new Grant of `c`'s terms (checked first against the Grant its resident signed, so a
 * server cannot steer the renewal to other fields or another department) for `days`. */
async function renew(session, c, days, step) {
  const eip712 = await call("GET", "/eip712");
  checkConsent(c, eip712, principal(session), principalSigners(session));
  return grantConsent(
    session,
    { department: c.department, fields: c.fields, purpose: c.purpose, duration: days * DAY, maxUses: c.max_uses },
    step,
    { missing: "consents.renew_missing" },
  );
}

function RenewForm({ t, consent, disabled, onRenew }) {
  const id = consent.consent_id;
  const [days, setDays] = useState(() => String(durationDays(consent)));
  return html`<form
    class="renew"
    novalidate
    onSubmit=${(e) => {
      e.preventDefault();
      onRenew(consent, days);
    }}
  >
    <label for=${`renew-days-${id}`}>${t("consents.renew_days", { consent: String(id) })}</label>
    <input
      id=${`renew-days-${id}`}
      type="number"
      inputmode="numeric"
      min="1"
      step="1"
      value=${days}
      onInput=${(e) => setDays(e.currentTarget.value)}
    />
    <button type="submit" class="secondary" disabled=${disabled}>${t("consents.renew", { consent: String(id) })}</button>
  </form>`;
}


function revoke(session, consentId) {
  const message = { resident: principal(session), consentId: BigInt(consentId) };
  return postSigned(session, "Revoke", `/consents/${consentId}/revoke`, message);
}

/**
 * After a revocation, as `consent revoke` (--rotate, its default): a new version with
 * fresh salts for the fields the revoked consents exposed (rotation.js: fresh keys for
 * every field, re-wrapped for every consent still live).
 */
async function rotate(session, revoked, consents, step) {
  const record = await loadRecord(session);
  if (!record) return null;
  const names = Object.keys(record.fields);
  const gone = new Set(revoked.map((c) => c.consent_id));
  const survivors = consents.filter((c) => !gone.has(c.consent_id));
  // The fields whose salts must change are the ones the revoked Grants sign.
  const eip712 = await call("GET", "/eip712");
  for (const c of revoked) checkConsent(c, eip712, principal(session), principalSigners(session));
  const fresh = [...new Set(revoked.flatMap((c) => c.fields))].filter((f) => names.includes(f));
  const next = await rotateRecord(session, record, fresh, survivors, step);
  return next.version;
}

function statusLabel(t, status) {
  const key = `consents.status.${status}`;
  return t(key) === key ? status : t(key);
}

function ConsentCard({ t, c, now, busy, onRevoke, onRenew }) {
  return html`<li class="consent" id=${`consent-${c.consent_id}`} aria-labelledby=${`consent-h-${c.consent_id}`}>
    <h3 id=${`consent-h-${c.consent_id}`}>
      ${t("consents.title", { consent: String(c.consent_id), department: c.department_name || c.department })}
    </h3>
    <dl>
      <dt>${t("consents.status")}</dt>
      <dd class="consent-status">${statusLabel(t, c.status)}</dd>
      <dt>${t("consents.fields")}</dt>
      <dd>${c.fields.map((n) => fieldLabel(t, n)).join(", ")}</dd>
      <dt>${t("requests.purpose")}</dt>
      <dd>${purposeLabel(t, c.purpose)}</dd>
      <dt>${t("consents.time_left")}</dt>
      <dd>${LIVE.has(c.status) ? timeLeft(t, c.valid_until - now) : "—"}</dd>
      <dt>${t("consents.uses")}</dt>
      <dd class="consent-uses">
        ${c.max_uses ? t("consents.uses_of", { uses: c.uses, max: c.max_uses }) : t("consents.uses_unlimited", { uses: c.uses })}
      </dd>
    </dl>
    ${LIVE.has(c.status) &&
    html`<button type="button" disabled=${!!busy} onClick=${() => onRevoke(c.consent_id)}>
      ${t("consents.revoke", { consent: String(c.consent_id) })}
    </button>`}
    ${RENEWABLE.has(c.status) && html`<${RenewForm} t=${t} consent=${c} disabled=${!!busy} onRenew=${onRenew} />`}
  </li>`;
}

/** The list's rows in order, a bundle's consents gathered where its first one stands:
 * `[{bundle, consents}]` or `[{consent}]`. */
function grouped(rows) {
  const out = [];
  const bundles = new Map();
  for (const c of rows) {
    if (c.bundle_id === null || c.bundle_id === undefined) out.push({ consent: c });
    else if (bundles.has(c.bundle_id)) bundles.get(c.bundle_id).consents.push(c);
    else {
      const entry = { bundle: c.bundle_id, consents: [c] };
      bundles.set(c.bundle_id, entry);
      out.push(entry);
    }
  }
  for (const entry of bundles.values()) entry.consents.sort((a, b) => a.consent_id - b.consent_id);
  return out;
}

export function MyConsents({ t, session, refresh, onRotated }) {
  const [busy, setBusy] = useState(null);
  const [said, setSaid] = useState("");
  const [loaded, setLoaded] = useState(0); // bumped after each change: bundle cards reload

  const list = `/residents/${principal(session)}/consents`;
  const { rows, now, error, setError, reload } = useConsentList(t, list, session.token.access_token, [
    principal(session),
    refresh,
  ]);

  /** `revoked` are revoked on chain: rotate the record away from them, as the CLI does. */
  async function afterRevoking(revoked, saidRevoked, rotated, failed) {
    setSaid(saidRevoked);
    // A delegate without the commit power cannot rotate the resident's record: the
    // resident's own wallet does, as after any revocation it did not make itself.
    if (session.actingFor && !(Number(session.actingFor.power_bits) & 4)) return;
    const rotating = t("consents.rotating");
    setBusy({ label: rotating, value: 0.3 });
    try {
      const version = await rotate(session, revoked, rows, (v) => setBusy({ label: rotating, value: v }));
      if (version !== null) {
        setSaid(rotated(String(version)));
        if (onRotated) onRotated();
      }
    } catch (e) {
      setError(failed(describeError(t, e)));
    }
  }

  async function onRevoke(id) {
    setError("");
    setSaid("");
    try {
      setBusy({ label: t("consents.revoking"), value: 0.2 });
      const revoked = rows.find((c) => c.consent_id === id);
      await revoke(session, id);
      const consent = String(id);
      await afterRevoking(
        [revoked],
        t("consents.revoked", { consent }),
        (version) => t("consents.rotated", { consent, version }),
        (detail) => t("consents.rotation_failed", { consent, detail }),
      );
      await reload();
      setLoaded(loaded + 1);
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  async function onRevokeAll(bundleId) {
    setError("");
    setSaid("");
    try {
      setBusy({ label: t("consents.revoking_bundle"), value: 0.2 });
      const answer = await revokeBundle(session, bundleId);
      const ended = new Set(answer.revoked);
      const revoked = rows.filter((c) => ended.has(c.consent_id));
      const values = { bundle: String(bundleId), consents: answer.revoked.join(", ") };
      await afterRevoking(
        revoked,
        t("consents.bundle_revoked", values),
        (version) => t("consents.bundle_rotated", { ...values, version }),
        (detail) => t("consents.bundle_rotation_failed", { ...values, detail }),
      );
      await reload();
      setLoaded(loaded + 1);
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  async function onRenew(c, daysText) {
    setError("");
    setSaid("");
    const days = Number(daysText);
    if (!Number.isInteger(days) || days < 1) return setError(t("consents.renew_bad_days"));
    const label = t("consents.renewing");
    try {
      setBusy({ label, value: 0 });
      const answer = await renew(session, c, days, (v) => setBusy({ label, value: v }));
      setSaid(t("consents.renewed", { consent: String(c.consent_id), renewed: String(answer.consent_id), days: String(days) }));
      await reload();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  const card = (c) => html`<${ConsentCard} key=${c.consent_id} t=${t} c=${c} now=${now} busy=${busy} onRevoke=${onRevoke} onRenew=${onRenew} />`;
  return html`<section aria-labelledby="consents-heading" class="card">
    <h2 id="consents-heading">${t("consents.heading")}</h2>
    <${ErrorText} text=${error} />
    ${said && html`<p id="consents-said" role="status">${said}</p>`}
    ${busy && html`<${Progress} ...${busy} />`}
    ${rows &&
    (rows.length
      ? html`<ul class="requests">
          ${grouped(rows).map((entry) =>
            entry.consent
              ? card(entry.consent)
              : html`<${BundleCard}
                  key=${`b${entry.bundle}`}
                  t=${t}
                  session=${session}
                  bundleId=${entry.bundle}
                  consents=${entry.consents}
                  refresh=${`${refresh}-${loaded}`}
                  disabled=${!!busy}
                  onRevokeAll=${onRevokeAll}
                  >${entry.consents.map(card)}<//
                >`,
          )}
        </ul>`
      : html`<p id="consents-empty">${t("consents.empty")}</p>`)}
  </section>`;
}
