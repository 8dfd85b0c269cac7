// Signing in: a wallet file opened (or made) in the browser, EIP-191 sign-in, and after
// a reload the same files unlocked again by their password.
import { useState } from "preact/hooks";

import { signIn } from "./api.js";
import {
  ENCRYPTION_KEY_FORMAT,
  createEncryptionKeystore,
  newEncryptionKey,
  openEncryptionKeystore,
} from "../crypto/keystore.js";
import { ErrorText, Progress, describeError, html } from "./ui.js";
import { encryptKeystore, newWallet, openKeystore } from "./wallet.js";

/** The names wallets/keystore.py gives the two files of a wallet folder. */
const SIGNING_FILE = "signing-key.json";
const ENCRYPTION_FILE = "encryption-key.json";

const MIN_PASSWORD = 8;

/** The v3 signing keystore and, if chosen too, encryption-key.json (told apart by content). */
async function sortKeyFiles(files) {
  const found = { signing: null, encryption: null };
  for (const file of files) {
    const text = await file.text();
    const document = JSON.parse(text);
    if (document?.format === ENCRYPTION_KEY_FORMAT) found.encryption = document;
    else found.signing = text;
  }
  if (!found.signing) throw new Error("no signing keystore");
  return found;
}

/** The wallet and, when its file was chosen, the encryption key, with progress. */
async function openFiles(t, { keystore, encryptionFile }, password, setBusy) {
  setBusy({ label: t("progress.decrypting"), value: 0 });
  const wallet = await openKeystore(keystore, password, (value) =>
    setBusy({ label: t("progress.decrypting"), value }),
  );
  let encryption = null;
  if (encryptionFile) {
    setBusy({ label: t("progress.decrypting_key"), value: 0.5 });
    encryption = await openEncryptionKeystore(encryptionFile, password, { address: wallet.address });
  }
  return { wallet, encryption };
}

function openingError(t, e) {
  return /incorrect password|wrong password/.test(String(e?.message))
    ? t("error.wrong_password")
    : t("error.bad_file");
}

export function OpenKeystore({ t, onSignedIn }) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");

  async function submit(event) {
    event.preventDefault();
    setError("");
    const form = event.currentTarget;
    const password = form.elements.password.value;
    if (!form.elements.keystore.files.length) return setError(t("error.no_file"));
    let files;
    let opened;
    try {
      const { signing, encryption } = await sortKeyFiles(form.elements.keystore.files);
      files = { keystore: signing, encryptionFile: encryption };
      opened = await openFiles(t, files, password, setBusy);
    } catch (e) {
      setBusy(null);
      return setError(openingError(t, e));
    }
    try {
      setBusy({ label: t("progress.signing"), value: 1 });
      const token = await signIn(opened.wallet);
      form.reset();
      onSignedIn({ ...opened, token }, files);
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section aria-labelledby="open-heading" class="card">
    <h2 id="open-heading">${t("signin.open.heading")}</h2>
    <p class="hint">${t("signin.open.hint")}</p>
    <form onSubmit=${submit} novalidate>
      <label for="keystore">${t("signin.keystore")}</label>
      <input
        id="keystore"
        name="keystore"
        type="file"
        multiple
        accept=".json,application/json"
        aria-describedby="keystore-hint"
      />
      <p id="keystore-hint" class="hint">${t("signin.encryption_key.hint")}</p>
      <label for="password">${t("signin.password")}</label>
      <input id="password" name="password" type="password" autocomplete="current-password" />
      <${ErrorText} id="open-error" text=${error} />
      ${busy && html`<${Progress} ...${busy} />`}
      <button type="submit" disabled=${!!busy}>${t("signin.submit")}</button>
    </form>
  </section>`;
}

export function CreateWallet({ t }) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [made, setMade] = useState(null);

  async function submit(event) {
    event.preventDefault();
    setError("");
    const form = event.currentTarget;
    const password = form.elements["new-password"].value;
    if (password.length < MIN_PASSWORD) return setError(t("error.password_short"));
    if (password !== form.elements["new-password-again"].value)
      return setError(t("error.password_mismatch"));
    const wallet = newWallet();
    const label = t("progress.encrypting");
    setBusy({ label, value: 0 });
    try {
      // Both files the CLI keeps in a wallet folder, under the same password: the signing
      // key (v3) and the X25519 key a record is encrypted for (encryption-key.json).
      const json = await encryptKeystore(wallet, password, (value) => setBusy({ label, value: value * 0.8 }));
      const encryption = await newEncryptionKey();
      const keyFile = await createEncryptionKeystore(encryption.privateKey, password, { address: wallet.address });
      setBusy({ label, value: 1 });
      if (made) made.files.forEach((f) => URL.revokeObjectURL(f.url));
      const file = (text, name) => ({ name, url: URL.createObjectURL(new Blob([text], { type: "application/json" })) });
      setMade({
        address: wallet.address,
        files: [file(json, SIGNING_FILE), file(JSON.stringify(keyFile, null, 2), ENCRYPTION_FILE)],
      });
      form.reset();
    } catch (e) {
      setError(describeError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section aria-labelledby="create-heading" class="card">
    <h2 id="create-heading">${t("signin.create.heading")}</h2>
    <p class="hint">${t("signin.create.hint")}</p>
    <form onSubmit=${submit} novalidate>
      <label for="new-password">${t("signin.create.password")}</label>
      <input id="new-password" name="new-password" type="password" autocomplete="new-password" />
      <label for="new-password-again">${t("signin.create.confirm")}</label>
      <input
        id="new-password-again"
        name="new-password-again"
        type="password"
        autocomplete="new-password"
      />
      <${ErrorText} id="create-error" text=${error} />
      ${busy && html`<${Progress} ...${busy} />`}
      <button type="submit" disabled=${!!busy}>${t("signin.create.submit")}</button>
    </form>
    ${made &&
    html`<div class="made" role="status">
      <p class="address">${t("signin.create.done", { address: made.address })}</p>
      <div class="actions">
        <a class="button" id="download-signing" href=${made.files[0].url} download=${made.files[0].name}>
          ${t("signin.create.download")}
        </a>
        <a class="button" id="download-encryption" href=${made.files[1].url} download=${made.files[1].name}>
          ${t("signin.create.download_key")}
        </a>
      </div>
    </div>`}
  </section>`;
}

/** After a reload: the kept files opened again with the password; the kept token stands. */
export function Unlock({ t, kept, onUnlocked, onSignOut }) {
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");

  async function submit(event) {
    event.preventDefault();
    setError("");
    const form = event.currentTarget;
    try {
      const opened = await openFiles(t, kept, form.elements["unlock-password"].value, setBusy);
      if (opened.wallet.address !== kept.address) throw new Error("bad file");
      form.reset();
      onUnlocked({ ...opened, token: kept.token });
    } catch (e) {
      setError(openingError(t, e));
    } finally {
      setBusy(null);
    }
  }

  return html`<section aria-labelledby="unlock-heading" class="card">
    <h2 id="unlock-heading">${t("unlock.heading")}</h2>
    <p class="hint">${t("unlock.hint", { address: kept.address })}</p>
    <form onSubmit=${submit} novalidate>
      <label for="unlock-password">${t("signin.password")}</label>
      <input id="unlock-password" name="unlock-password" type="password" autocomplete="current-password" />
      <${ErrorText} id="unlock-error" text=${error} />
      ${busy && html`<${Progress} ...${busy} />`}
      <div class="actions">
        <button type="submit" disabled=${!!busy}>${t("unlock.submit")}</button>
        <button type="button" class="secondary" onClick=${onSignOut}>${t("session.signout")}</button>
      </div>
    </form>
  </section>`;
}
