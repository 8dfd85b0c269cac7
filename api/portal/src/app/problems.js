// The API's refusals (problem+json) as sentences, from the same message table the CLI
// uses (api/locale/<lang>.json, rendered in Python by api/messages.py): one home for
// every sentence, so the portal and the CLI say the same thing, in Chinese too. This is
// that renderer written again: the same lookup (error, then reason, then status, a
// template missing an argument skipped) and the same kinds of placeholder.
import { id as keccakText } from "ethers";

import { bytes32Label } from "../crypto/codec.js";
import en from "../../../locale/en.json" with { type: "json" };
import zhCN from "../../../locale/zh-CN.json" with { type: "json" };

export const CATALOGUES = { en, "zh-CN": zhCN };
const PLACEHOLDER = /\{(\w+)(?::(\w+))?\}/g;

/** The few words a kind adds around its value, per language, as api/messages.py WORDS. */
const WORDS = {
  en: { department: "the department {address}", second: "{n} second", seconds: "{n} seconds" },
  "zh-CN": { department: "部门 {address}", second: "{n} 秒", seconds: "{n} 秒" },
};
const said = (words, key, values) => words[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));

/** Role ids as OpenZeppelin makes them (ledger.vocabulary.role_id): admin is zero. */
const ROLE_NAMES = ["admin", "registrar", "department", "issuer", "auditor", "relayer", "emergency"];
const ROLE_BY_ID = Object.fromEntries(
  ROLE_NAMES.map((name) => [name === "admin" ? "0x" + "00".repeat(32) : keccakText(`${name.toUpperCase()}_ROLE`), name]),
);

export function shortAddress(address) {
  const text = String(address);
  return text.length <= 14 ? text : `${text.slice(0, 6)}…${text.slice(-4)}`;
}

/** Unix seconds as `2026-01-31 12:00 UTC`; anything else as it is. */
export function date(timestamp) {
  const text = String(timestamp);
  if (!/^-?\d+$/.test(text)) return text;
  const moment = new Date(Number(text) * 1000);
  if (Number.isNaN(moment.getTime()) || moment.getUTCFullYear() > 9999 || moment.getUTCFullYear() < 1)
    return text;
  const two = (n) => String(n).padStart(2, "0");
  const day = `${moment.getUTCFullYear()}-${two(moment.getUTCMonth() + 1)}-${two(moment.getUTCDate())}`;
  return `${day} ${two(moment.getUTCHours())}:${two(moment.getUTCMinutes())} UTC`;
}

function idLabel(value) {
  const text = String(value);
  if (text.length === 66 && text.startsWith("0x")) {
    try {
      return bytes32Label(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** An address with its directory name when known (`names`: address → name, any case). */
function account(address, names, words, department) {
  const key = String(address).toLowerCase();
  for (const [known, name] of Object.entries(names || {}))
    if (known.toLowerCase() === key) return `${name} (${shortAddress(address)})`;
  return department ? said(words, "department", { address: shortAddress(address) }) : shortAddress(address);
}

function formatValue(kind, value, names, words) {
  if (kind === "time") return date(value);
  if (kind === "department" || kind === "account") return account(value, names, words, kind === "department");
  if (kind === "field" || kind === "purpose") return `\`${idLabel(value)}\``;
  if (kind === "fields") return (Array.isArray(value) ? value : [value]).map((v) => `\`${idLabel(v)}\``).join(", ");
  if (kind === "role") return ROLE_BY_ID[String(value).toLowerCase()] ?? idLabel(value);
  if (kind === "seconds") {
    const n = BigInt(value);
    return said(words, n === 1n ? "second" : "seconds", { n });
  }
  return String(value);
}

/** `template` filled from `values`; null if one of its arguments is missing. */
export function render(template, values, { names = {}, language = "en" } = {}) {
  const words = WORDS[language] ?? WORDS.en;
  let missing = false;
  const text = template.replace(PLACEHOLDER, (_, key, kind) => {
    if (values[key] === undefined || values[key] === null) {
      missing = true;
      return "";
    }
    return formatValue(kind, values[key], names, words);
  });
  return missing ? null : text;
}

/** The table's sentence for a problem document, or null when none of its templates fits.
 * `context` adds values the caller knows; the document's `arguments` come first. */
export function sentence(problem, { status, names, context, language = "en" } = {}) {
  const table = CATALOGUES[language] ?? CATALOGUES.en;
  const document = problem ?? {};
  const args = document.arguments;
  const values = { ...(context || {}), ...(args && typeof args === "object" && !Array.isArray(args) ? args : {}) };
  for (const key of ["detail", "retry_after", "reason"])
    if (document[key] !== undefined && document[key] !== null && values[key] === undefined) values[key] = document[key];
  const code = status ?? document.status;
  const candidates = [
    table.errors[String(document.error || "")],
    table.reasons[String(document.reason || "")],
    table.statuses[String(code)],
  ];
  for (const template of candidates) {
    if (!template) continue;
    const text = render(template, values, { names, language });
    if (text !== null) return text;
  }
  return null;
}

/** One sentence for a problem document, as api/messages.py explain: the problem's own
 * detail is the last resort, so a sentence is never worse than the raw answer. */
export function explain(problem, options = {}) {
  const text = sentence(problem, options);
  if (text !== null) return text;
  const document = problem ?? {};
  return String(document.detail || document.title || `HTTP ${options.status ?? document.status}`);
}
