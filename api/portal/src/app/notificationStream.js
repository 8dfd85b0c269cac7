// The signed-in actor's feed live: GET /notifications/stream read with fetch() (the
// browser's EventSource cannot send the bearer token, and tokens never go in a URL),
// parsed by sseParser.js, resumed with Last-Event-ID after every drop so that nothing
// is missed or repeated, closed for good by close() (sign-out).
import { SseParser } from "./sseParser.js";

const PATH = "/notifications/stream";
/** Before the server's `retry:` arrives (it sends 1000), and the most a run of failed
 * reconnections waits between attempts (doubling from `retry:`). */
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;

/**
 * Follow the feed after notification id `after` (null: what is indexed next).
 * `onNotification(n)` gets each notification once, in chain order; `onStatus(s)` hears
 * "connecting", "open", "retrying" and "ended" (the token was refused: sign in again).
 * Returns `{close()}`.
 */
export function followNotifications({ token, after, onNotification, onStatus = () => {} }) {
  let lastId = after || "";
  let retryMs = FIRST_RETRY_MS;
  let failures = 0;
  let closed = false;
  let controller = null;
  let timer = null;

  function retryLater() {
    if (closed) return;
    onStatus("retrying");
    const wait = Math.min(MAX_RETRY_MS, retryMs * 2 ** failures) * (0.75 + Math.random() * 0.5);
    failures += 1;
    timer = setTimeout(connect, wait);
  }

  async function connect() {
    timer = null;
    if (closed) return;
    onStatus("connecting");
    controller = new AbortController();
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token}` };
    if (lastId) headers["Last-Event-ID"] = lastId;
    try {
      const answer = await fetch(PATH, {
        headers,
        signal: controller.signal,
        credentials: "omit",
        cache: "no-store",
      });
      if (answer.status === 401 || answer.status === 403) {
        closed = true;
        onStatus("ended");
        return;
      }
      if (!answer.ok || !answer.body) throw new Error(`HTTP ${answer.status}`);
      failures = 0;
      onStatus("open");
      await read(answer.body);
    } catch {
      // dropped, refused or unreachable: tried again below, unless closed
    }
    retryLater();
  }

  async function read(body) {
    const parser = new SseParser();
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const event of parser.feed(value)) {
        if (event.id) lastId = event.id;
        let notification;
        try {
          notification = JSON.parse(event.data);
        } catch {
          continue; // not a notification: skipped, the stream goes on
        }
        onNotification(notification);
      }
      if (parser.retry !== null) retryMs = parser.retry;
    }
  }

  /** Try at once when the browser says it is back online. */
  function online() {
    if (timer === null || closed) return;
    clearTimeout(timer);
    connect();
  }
  window.addEventListener("online", online);
  connect();

  return {
    close() {
      closed = true;
      window.removeEventListener("online", online);
      if (timer !== null) clearTimeout(timer);
      controller?.abort();
    },
  };
}
