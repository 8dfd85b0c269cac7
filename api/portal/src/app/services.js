// "Services" (办事): a life event several departments serve, granted in one act. The
// resident picks a service, sees every item in words (department, fields, purpose, the
// longest window and the uses cap), may narrow each item (untick fields, fewer days,
// fewer uses; never wider) and signs one GrantBundle (bundle.js). A refusal of one item
// is the API's sentence for that item's own error, naming the item.
import { useEffect, useRef, useState } from "preact/hooks";

import { ApiError, call } from "./api.js";
import { grantBundle } from "./bundle.js";
import { ErrorText, Progress, describeError, fieldLabel, html, purposeLabel } from "./ui.js";

const DAY = 86400;

/** A number of days as typed, in seconds (fractions allowed: a service item may allow
 * less than a day); NaN when it is not a positive number. */
const secondsOf = (days) => (/^\s*\d+(\.\d+)?\s*$/.test(days) ? Math.round(Number(days) * DAY) : NaN);
const daysOf = (seconds) => String(Math.round((seconds / DAY) * 100) / 100);

/** A ref whose element takes the focus when it first renders: when a button replaces
 * its part of the screen (a service picked, a bundle granted), a keyboard or screen-reader
 * user lands on what replaced it instead of the page's start. */
function useFocusOnMount() {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) {
      ref.current.setAttribute("tabindex", "-1");
      ref.current.focus();
    }
  }, []);
  return ref;
}

/** Each item as the service allows it at most: the starting choice. */
const fullChoice = (service) =>
  service.items.map((item) => ({ fields: [...item.fields], days: daysOf(item.duration), uses: String(item.max_uses) }));

function usesCap(t, item) {
  return item.max_uses ? t("services.uses_at_most", { uses: String(item.max_uses) }) : t("services.uses_no_cap");
}

/** The sentence for a refusal; one of a bundle item names that item. */
export function refusalText(t, e, service) {
  const text = describeError(t, e);
  const index = e instanceof ApiError ? e.problem?.bundle_item : undefined;
  const item = Number.isInteger(index) ? service.items[index] : undefined;
  if (!item) return text;
  return t("services.item_refused", {
    item: String(index + 1),
    department: item.department_name || item.department,
    reason: text,
  });
}

function ItemChoice({ t, item, index, choice, onChange }) {
  const id = `service-item-${index}`;
  const department = item.department_name || item.department;
  const toggle = (name, on) =>
    onChange({ ...choice, fields: on ? [...choice.fields, name] : choice.fields.filter((f) => f !== name) });
  return html`<li class="request service-item" id=${id} aria-labelledby=${`${id}-h`}>
    <h3 id=${`${id}-h`}>${t("services.item", { item: String(index + 1), department })}</h3>
    <dl>
      <dt>${t("requests.purpose")}</dt>
      <dd>${purposeLabel(t, item.purpose)}</dd>
      <dt>${t("services.longest")}</dt>
      <dd>${t("requests.days", { days: daysOf(item.duration) })}</dd>
      <dt>${t("services.cap")}</dt>
      <dd>${usesCap(t, item)}</dd>
    </dl>
    <fieldset>
      <legend>${t("services.fields", { department })}</legend>
      ${item.fields.map(
        (name) => html`<div class="check">
          <input
            type="checkbox"
            id=${`${id}-${name}`}
            checked=${choice.fields.includes(name)}
            onChange=${(e) => toggle(name, e.currentTarget.checked)}
          />
          <label for=${`${id}-${name}`}>${fieldLabel(t, name)}</label>
        </div>`,
      )}
    </fieldset>
    <div class="filter">
      <label for=${`${id}-days`}>${t("services.days", { department })}</label>
      <input
        id=${`${id}-days`}
        type="number"
        inputmode="decimal"
        min="0.01"
        step="any"
        max=${daysOf(item.duration)}
        value=${choice.days}
        onInput=${(e) => onChange({ ...choice, days: e.currentTarget.value })}
      />
    </div>
    <div class="filter">
      <label for=${`${id}-uses`}>${t(item.max_uses ? "services.uses" : "services.uses_unlimited", { department })}</label>
      <input
        id=${`${id}-uses`}
        type="number"
        inputmode="numeric"
        min=${item.max_uses ? "1" : "0"}
        max=${item.max_uses ? String(item.max_uses) : undefined}
        step="1"
        value=${choice.uses}
        onInput=${(e) => onChange({ ...choice, uses: e.currentTarget.value })}
      />
    </div>
  </li>`;
}

function Granted({ t, service, result }) {
  const { granted, bundle } = result;
  const said = useFocusOnMount();
  return html`<div id="services-granted">
    <p id="services-said" role="status" ref=${said}>
      ${t("services.granted", { bundle: String(granted.bundle_id), service: service.name, count: String(granted.consent_ids.length) })}
    </p>
    <ul>
      ${bundle.consents.map(
        (c) => html`<li>
          ${t("services.granted_item", {
            consent: String(c.consent_id),
            department: c.department_name || c.department,
            fields: c.fields.map((n) => fieldLabel(t, n)).join(", "),
          })}
        </li>`,
      )}
    </ul>
    <p>${t("services.next")}</p>
  </div>`;
}

function ServiceForm({ t, session, service, onBack }) {
  const [choice, setChoice] = useState(() => fullChoice(service));
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const [result, setResult] = useState(null);
  const heading = useFocusOnMount();

  async function grant() {
    setError("");
    const chosen = choice.map((c) => ({ fields: c.fields, duration: secondsOf(c.days), maxUses: Number(c.uses) }));
    const label = t("services.granting");
    try {
      setBusy({ label, value: 0 });
      setResult(await grantBundle(session, service, chosen, (v) => setBusy({ label, value: v })));
    } catch (e) {
      setError(refusalText(t, e, service));
    } finally {
      setBusy(null);
    }
  }

  if (result) return html`<${Granted} t=${t} service=${service} result=${result} />`;
  return html`<section aria-labelledby="service-heading" id="service-form">
    <h3 id="service-heading" ref=${heading}>${service.name}</h3>
    <p class="hint">${t("services.narrow_hint", { count: String(service.items.length) })}</p>
    <ul class="requests">
      ${service.items.map(
        (item, i) => html`<${ItemChoice}
          key=${i}
          t=${t}
          item=${item}
          index=${i}
          choice=${choice[i]}
          onChange=${(next) => setChoice(choice.map((c, j) => (j === i ? next : c)))}
        />`,
      )}
    </ul>
    <${ErrorText} id="services-error" text=${error} />
    ${busy && html`<${Progress} ...${busy} />`}
    <div class="actions">
      <button type="button" id="services-grant" disabled=${!!busy} onClick=${grant}>${t("services.grant")}</button>
      <button type="button" class="secondary" disabled=${!!busy} onClick=${onBack}>${t("services.back")}</button>
    </div>
  </section>`;
}

export function Services({ t, session }) {
  const [services, setServices] = useState(null);
  const [picked, setPicked] = useState(null);
  const [error, setError] = useState("");
  const heading = useRef(null);
  const returned = useRef(false);

  useEffect(() => {
    // Back from a service: the focus returns to the screen's heading, above the list.
    if (picked === null && returned.current && heading.current) {
      heading.current.setAttribute("tabindex", "-1");
      heading.current.focus();
    }
    returned.current = picked !== null;
  }, [picked]);

  useEffect(() => {
    call("GET", "/services")
      .then((answer) => setServices(answer.services))
      .catch((e) => setError(describeError(t, e)));
  }, []);

  const service = services && services.find((s) => s.service === picked);
  return html`<section aria-labelledby="services-heading" class="card">
    <h2 id="services-heading" ref=${heading}>${t("services.heading")}</h2>
    <p class="hint">${t("services.hint")}</p>
    <${ErrorText} text=${error} />
    ${service
      ? html`<${ServiceForm} key=${service.service} t=${t} session=${session} service=${service} onBack=${() => setPicked(null)} />`
      : services &&
        (services.length
          ? html`<ul class="requests" id="services-list">
              ${services.map(
                (s) => html`<li class="request" aria-labelledby=${`service-${s.service}`}>
                  <h3 id=${`service-${s.service}`}>${s.name}</h3>
                  <p>${[...new Set(s.items.map((i) => i.department_name || i.department))].join(", ")}</p>
                  <button type="button" onClick=${() => setPicked(s.service)}>${t("services.choose", { service: s.name })}</button>
                </li>`,
              )}
            </ul>`
          : html`<p id="services-empty">${t("services.empty")}</p>`)}
  </section>`;
}
