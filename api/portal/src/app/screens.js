// Every screen of the portal, one list per actor (each actor's module owns its own);
// main.js shows the ones the session's roles allow.
import { RESIDENT_SCREENS } from "./resident.js";
import { DEPARTMENT_SCREENS } from "./department.js";
import { AUDITOR_SCREENS } from "./auditor.js";
import { NOTIFICATION_SCREENS } from "./notifications.js";

/** `{id, role | roles, encryption?, Screen, Badge?}`: `nav.<id>` names it; `encryption`
 * screens need the resident's encryption key file opened too. Notifications come last:
 * the first screen is where a session starts, and opening the list marks it read. */
export const SCREENS = [
  ...RESIDENT_SCREENS,
  ...DEPARTMENT_SCREENS,
  ...AUDITOR_SCREENS,
  ...NOTIFICATION_SCREENS,
];
