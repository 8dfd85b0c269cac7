// Every string the portal shows, from src/i18n/<lang>/<area>.json (one file per actor's
// screens, so each area adds its strings without touching another's); zh-CN first, the
// choice remembered. tests/portal/test_i18n.py holds the files to the same keys.
import zhShell from "../i18n/zh-CN/shell.json";
import zhSchema from "../i18n/zh-CN/schema.json";
import zhResident from "../i18n/zh-CN/resident.json";
import zhDepartment from "../i18n/zh-CN/department.json";
import zhAuditor from "../i18n/zh-CN/auditor.json";
import zhNotifications from "../i18n/zh-CN/notifications.json";
import zhCare from "../i18n/zh-CN/care.json";
import enShell from "../i18n/en/shell.json";
import enSchema from "../i18n/en/schema.json";
import enResident from "../i18n/en/resident.json";
import enDepartment from "../i18n/en/department.json";
import enAuditor from "../i18n/en/auditor.json";
import enNotifications from "../i18n/en/notifications.json";
import enCare from "../i18n/en/care.json";

export const LANGUAGES = {
  "zh-CN": { ...zhShell, ...zhSchema, ...zhResident, ...zhDepartment, ...zhAuditor, ...zhNotifications, ...zhCare },
  en: { ...enShell, ...enSchema, ...enResident, ...enDepartment, ...enAuditor, ...enNotifications, ...enCare },
};
const STORAGE_KEY = "portal.lang";

export function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && saved in LANGUAGES) return saved;
  } catch {
    // storage refused (private mode): the default stands
  }
  return "zh-CN";
}

export function rememberLanguage(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered, still switched
  }
  document.documentElement.lang = lang;
  document.title = LANGUAGES[lang]["app.title"];
}

/** A translator for `lang`: t("key", {name: value}) fills {name} placeholders; `t.lang`
 * says which language, for tables of their own (the problems', src/app/problems.js). */
export function translator(lang) {
  const table = LANGUAGES[lang];
  const t = (key, values = {}) => {
    const text = table[key] ?? LANGUAGES["zh-CN"][key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
  };
  t.lang = lang;
  return t;
}
