// What the auditor's charts count, apart from the drawing (no DOM, no chart.js), so the
// counting runs and is checked on its own: served accesses per department per UTC day,
// and refusals per reason.
import { departmentName, eventReason, utcDay } from "./auditUi.js";

/** `{days, departments, counts: {department: {day: n}}}` of the AccessLogged events. */
export function accessesPerDepartmentDay(events, names) {
  const counts = {};
  const days = new Set();
  for (const e of events) {
    if (e.type !== "AccessLogged") continue;
    const day = utcDay(e.block_timestamp);
    const who = departmentName(names, e.department);
    days.add(day);
    counts[who] = counts[who] || {};
    counts[who][day] = (counts[who][day] || 0) + 1;
  }
  return { days: [...days].sort(), departments: Object.keys(counts).sort(), counts };
}

/** `[[reason, n]]` of the AccessDenied events, most first. */
export function refusalsByReason(events) {
  const counts = {};
  for (const e of events) {
    if (e.type !== "AccessDenied") continue;
    const reason = eventReason(e);
    counts[reason] = (counts[reason] || 0) + 1;
  }
  return Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
