// A notification in words. Every kind is said by its string `notifications.kind.<kind>`
// alone, so a kind the API adds later needs one string per language and nothing here;
// one it has none for yet is still shown, by its code.
import { departmentName } from "./departmentNames.js";

/** What happened, e.g. "数据已被读取" / "Your data was read". */
export function kindLabel(t, kind) {
  const key = `notifications.kind.${kind}`;
  const text = t(key);
  return text === key ? t("notifications.kind.other", { kind }) : text;
}

/** A refusal's reason (`audit.reason.<r>`) or a declined request's (`requests.reason.<R>`)
 * in words, else as served. */
export function reasonLabel(t, reason) {
  for (const key of [`audit.reason.${reason}`, `requests.reason.${reason}`]) {
    const text = t(key);
    if (text !== key) return text;
  }
  return reason;
}

/** The other party of a notification, as the reader of `address`'s feed names it: the
 * department by name, a resident by address. */
export function counterpart(names, notification, address) {
  const self = (address || "").toLowerCase();
  const { department, resident } = notification;
  if (department && department.toLowerCase() !== self) return departmentName(names, department);
  if (resident && resident.toLowerCase() !== self) return resident;
  return null;
}

/** One line for the live region: the kind and who. */
export function announcement(t, notification, names, address) {
  const who = counterpart(names, notification, address);
  const kind = kindLabel(t, notification.kind);
  return who ? t("notifications.live.one_from", { kind, who }) : t("notifications.live.one", { kind });
}
