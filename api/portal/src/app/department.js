// The department clerk's screens: ask a resident for fields (as `consent request`), follow
// and withdraw what it asked, and
// read what residents granted (as `consent query`), decrypted and checked in the browser;
// a department holding the emergency role also breaks the glass on a resident's emergency
// directive (as `consent emergency access`).
import { DeptConsents } from "./deptConsents.js";
import { DeptEmergency } from "./deptEmergency.js";
import { FileRequest } from "./deptRequest.js";
import { DeptRequests } from "./deptRequests.js";

export const DEPARTMENT_SCREENS = [
  { id: "dept-request", role: "department", Screen: FileRequest },
  { id: "dept-requests", role: "department", Screen: DeptRequests },
  { id: "dept-consents", role: "department", Screen: DeptConsents },
  { id: "dept-emergency", role: "emergency", encryption: true, Screen: DeptEmergency },
];
