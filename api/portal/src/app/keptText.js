// A salted text to keep (an emergency access's justification, a review's notes): its
// words, salt and hash shown, and offered as a JSON file from a Blob URL (made in this
// browser, never sent), as the CLI keeps them in the wallet. Only the hash went on chain;
// whoever checks it needs the file (crypto/saltedText.js matchesHash).
import { useEffect, useState } from "preact/hooks";

import { html } from "./ui.js";

/** `document` is what is kept (`{…about, tag, text, salt, hash}`), `name` the file's;
 * `strings` the heading, hint, labels and link text, `id` the section's id prefix. */
export function KeptText({ id, strings, document, name }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    const made = URL.createObjectURL(new Blob([JSON.stringify(document, null, 2) + "\n"], { type: "application/json" }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [document]);
  return html`<section class="keep" id=${id} aria-labelledby=${`${id}-heading`}>
    <h4 id=${`${id}-heading`}>${strings.heading}</h4>
    <p class="hint">${strings.hint}</p>
    <dl>
      <dt>${strings.text}</dt>
      <dd class="kept-text">${document.text}</dd>
      <dt>${strings.salt}</dt>
      <dd><code class="kept-salt">${document.salt}</code></dd>
      <dt>${strings.hash}</dt>
      <dd><code class="kept-hash">${document.hash}</code></dd>
    </dl>
    ${url && html`<a class="button kept-download" id=${`${id}-download`} href=${url} download=${name}>${strings.download}</a>`}
  </section>`;
}
