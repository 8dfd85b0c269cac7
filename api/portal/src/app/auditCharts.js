// "Charts": served accesses per department per day (stacked bars) and refusals by reason,
// counted in the browser from every event under the current filters. chart.js draws on
// a canvas, imported piece by piece; each chart has a data table beside it, the text a
// screen reader (or anyone) reads instead of the picture.
import { useEffect, useRef, useState } from "preact/hooks";
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

import { FilterForm, filterProblem, keepFilters, keptFilters } from "./auditFilters.js";
import { useDepartments } from "./auditEvents.js";
import { accessesPerDepartmentDay, refusalsByReason } from "./auditCounts.js";
import { Busy, allEvents, departmentNames, reasonLabel } from "./auditUi.js";
import { ErrorText, describeError, html } from "./ui.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** Colour-blind-safe (Okabe-Ito), dark enough on white. */
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933"];

function BarChart({ id, config, summary }) {
  const canvas = useRef(null);
  // Drawn again only when what it shows changes (the config is rebuilt on each render).
  const spec = JSON.stringify(config);
  useEffect(() => {
    const chart = new Chart(canvas.current, JSON.parse(spec));
    return () => chart.destroy();
  }, [spec]);
  return html`<div class="chart-box">
    <canvas id=${id} ref=${canvas} role="img" aria-label=${summary}></canvas>
  </div>`;
}

const OPTIONS = {
  responsive: true,
  maintainAspectRatio: false,
  animation: false,
  plugins: { legend: { position: "bottom" } },
};

function AccessesChart({ t, data }) {
  const config = {
    type: "bar",
    data: {
      labels: data.days,
      datasets: data.departments.map((d, i) => ({
        label: d,
        data: data.days.map((day) => data.counts[d][day] || 0),
        backgroundColor: COLOURS[i % COLOURS.length],
      })),
    },
    options: {
      ...OPTIONS,
      scales: {
        x: { stacked: true, title: { display: true, text: t("audit.charts.day") } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t("audit.charts.accesses") } },
      },
    },
  };
  const total = data.departments.reduce((n, d) => n + Object.values(data.counts[d]).reduce((a, b) => a + b, 0), 0);
  const summary = t("audit.charts.accesses_summary", {
    total: String(total),
    departments: String(data.departments.length),
    days: String(data.days.length),
  });
  return html`<${BarChart} id="chart-accesses" config=${config} summary=${summary} />
    <div class="table-scroll" role="region" aria-labelledby="accesses-caption" tabindex="0">
      <table id="accesses-table">
        <caption id="accesses-caption">${t("audit.charts.accesses_table")}</caption>
        <thead>
          <tr>
            <th scope="col">${t("audit.charts.day")}</th>
            ${data.departments.map((d) => html`<th scope="col">${d}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${data.days.map(
            (day) => html`<tr>
              <th scope="row">${day}</th>
              ${data.departments.map((d) => html`<td data-department=${d} data-day=${day}>${data.counts[d][day] || 0}</td>`)}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
}

function RefusalsChart({ t, rows }) {
  const config = {
    type: "bar",
    data: {
      labels: rows.map(([r]) => reasonLabel(t, r)),
      datasets: [{ label: t("audit.charts.refusals"), data: rows.map(([, n]) => n), backgroundColor: COLOURS[1] }],
    },
    options: {
      ...OPTIONS,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t("audit.charts.refusals") } } },
    },
  };
  const summary = t("audit.charts.refusals_summary", {
    total: String(rows.reduce((n, [, c]) => n + c, 0)),
    reasons: String(rows.length),
  });
  return html`<${BarChart} id="chart-refusals" config=${config} summary=${summary} />
    <div class="table-scroll" role="region" aria-labelledby="refusals-caption" tabindex="0">
      <table id="refusals-table">
        <caption id="refusals-caption">${t("audit.charts.refusals_table")}</caption>
        <thead>
          <tr>
            <th scope="col">${t("audit.col.reason")}</th>
            <th scope="col">${t("audit.charts.count")}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            ([r, n]) => html`<tr data-reason=${r}>
              <th scope="row">${reasonLabel(t, r)}</th>
              <td>${n}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
}

export function AuditCharts({ t, session }) {
  const [filters, setFilters] = useState(keptFilters);
  const [events, setEvents] = useState(null);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState("");
  const departments = useDepartments(t, session, setError);

  useEffect(() => {
    const problem = filterProblem(filters);
    if (problem) return setError(t(problem));
    let live = true;
    setError("");
    setEvents(null);
    const label = t("audit.charts.loading");
    setBusy({ label, detail: "" });
    allEvents(filters, session.token.access_token, (n) =>
      live && setBusy({ label, detail: t("audit.charts.loaded", { count: String(n) }) }),
    )
      .then((all) => live && setEvents(all))
      .catch((e) => live && setError(describeError(t, e)))
      .finally(() => live && setBusy(null));
    return () => {
      live = false;
    };
  }, [filters]);

  function apply(next) {
    keepFilters(next);
    setFilters(next);
  }

  const ready = events && departments;
  const names = departmentNames(departments);
  const accesses = ready && accessesPerDepartmentDay(events, names);
  const refusals = ready && refusalsByReason(events);
  return html`<section aria-labelledby="audit-charts-heading" class="card">
    <h2 id="audit-charts-heading">${t("audit.charts.heading")}</h2>
    <${FilterForm} key=${JSON.stringify(filters)} t=${t} departments=${departments} filters=${filters} onApply=${apply} paged=${false} />
    <${ErrorText} id="charts-error" text=${error} />
    ${busy && html`<${Busy} ...${busy} />`}
    ${ready &&
    html`<p id="charts-counted" class="hint">${t("audit.charts.counted", { count: String(events.length) })}</p>
      <section aria-labelledby="accesses-heading">
        <h3 id="accesses-heading">${t("audit.charts.accesses_heading")}</h3>
        ${accesses.days.length
          ? html`<${AccessesChart} t=${t} data=${accesses} />`
          : html`<p id="accesses-empty">${t("audit.charts.no_accesses")}</p>`}
      </section>
      <section aria-labelledby="refusals-heading">
        <h3 id="refusals-heading">${t("audit.charts.refusals_heading")}</h3>
        ${refusals.length
          ? html`<${RefusalsChart} t=${t} rows=${refusals} />`
          : html`<p id="refusals-empty">${t("audit.charts.no_refusals")}</p>`}
      </section>`}
  </section>`;
}
