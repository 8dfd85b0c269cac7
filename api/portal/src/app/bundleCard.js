// A bundle in "my consents": one card for the service granted in one act, its status as
// GET /bundles/{id} serves it, its consents within (each still revocable alone) and
// "revoke all", one signed RevokeBundle (bundle.js).
import { useEffect, useState } from "preact/hooks";

import { call } from "./api.js";
import { LIVE } from "./consentList.js";
import { html } from "./ui.js";

function bundleStatus(t, status) {
  const key = `consents.bundle_status.${status}`;
  return t(key) === key ? status : t(key);
}

/** `consents`: the bundle's rows of the resident's list; `children`: their cards. */
export function BundleCard({ t, session, bundleId, consents, refresh, disabled, onRevokeAll, children }) {
  const [bundle, setBundle] = useState(null);
  useEffect(() => {
    call("GET", `/bundles/${bundleId}`, undefined, session.token.access_token)
      .then(setBundle)
      .catch(() => setBundle(null)); // the consents below still say their own status
  }, [bundleId, refresh]);
  const id = `bundle-${bundleId}`;
  const name = bundle?.service_name || bundle?.service || "";
  return html`<li class="consent bundle" id=${id} aria-labelledby=${`${id}-h`}>
    <h3 id=${`${id}-h`}>${t("consents.bundle_title", { bundle: String(bundleId), service: name })}</h3>
    <dl>
      <dt>${t("consents.status")}</dt>
      <dd class="bundle-status">${bundle ? bundleStatus(t, bundle.status) : "…"}</dd>
      <dt>${t("consents.bundle_consents")}</dt>
      <dd>${String(consents.length)}</dd>
    </dl>
    ${consents.some((c) => LIVE.has(c.status)) &&
    html`<button type="button" disabled=${disabled} onClick=${() => onRevokeAll(bundleId)}>
      ${t("consents.revoke_bundle", { bundle: String(bundleId) })}
    </button>`}
    <ul class="requests bundle-consents">
      ${children}
    </ul>
  </li>`;
}
