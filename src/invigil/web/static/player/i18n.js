// The player's strings in the candidate's language.
//
// Mark every string a candidate reads with t("..."): `make translations`
// extracts the calls (Babel's JavaScript extractor, keyword `t`) into the
// same catalogs as the pages. The server puts the translations of the
// player's strings for the candidate's language into the page's boot data
// (`boot.messages`, a JSON object msgid -> translation); a string without
// a translation is shown as written. Placeholders are Python-style
// (`t("%(n)s left", { n: 3 })`) so the catalog check compares them.
//
// Counts use tn(singular, plural, n, values): `n` is also the placeholder
// `%(n)s`. A plural entry comes in the boot data as an object of CLDR plural
// categories ("one", "other", ...) and the browser's Intl.PluralRules for
// the page's language picks the form.

let messages = null;
let numbering;

function catalogue() {
  if (messages === null) {
    try {
      const boot = JSON.parse(document.getElementById("boot")?.textContent || "{}");
      messages = boot && typeof boot.messages === "object" && boot.messages ? boot.messages : {};
      numbering = boot && typeof boot.numbering === "string" ? boot.numbering : undefined;
    } catch {
      messages = {};
    }
  }
  return messages;
}

function fillIn(text, values) {
  return String(text).replace(/%\((\w+)\)s|%%/g, (match, name) => {
    if (match === "%%") return "%";
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
  });
}

function language() {
  return document.documentElement.lang || "en";
}

/** A number written the candidate's way (2.5 in English, 2,5 in German), with
 * the digits the server writes (`boot.numbering`: Latin digits in Arabic, where
 * a browser's own default may be Arabic-Indic). */
export function number(value) {
  catalogue();
  try {
    return new Intl.NumberFormat(language(), numbering ? { numberingSystem: numbering } : {}).format(value);
  } catch {
    return String(value);
  }
}

/** A percentage written the candidate's way (25% in English, 25 % in German); `value` is 25 for 25%. */
export function percent(value) {
  try {
    return new Intl.NumberFormat(language(), { style: "percent", maximumFractionDigits: 2 }).format(value / 100);
  } catch {
    return `${value}%`;
  }
}

/** The form of a counted message for `n` in the candidate's language. */
export function tn(singular, plural, n, values = {}) {
  const all = { n, ...values };
  const entry = Object.prototype.hasOwnProperty.call(catalogue(), singular) ? catalogue()[singular] : null;
  if (entry && typeof entry === "object") {
    let category = "other";
    try {
      category = new Intl.PluralRules(language()).select(n);
    } catch {
      category = n === 1 ? "one" : "other";
    }
    const form = entry[category] ?? entry.other;
    if (typeof form === "string" && form) return fillIn(form, all);
  }
  return fillIn(n === 1 ? singular : plural, all);
}

/**
 * A sentence the server wrote (a built-in policy's warning, marked N_() on
 * the server and sent in the boot data with the player's strings) in the
 * candidate's language; anything the catalog does not know (an author's own
 * wording) as written, untouched.
 */
export function said(message) {
  const found = Object.prototype.hasOwnProperty.call(catalogue(), message) ? catalogue()[message] : null;
  return typeof found === "string" && found ? found : message;
}

/** The translation of `message`, with `%(name)s` replaced from `values`. */
export function t(message, values = {}) {
  const found = Object.prototype.hasOwnProperty.call(catalogue(), message) ? catalogue()[message] : message;
  return fillIn(typeof found === "string" ? found : message, values);
}
