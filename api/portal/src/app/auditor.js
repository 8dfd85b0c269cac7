// The auditor's screens: the log (filtered, paged, exported), charts of it, and the
// chain-backed verification. The emergency review queue waits for issue 15.
import { AuditEvents } from "./auditEvents.js";
import { AuditVerify } from "./auditVerify.js";
import { lazyScreen } from "./lazy.js";

// chart.js comes with the charts screen only (a chunk of its own: build.mjs splits).
const AuditCharts = lazyScreen(() => import("./auditCharts.js").then((m) => m.AuditCharts));

export const AUDITOR_SCREENS = [
  { id: "audit-events", role: "auditor", Screen: AuditEvents },
  { id: "audit-charts", role: "auditor", Screen: AuditCharts },
  { id: "audit-verify", role: "auditor", Screen: AuditVerify },
];
