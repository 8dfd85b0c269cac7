// A `{data, next_cursor}` list read to its end, as the CLI's client pages: its own module
// so the screens and the shared grant path (grant.js) import it without a cycle.
import { call } from "./api.js";

/** Every item of a `{data, next_cursor}` list, following the cursor. */
export async function allPages(path, token) {
  const items = [];
  let cursor = null;
  for (;;) {
    const page = await call("GET", cursor ? `${path}?cursor=${encodeURIComponent(cursor)}` : path, undefined, token);
    if (Array.isArray(page)) return items.concat(page);
    items.push(...(page.data || []));
    cursor = page.next_cursor;
    if (!cursor) return items;
  }
}
