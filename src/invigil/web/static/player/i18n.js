// The player's strings in the candidate's language.
//
// Mark every string a candidate reads with t("..."): `make translations`
// extracts the calls (Babel's JavaScript extractor, keyword `t`) into the
// same catalogs as the pages. The server puts the translations of the
// player's strings for the candidate's language into the page's boot data
// (`boot.messages`, a JSON object msgid -> translation); a string without
// a translation is shown as written. Placeholders are Python-style
// (`t("%(n)s left", { n: 3 })`) so the catalog check compares them.

let messages = null;

function catalogue() {
  if (messages === null) {
    try {
      const boot = JSON.parse(document.getElementById("boot")?.textContent || "{}");
      messages = boot && typeof boot.messages === "object" && boot.messages ? boot.messages : {};
    } catch {
      messages = {};
    }
  }
  return messages;
}

/** The translation of `message`, with `%(name)s` replaced from `values`. */
export function t(message, values = {}) {
  const found = Object.prototype.hasOwnProperty.call(catalogue(), message) ? catalogue()[message] : message;
  return String(found).replace(/%\((\w+)\)s|%%/g, (match, name) => {
    if (match === "%%") return "%";
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
  });
}
