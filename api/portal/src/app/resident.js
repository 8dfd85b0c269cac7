// The resident's screens.
import { AccessLog } from "./accessLog.js";
import { Delegates } from "./delegates.js";
import { EmergencyDirective } from "./directive.js";
import { MyConsents } from "./consents.js";
import { MyRecord } from "./record.js";
import { RequestsWaiting } from "./requests.js";
import { Services } from "./services.js";

export const RESIDENT_SCREENS = [
  { id: "record", role: "resident", encryption: true, Screen: MyRecord },
  { id: "requests", role: "resident", encryption: true, Screen: RequestsWaiting },
  { id: "services", role: "resident", encryption: true, Screen: Services },
  { id: "consents", role: "resident", encryption: true, Screen: MyConsents },
  { id: "log", role: "resident", Screen: AccessLog },
  { id: "delegates", role: "resident", encryption: true, Screen: Delegates },
  { id: "directive", role: "resident", encryption: true, Screen: EmergencyDirective },
];
