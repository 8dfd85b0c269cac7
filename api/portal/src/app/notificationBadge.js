// The count of unread notifications beside the notifications link: a number to see and,
// for a screen reader, the same in words as part of the link's name.
import { useInbox } from "./notificationInbox.js";
import { html } from "./ui.js";

export function NotificationBadge({ t }) {
  const inbox = useInbox();
  const count = inbox?.unread || 0;
  if (!count) return null;
  return html`<span class="badge" id="notifications-badge" aria-hidden="true">${count > 99 ? "99+" : count}</span>
    <span class="visually-hidden">${t("notifications.unread", { count })}</span>`;
}
