// Departments by name: notifications carry addresses, people read names (GET
// /departments, every page), as the access log names them.
import { allPages } from "./pages.js";

/** `{lower-case address: name}` of every registered department. */
export async function departmentNames(token) {
  const departments = await allPages("/departments", token);
  return Object.fromEntries(departments.map((d) => [d.address.toLowerCase(), d.name]));
}

/** The name of `address` in `names`, else the address itself ("—" for none). */
export function departmentName(names, address) {
  if (!address) return "—";
  return names[address.toLowerCase()] || address;
}
