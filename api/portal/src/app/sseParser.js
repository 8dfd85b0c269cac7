// Server-Sent Events as text/event-stream frames them (the WHATWG HTML standard's
// "event stream interpretation"), for a stream read with fetch(): the browser's
// EventSource cannot send the bearer token, so the portal parses the stream itself.
// Pure text in, events out: no network, so Node runs it too (tests/portal/node/sse.mjs).

/** Feeds of text chunks (cut anywhere, even between CR and LF) in, whole events out. */
export class SseParser {
  constructor() {
    this.buffer = "";
    this.started = false;
    this.afterCR = false;
    this.data = [];
    this.type = "";
    /** The last `id:` seen, kept across events as the standard's last event ID is. */
    this.lastEventId = "";
    /** The server's `retry:` in milliseconds, once it sent one. */
    this.retry = null;
  }

  /** The events `chunk` completes, in order: `{id, event, data}` (`event` "message" when
   * the server named none). */
  feed(chunk) {
    let text = chunk;
    if (!text) return [];
    if (!this.started) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR ends a line; an LF right after it (maybe in the next chunk) is the same end.
    if (this.afterCR && text.startsWith("\n")) text = text.slice(1);
    this.afterCR = text.endsWith("\r");
    const lines = (this.buffer + text).split(/\r\n|\r|\n/);
    this.buffer = lines.pop();
    const events = [];
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment: the server's keep-alive
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "event") this.type = value;
    else if (name === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (name === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  dispatch() {
    const data = this.data;
    const type = this.type;
    this.data = [];
    this.type = "";
    if (!data.length) return null;
    return { id: this.lastEventId, event: type || "message", data: data.join("\n") };
  }
}
