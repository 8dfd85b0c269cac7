// On whose behalf the session acts: a delegate (or guardian) signed in as itself picks
// one of the residents whose appointment of it is in force (GET /residents/{a}/
// delegations); the resident's screens then read and sign for that resident, and say so.
// The chain still judges every act against the appointment's powers at its block.
import { useEffect, useState } from "preact/hooks";

import { allPages } from "./pages.js";
import { powerWords } from "./delegates.js";
import { html } from "./ui.js";

export function ActingFor({ t, session, onChange }) {
  const [entries, setEntries] = useState([]);
  const me = session.wallet.address;
  const resident = session.token.roles.includes("resident");

  useEffect(() => {
    if (!resident) return;
    allPages(`/residents/${me}/delegations`, session.token.access_token)
      .then((all) => setEntries(all.filter((d) => d.status === "active")))
      .catch(() => setEntries([])); // not offered: the wallet acts for itself
  }, [me]);

  const acting = session.actingFor;
  if (!entries.length && !acting) return null;
  const choose = (value) => onChange(entries.find((d) => d.resident === value) || null);
  return html`<div class="acting-for">
    <label for="acting-for">${t("acting.label")}</label>
    <select id="acting-for" value=${acting ? acting.resident : ""} onChange=${(e) => choose(e.currentTarget.value)}>
      <option value="">${t("acting.self")}</option>
      ${entries.map((d) => html`<option value=${d.resident}>${t(d.guardian ? "acting.option_guardian" : "acting.option", { resident: d.resident })}</option>`)}
    </select>
    ${acting &&
    html`<p id="acting-banner" class="acting-banner" role="status">
      <span aria-hidden="true">✍ </span>
      ${t("acting.banner", { resident: acting.resident, powers: powerWords(t, acting.powers) })}
    </p>`}
  </div>`;
}
