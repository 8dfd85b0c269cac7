// The portal's shell: language, sign-in, and the signed-in session's screens.
import { render } from "preact";
import { useState } from "preact/hooks";

import { ActingFor } from "./actingFor.js";
import { signOut } from "./api.js";
import { Nav, ScreenFrame, screensFor, useRoute } from "./nav.js";
import { NotificationAnnouncer } from "./notificationAnnouncer.js";
import { InboxContext, useNotificationInbox } from "./notificationInbox.js";
import { FEED_ROLES } from "./notifications.js";
import { SCREENS } from "./screens.js";
import { forgetSession, keepSession, keptSession, principal } from "./session.js";
import { CreateWallet, OpenKeystore, Unlock } from "./signIn.js";
import { html } from "./ui.js";
import { initialLanguage, rememberLanguage, translator } from "./i18n.js";
import "./style.css";

function Session({ t, session, onSignOut, onActingFor }) {
  const roles = session.token.roles;
  return html`<section aria-labelledby="session-heading" class="card">
    <h2 id="session-heading">${t("session.heading")}</h2>
    <dl>
      <dt>${t("session.address")}</dt>
      <dd><code id="session-address">${session.wallet.address}</code></dd>
      <dt>${t("session.roles")}</dt>
      <dd id="session-roles">
        ${roles.length
          ? html`<ul class="roles">
              ${roles.map((r) => html`<li>${t(`role.${r}`)}</li>`)}
            </ul>`
          : t("session.no_roles")}
      </dd>
    </dl>
    <${ActingFor} t=${t} session=${session} onChange=${onActingFor} />
    <button type="button" onClick=${onSignOut}>${t("session.signout")}</button>
  </section>`;
}

function Screens({ t, session }) {
  const route = useRoute();
  // Acting for a resident: its screens a delegate may use, and the wallet's own feed.
  const screens = screensFor(SCREENS, session.token.roles).filter(
    (s) => !session.actingFor || s.delegate || s.role !== "resident",
  );
  if (!screens.length) return null;
  const screen = screens.find((s) => s.id === route) || screens[0];
  const { Screen } = screen;
  return html`<${Nav} t=${t} screens=${screens} current=${screen.id} />
    <${ScreenFrame} route=${screen.id}>
      ${screen.encryption && !session.encryption
        ? html`<section class="card" aria-labelledby="needs-key-heading">
            <h2 id="needs-key-heading">${t(`nav.${screen.id}`)}</h2>
            <p id="needs-key">${t("nav.needs_encryption_key")}</p>
          </section>`
        : html`<${Screen} key=${`${screen.id}:${principal(session)}`} t=${t} session=${session} />`}
    <//>`;
}

function App() {
  const [lang, setLang] = useState(initialLanguage);
  const [session, setSession] = useState(null);
  const [kept, setKept] = useState(keptSession);
  const t = translator(lang);
  rememberLanguage(lang);
  // The feed streams while a session with one is signed in; signing out closes it.
  const hasFeed = session && FEED_ROLES.some((r) => session.token.roles.includes(r));
  const inbox = useNotificationInbox(hasFeed ? session : null);

  function signedIn(opened, files) {
    keepSession({ address: opened.wallet.address, ...files, token: opened.token });
    setSession(opened);
  }

  async function leave() {
    const token = (session || kept).token.access_token;
    forgetSession();
    setKept(null);
    setSession(null);
    try {
      await signOut(token);
    } catch {
      // the token expires on its own
    }
  }

  let body;
  if (session)
    body = html`<${InboxContext.Provider} value=${hasFeed ? inbox : null}>
      <${Session}
        t=${t}
        session=${session}
        onSignOut=${leave}
        onActingFor=${(entry) => setSession({ ...session, actingFor: entry })}
      />
      <${Screens} t=${t} session=${session} />
      ${hasFeed && html`<${NotificationAnnouncer} t=${t} address=${session.wallet.address} />`}
    <//>`;
  else if (kept)
    body = html`<${Unlock} t=${t} kept=${kept} onUnlocked=${setSession} onSignOut=${leave} />`;
  else
    body = html`<h2 class="visually-hidden">${t("signin.heading")}</h2>
      <div class="columns">
        <${OpenKeystore} t=${t} onSignedIn=${signedIn} />
        <${CreateWallet} t=${t} />
      </div>`;

  return html`<header>
      <h1>${t("app.title")}</h1>
      <button
        type="button"
        id="language"
        onClick=${() => setLang(lang === "en" ? "zh-CN" : "en")}
      >
        <span class="visually-hidden">${t("lang.label")}: </span>
        <span lang=${lang === "en" ? "zh-CN" : "en"}>${t("lang.switch")}</span>
      </button>
    </header>
    <main>
      <p class="tagline">${t("app.tagline")}</p>
      ${body}
    </main>`;
}

render(html`<${App} />`, document.getElementById("app"));
