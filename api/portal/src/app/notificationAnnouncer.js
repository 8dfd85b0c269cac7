// A polite live region in the shell: what the stream brings is said by a screen reader,
// whatever screen is shown; a burst (a replay after sign-in) is said once, as a count,
// when it has settled.
import { useEffect, useRef, useState } from "preact/hooks";

import { useInbox } from "./notificationInbox.js";
import { announcement } from "./notificationWords.js";
import { html } from "./ui.js";

/** How long arrivals must pause before they are said together. */
const SETTLE_MS = 700;

export function NotificationAnnouncer({ t, address }) {
  const inbox = useInbox();
  const arrivals = inbox?.arrivals || [];
  const told = useRef(0);
  const [said, setSaid] = useState({ text: "", turn: 0 });

  useEffect(() => {
    if (arrivals.length < told.current) told.current = 0; // signed in again
    if (arrivals.length === told.current) return undefined;
    const timer = setTimeout(() => {
      const fresh = arrivals.slice(told.current);
      told.current = arrivals.length;
      const text =
        fresh.length === 1
          ? announcement(t, fresh[0], inbox.names, address)
          : t("notifications.live.many", { count: fresh.length });
      setSaid((before) => ({ text, turn: before.turn + 1 }));
    }, SETTLE_MS);
    return () => clearTimeout(timer);
  }, [arrivals, inbox?.names]);

  // A new node each turn: the same words twice are still said twice.
  return html`<div id="notifications-live" class="visually-hidden" role="status" aria-live="polite">
    ${said.text && html`<p key=${said.turn}>${said.text}</p>`}
  </div>`;
}
