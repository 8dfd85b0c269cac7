// The signed-in actor's notifications in the shell: the live stream opened on sign-in
// and closed on sign-out, what arrived on it, and how many of those are unread (newer
// than the last-read id, lastRead.js). The badge, the live region and the screen read it
// through InboxContext.
import { createContext } from "preact";
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";

import { departmentNames } from "./departmentNames.js";
import { isAfter, lastReadId, markReadUpTo, newestId, watchLastRead } from "./lastRead.js";
import { followNotifications } from "./notificationStream.js";

/** Before every notification: the genesis block logs no event. A list never opened has
 * every notification unread, so the stream starts here until one was read. */
const FIRST_POSITION = "0-0";

export const InboxContext = createContext(null);

/** The inbox of the screen's signed-in actor (null outside a session with a feed). */
export function useInbox() {
  return useContext(InboxContext);
}

/**
 * `session` with a feed, or null (signed out, or no role with a feed). Returns
 * `{arrivals, unread, lastRead, status, names, markRead(id), setViewing(on),
 * refreshNames()}`; `arrivals` in chain order, each notification once.
 */
export function useNotificationInbox(session) {
  const address = session?.wallet.address || null;
  const token = session?.token.access_token || null;
  const [arrivals, setArrivals] = useState([]);
  const [lastRead, setLastRead] = useState(null);
  const [status, setStatus] = useState("idle");
  const [names, setNames] = useState({});
  const viewing = useRef(false);
  const latest = useRef(null);
  const known = useRef({ names: {}, loading: null, asked: new Set() });

  function markRead(id) {
    if (!address || !id) return;
    markReadUpTo(address, id);
    setLastRead(lastReadId(address));
  }

  /** Departments by name again (at most one reading at a time). */
  function refreshNames() {
    if (!token || known.current.loading) return known.current.loading;
    known.current.loading = departmentNames(token)
      .then((found) => {
        known.current.names = found;
        setNames(found);
      })
      .catch(() => {
        // addresses stand in for names until the next reading
      })
      .finally(() => {
        known.current.loading = null;
      });
    return known.current.loading;
  }

  useEffect(() => {
    if (!address || !token) return undefined;
    setArrivals([]);
    setLastRead(lastReadId(address));
    refreshNames();
    const seen = new Set();
    let pending = [];
    let flush = null;
    // A replay brings hundreds at once: they join the list in one update.
    const arrive = (notification) => {
      if (seen.has(notification.id)) return;
      seen.add(notification.id);
      pending.push(notification);
      latest.current = newestId([latest.current, notification.id]);
      if (viewing.current) markRead(notification.id);
      const department = notification.department?.toLowerCase();
      // A department registered since the names were read: read them again, once.
      if (department && !(department in known.current.names) && !known.current.asked.has(department)) {
        known.current.asked.add(department);
        refreshNames();
      }
      flush ??= setTimeout(() => {
        const batch = pending;
        pending = [];
        flush = null;
        setArrivals((list) => list.concat(batch));
      }, 50);
    };
    const stream = followNotifications({
      token,
      after: lastReadId(address) || FIRST_POSITION,
      onNotification: arrive,
      onStatus: setStatus,
    });
    const unwatch = watchLastRead(address, setLastRead);
    return () => {
      stream.close();
      unwatch();
      if (flush !== null) clearTimeout(flush);
      latest.current = null;
      viewing.current = false;
      known.current = { names: {}, loading: null, asked: new Set() };
      setStatus("idle");
      setArrivals([]);
    };
  }, [address, token]);

  const unread = useMemo(() => arrivals.filter((n) => isAfter(n.id, lastRead)).length, [arrivals, lastRead]);

  /** While the list is on screen, what it shows is read, and so is what arrives. */
  function setViewing(on) {
    viewing.current = on;
    if (on) markRead(latest.current);
  }

  return { arrivals, unread, lastRead, status, names, markRead, setViewing, refreshNames };
}
