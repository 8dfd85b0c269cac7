// One notification as the list shows it: what happened in words, who (a department by
// name), the fields and purpose by name, the reason, the consent and the chain's time.
// Only the parts a notification carries are shown, whatever its kind.
import { counterpart, kindLabel, reasonLabel } from "./notificationWords.js";
import { fieldLabel, html, purposeLabel } from "./ui.js";

/** Kinds with a mark of their own (never colour alone); any other gets the dot. */
const MARKS = {
  access_denied: "✕",
  access_logged: "✓",
  consent_granted: "✓",
  consent_revoked: "✕",
  request_declined: "✕",
};
const REFUSALS = new Set(["access_denied", "consent_revoked", "request_declined"]);

/** Chain time (seconds) as a local date and time in the page's language. */
function localTime(seconds) {
  const lang = document.documentElement.lang || undefined;
  return new Date(seconds * 1000).toLocaleString(lang, { dateStyle: "medium", timeStyle: "medium" });
}

/** The DOM id of a notification's entry (`notification-12-0`). */
export const entryId = (notification) => `notification-${notification.id}`;

export function NotificationItem({ t, notification: n, names, address, unread }) {
  const id = entryId(n);
  const who = counterpart(names, n, address);
  const whoLabel = n.department && n.department.toLowerCase() !== (address || "").toLowerCase()
    ? t("notifications.department")
    : t("notifications.resident");
  const tone = REFUSALS.has(n.kind) ? "notification-refusal" : "";
  return html`<li class=${`notification ${tone}`} id=${id} data-kind=${n.kind} tabindex="-1" aria-labelledby=${`${id}-h`}>
    <h3 id=${`${id}-h`}>
      <span class="log-mark" aria-hidden="true">${MARKS[n.kind] || "•"}</span>
      <span class="notification-kind">${kindLabel(t, n.kind)}</span>
      ${unread && html`<span class="notification-new">${t("notifications.new")}</span>`}
    </h3>
    <dl>
      ${who && html`<dt>${whoLabel}</dt><dd class="notification-who">${who}</dd>`}
      ${n.fields?.length > 0 &&
      html`<dt>${t("notifications.fields")}</dt><dd class="notification-fields">${n.fields.map((f) => fieldLabel(t, f)).join(", ")}</dd>`}
      ${n.purpose && html`<dt>${t("notifications.purpose")}</dt><dd class="notification-purpose">${purposeLabel(t, n.purpose)}</dd>`}
      ${n.reason && html`<dt>${t("notifications.reason")}</dt><dd class="notification-reason">${reasonLabel(t, n.reason)}</dd>`}
      ${n.consent_id != null && html`<dt>${t("notifications.consent")}</dt><dd class="notification-consent">${String(n.consent_id)}</dd>`}
      ${n.request_id && html`<dt>${t("notifications.request")}</dt><dd><code>${n.request_id}</code></dd>`}
      <dt>${t("notifications.when")}</dt>
      <dd>
        <time datetime=${new Date(n.created_at * 1000).toISOString()}>${localTime(n.created_at)}</time>
        <br />
        <span class="notification-block">${t("notifications.block", { block: String(n.block_number) })}</span>
      </dd>
    </dl>
  </li>`;
}
