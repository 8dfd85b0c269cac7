// The portal's event-stream parser (api/portal/src/app/sseParser.js, the module the
// browser loads) on streams cut into chunks: for each case, every event it completes, in
// order, the server's retry and the last event id.
import { serve } from "./io.mjs";

const { SseParser } = await import(new URL("../../../api/portal/src/app/sseParser.js", import.meta.url).href);

await serve({
  parse: ({ cases }) =>
    cases.map((chunks) => {
      const parser = new SseParser();
      const events = chunks.flatMap((chunk) => parser.feed(chunk));
      return { events, retry: parser.retry, lastEventId: parser.lastEventId };
    }),
});
