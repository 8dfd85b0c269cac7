// The auditor's screens: the log (filtered, paged, exported), charts of it, the
// chain-backed verification, the emergency review queue and the anomalies (the data cage).
import { AuditAnomalies } from "./auditAnomalies.js";
import { AuditEmergency } from "./auditEmergency.js";
import { AuditEvents } from "./auditEvents.js";
import { AuditVerify } from "./auditVerify.js";
import { lazyScreen } from "./lazy.js";

// chart.js comes with the charts screen only (a chunk of its own: build.mjs splits).
const AuditCharts = lazyScreen(() => import("./auditCharts.js").then((m) => m.AuditCharts));

export const AUDITOR_SCREENS = [
  { id: "audit-events", role: "auditor", Screen: AuditEvents },
  { id: "audit-charts", role: "auditor", Screen: AuditCharts },
  { id: "audit-verify", role: "auditor", Screen: AuditVerify },
  { id: "audit-emergency", role: "auditor", Screen: AuditEmergency },
  { id: "audit-anomalies", role: "auditor", Screen: AuditAnomalies },
];
