// The notifications screen, for every actor with a feed: GET /notifications read page by
// page (by cursor) and what the live stream brought since, newest first, shown a few at a
// time with older ones a button away. Opening it marks everything read: the badge clears.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { call } from "./api.js";
import { isAfter, lastReadId, newestId } from "./lastRead.js";
import { NotificationBadge } from "./notificationBadge.js";
import { useInbox } from "./notificationInbox.js";
import { NotificationItem, entryId } from "./notificationItem.js";
import { ErrorText, Progress, describeError, html } from "./ui.js";

/** The roles whose actors have a feed (api/notifications.py; auditors' kinds are coming). */
export const FEED_ROLES = ["resident", "department", "auditor"];
const PAGE = 500;
const STEP = 20;

/** Every notification of the feed, following `next_cursor` (served oldest first). */
async function readFeed(token, onPage) {
  const items = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) query.set("cursor", cursor);
    const page = await call("GET", `/notifications?${query}`, undefined, token);
    items.push(...page.data);
    cursor = page.next_cursor;
    onPage(items.length);
  } while (cursor);
  return items;
}

/** Newest first, each once: what the list served and what the stream brought. */
function merged(history, arrivals) {
  const byId = new Map();
  for (const n of history || []) byId.set(n.id, n);
  for (const n of arrivals) byId.set(n.id, n);
  return [...byId.values()].sort((a, b) => (isAfter(a.id, b.id) ? -1 : isAfter(b.id, a.id) ? 1 : 0));
}

export function Notifications({ t, session }) {
  const inbox = useInbox();
  const address = session.wallet.address;
  // What was unread when the screen opened stays marked new while it is shown.
  const [unreadAfter] = useState(() => lastReadId(address));
  const [history, setHistory] = useState(null);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [shown, setShown] = useState(STEP);
  const firstOlder = useRef(null);

  async function reload() {
    setError("");
    setBusy({ label: t("notifications.loading"), value: 0.5 });
    try {
      const token = session.token.access_token;
      const progress = (count) => setBusy({ label: t("notifications.loading_count", { count }), value: 0.5 });
      const items = await readFeed(token, progress);
      setHistory(items);
      inbox.markRead(newestId(items.map((n) => n.id)));
      inbox.refreshNames();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  useEffect(() => {
    inbox.setViewing(true);
    reload();
    return () => inbox.setViewing(false);
  }, [address]);

  const all = useMemo(() => merged(history, inbox.arrivals), [history, inbox.arrivals]);
  const visible = all.slice(0, shown);
  const older = all.length - visible.length;

  // "Show older": the keyboard lands on the first entry it revealed.
  useEffect(() => {
    if (firstOlder.current === null) return;
    document.getElementById(firstOlder.current)?.focus();
    firstOlder.current = null;
  }, [shown]);

  function showOlder() {
    firstOlder.current = all[shown] ? entryId(all[shown]) : null;
    setShown(shown + STEP);
  }

  return html`<section aria-labelledby="notifications-heading" class="card">
    <h2 id="notifications-heading">${t("notifications.heading")}</h2>
    <p class="hint">${t("notifications.hint")}</p>
    <p id="notifications-status" class="hint">${t(`notifications.status.${inbox.status}`)}</p>
    <${ErrorText} id="notifications-error" text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    ${history !== null &&
    (all.length
      ? html`<ol class="notifications" id="notifications-list">
          ${visible.map(
            (n) => html`<${NotificationItem}
              key=${n.id}
              t=${t}
              notification=${n}
              names=${inbox.names}
              address=${address}
              unread=${isAfter(n.id, unreadAfter)}
            />`,
          )}
        </ol>`
      : html`<p id="notifications-empty">${t("notifications.empty")}</p>`)}
    <div class="actions">
      ${older > 0 &&
      html`<button type="button" class="secondary" id="notifications-older" onClick=${showOlder}>
        ${t("notifications.older", { count: Math.min(STEP, older) })}
      </button>`}
      <button type="button" class="secondary" disabled=${!!busy} onClick=${reload}>${t("notifications.refresh")}</button>
    </div>
  </section>`;
}

export const NOTIFICATION_SCREENS = [
  { id: "notifications", roles: FEED_ROLES, Screen: Notifications, Badge: NotificationBadge },
];
