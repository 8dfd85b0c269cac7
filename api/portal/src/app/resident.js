// The resident's screens. Those marked `delegate` also serve a delegate acting for a
// resident (main.js, actingFor.js): they are about `principal(session)`, never assume
// the signed-in wallet is the resident.
import { AccessLog } from "./accessLog.js";
import { Delegates } from "./delegates.js";
import { EmergencyDirective } from "./directive.js";
import { MyConsents } from "./consents.js";
import { MyRecord } from "./record.js";
import { RequestsWaiting } from "./requests.js";
import { Services } from "./services.js";

export const RESIDENT_SCREENS = [
  { id: "record", role: "resident", encryption: true, delegate: true, Screen: MyRecord },
  { id: "requests", role: "resident", encryption: true, delegate: true, Screen: RequestsWaiting },
  { id: "services", role: "resident", encryption: true, Screen: Services },
  { id: "consents", role: "resident", encryption: true, delegate: true, Screen: MyConsents },
  { id: "log", role: "resident", delegate: true, Screen: AccessLog },
  { id: "delegates", role: "resident", encryption: true, Screen: Delegates },
  { id: "directive", role: "resident", encryption: true, Screen: EmergencyDirective },
];
