// What the resident's and the department's consent lists share: every page of the list
// with the chain's time (time left is judged by chain time, not the browser's clock),
// newest first, and that time left in words.
import { useEffect, useState } from "preact/hooks";

import { call } from "./api.js";
import { allPages } from "./pages.js";
import { describeError } from "./ui.js";

/** A consent that may still be used: its time left is worth showing. */
export const LIVE = new Set(["active", "not_yet_valid"]);

/** `{rows, now, error, setError, reload}` for the consent list at `path`, loaded again
 * whenever one of `deps` changes. */
export function useConsentList(t, path, token, deps) {
  const [rows, setRows] = useState(null);
  const [now, setNow] = useState(0);
  const [error, setError] = useState("");

  async function reload() {
    try {
      const [all, health] = await Promise.all([allPages(path, token), call("GET", "/health")]);
      setNow(Number(health.block_timestamp));
      setRows(all.sort((a, b) => b.consent_id - a.consent_id));
    } catch (e) {
      setError(describeError(t, e));
    }
  }

  useEffect(() => {
    reload();
  }, deps);
  return { rows, now, error, setError, reload };
}

export function timeLeft(t, seconds) {
  if (seconds <= 0) return t("time.ended");
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  return days ? t("time.left_days", { days, hours }) : t("time.left_hours", { hours: Math.max(hours, 1) });
}
