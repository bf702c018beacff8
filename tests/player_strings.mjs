// Finds words in the player's JavaScript that reach the page without t()/tn().
//
// Usage: node tests/player_strings.mjs FILE...   (prints a JSON list of findings)
//        node tests/player_strings.mjs --marked FILE...   (the strings given to t()/tn())
//
// Each file is parsed with acorn (a real ECMAScript parser, so comments,
// regular expressions and template literals are told apart) and every place
// where text reaches the DOM is looked at: assignments to textContent,
// innerText, title, placeholder...; setAttribute of an accessible name or a
// tooltip; alert/confirm/prompt; append/prepend/replaceChildren/createTextNode;
// dom.js's h() (its text attributes and its children), fill() and say(); and
// the player's own helpers that put their text on the page (HELPERS). A
// string literal or template literal with a letter in it that gets there
// without passing through t() or tn() is a finding.

import { readFileSync } from "node:fs";
import { parse } from "acorn";
import { simple } from "acorn-walk";

const TEXT_PROPERTIES = new Set([
  "textContent", "innerText", "innerHTML", "outerHTML", "title", "placeholder", "alt",
  "ariaLabel", "ariaDescription", "ariaRoleDescription", "ariaValueText", "label",
]);
const TEXT_ATTRIBUTES = new Set([
  "aria-label", "aria-description", "aria-roledescription", "aria-valuetext",
  "title", "placeholder", "alt", "label",
]);
const ALL = (args) => args;
const FROM = (n) => (args) => args.slice(n);
const LAST = (args) => args.slice(-1);
// Functions (or methods, by name) whose arguments become text on the page.
const HELPERS = new Map([
  ["alert", ALL], ["confirm", ALL], ["prompt", FROM(0)],
  ["append", ALL], ["prepend", ALL], ["replaceChildren", ALL], ["after", ALL], ["before", ALL],
  ["createTextNode", ALL], ["insertAdjacentText", FROM(1)],
  ["h", FROM(2)], ["fill", FROM(1)], ["say", LAST],
  // player.js message(title, ...paragraphs); dialog.submitting(title)
  ["message", ALL], ["submitting", ALL],
  // exam.notice(text), proctor.notice(key, text, ttl, action), face.fail(reason, text, details)
  ["notice", (args) => (args.length > 1 ? [args[1]] : args)],
  ["fail", (args) => args.slice(1, 2)],
]);
const MARKERS = new Set(["t", "tn"]);
const LETTER = /\p{L}/u;

function calleeName(node) {
  if (node.type === "Identifier") return node.name;
  if (node.type === "MemberExpression" && !node.computed) return node.property.name;
  return null;
}

function literalText(node) {
  if (node.type === "Literal" && typeof node.value === "string") return node.value;
  return null;
}

// Every unmarked piece of text in an expression that ends up as the value shown.
function unmarked(node, found) {
  if (!node) return;
  switch (node.type) {
    case "Literal":
      if (typeof node.value === "string" && LETTER.test(node.value)) found.push(node);
      return;
    case "TemplateLiteral":
      if (node.quasis.some((q) => LETTER.test(q.value.cooked || ""))) found.push(node);
      for (const e of node.expressions) unmarked(e, found);
      return;
    case "CallExpression":
      return; // t()/tn() mark it; any other call is looked at where it writes to the page
    case "ConditionalExpression":
      unmarked(node.consequent, found);
      unmarked(node.alternate, found);
      return;
    case "LogicalExpression":
      unmarked(node.left, found);
      unmarked(node.right, found);
      return;
    case "BinaryExpression":
      if (node.operator === "+") {
        unmarked(node.left, found);
        unmarked(node.right, found);
      }
      return;
    case "ArrayExpression":
      for (const e of node.elements) unmarked(e, found);
      return;
    case "SpreadElement":
      unmarked(node.argument, found);
      return;
    case "SequenceExpression":
      unmarked(node.expressions[node.expressions.length - 1], found);
      return;
    default:
      return; // a name, a member, a number: not a literal here
  }
}

function attributeObject(node, found) {
  if (!node || node.type !== "ObjectExpression") return;
  for (const p of node.properties) {
    if (p.type !== "Property" || p.computed) continue;
    const key = p.key.type === "Identifier" ? p.key.name : literalText(p.key);
    if (key && TEXT_ATTRIBUTES.has(key)) unmarked(p.value, found);
  }
}

export function scan(source, file) {
  const ast = parse(source, { ecmaVersion: "latest", sourceType: "module", locations: true });
  const found = [];
  simple(ast, {
    AssignmentExpression(node) {
      const left = node.left;
      if (left.type === "MemberExpression" && !left.computed && TEXT_PROPERTIES.has(left.property.name)) {
        unmarked(node.right, found);
      }
    },
    CallExpression(node) {
      const name = calleeName(node.callee);
      if (!name || MARKERS.has(name)) return;
      if (name === "setAttribute" && node.arguments.length === 2) {
        const attribute = literalText(node.arguments[0]);
        if (attribute && TEXT_ATTRIBUTES.has(attribute)) unmarked(node.arguments[1], found);
        return;
      }
      if (name === "h") attributeObject(node.arguments[1], found);
      const pick = HELPERS.get(name);
      if (pick) for (const arg of pick(node.arguments)) unmarked(arg, found);
    },
  });
  return found.map((node) => ({
    file,
    line: node.loc.start.line,
    column: node.loc.start.column + 1,
    text: source.slice(node.start, node.end),
  }));
}

// A string literal, or literals joined with + (as Babel's extractor reads them).
function joined(node) {
  if (node && node.type === "BinaryExpression" && node.operator === "+") {
    const left = joined(node.left);
    const right = joined(node.right);
    return left === null || right === null ? null : left + right;
  }
  return node ? literalText(node) : null;
}

// Every string literal given to t() (its message) or tn() (singular and
// plural), wherever the call stands: a template literal's ${...} included.
export function marked(source, file) {
  const ast = parse(source, { ecmaVersion: "latest", sourceType: "module", locations: true });
  const out = [];
  simple(ast, {
    CallExpression(node) {
      const name = calleeName(node.callee);
      if (!MARKERS.has(name)) return;
      const count = name === "tn" ? 2 : 1;
      const texts = node.arguments.slice(0, count).map(joined);
      out.push({ file, line: node.loc.start.line, texts });
    },
  });
  return out;
}

const args = process.argv.slice(2);
const wantMarked = args[0] === "--marked";
const files = wantMarked ? args.slice(1) : args;
const findings = [];
for (const file of files) {
  const source = readFileSync(file, "utf8");
  findings.push(...(wantMarked ? marked(source, file) : scan(source, file)));
}
process.stdout.write(JSON.stringify(findings));
