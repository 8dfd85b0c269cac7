// Where the actor last read its notifications: the newest notification id it has seen
// in the list, kept in localStorage per address (an id is a chain position, nothing
// personal), so the badge counts what arrived since, across reloads and sign-ins.
// Ids are "<block>-<log index>" (api/notifications.py): compared as numbers, in order.

const PREFIX = "portal.notifications.read.";
const ID = /^(\d{1,19})-(\d{1,10})$/;

const storageKey = (address) => PREFIX + address.toLowerCase();

/** `a` comes after `b` in the chain (`b` null or not an id: anything does). */
export function isAfter(a, b) {
  const x = ID.exec(a || "");
  const y = ID.exec(b || "");
  if (!y) return !!x;
  if (!x) return false;
  const block = BigInt(x[1]) - BigInt(y[1]);
  return block > 0n || (block === 0n && Number(x[2]) > Number(y[2]));
}

/** The newest of `ids` (null when none is an id). */
export function newestId(ids) {
  let newest = null;
  for (const id of ids) if (isAfter(id, newest)) newest = id;
  return newest;
}

export function lastReadId(address) {
  try {
    const id = localStorage.getItem(storageKey(address));
    return ID.test(id || "") ? id : null;
  } catch {
    return null; // storage refused: everything counts as unread
  }
}

/** Remember `id` as read for `address`, unless a newer one is already. */
export function markReadUpTo(address, id) {
  if (!ID.test(id || "") || !isAfter(id, lastReadId(address))) return;
  try {
    localStorage.setItem(storageKey(address), id);
  } catch {
    // not remembered: the badge counts them again after a reload
  }
}

/** Follow another tab of the same address reading its list: `onChange(id)`. */
export function watchLastRead(address, onChange) {
  const follow = (event) => {
    if (event.key === storageKey(address)) onChange(lastReadId(address));
  };
  window.addEventListener("storage", follow);
  return () => window.removeEventListener("storage", follow);
}
