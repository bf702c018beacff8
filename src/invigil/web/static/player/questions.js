// One renderer per question type (docs/candidate-api.md, "Bodies by type").
// Each gets the candidate's body, the current response and ctx:
//   ctx.emit(response, {typing})  the candidate changed the answer
//   ctx.announce(text)            a polite live message
// and returns a fieldset whose legend is the prompt. Text is set as text.

import { h, say, uid } from "./dom.js";
import { t, tn } from "./i18n.js";

function group(body, hintText, ...children) {
  const hint = hintText ? h("p", { class: "hint", id: uid("hint") }, hintText) : null;
  if (body.prompt_html) {
    // Formatted text (paragraphs, lists, tables, MathML formulas), cleaned by
    // the server to a safe subset with no script, handler, style or URL; it
    // names the group, as a legend would.
    const id = uid("prompt");
    return h(
      "fieldset",
      { class: "question-body", "aria-labelledby": id, "aria-describedby": hint ? hint.id : null },
      h("div", { class: "prompt rich", id, dir: "auto" }, richText(body.prompt_html)),
      hint,
      ...children,
    );
  }
  return h(
    "fieldset",
    { class: "question-body", "aria-describedby": hint ? hint.id : null },
    h("legend", { class: "prompt", dir: "auto" }, body.prompt),
    hint,
    ...children,
  );
}

function richText(html) {
  const holder = document.createElement("template");
  holder.innerHTML = html;
  return holder.content;
}

function clearButton(hasAnswer, onClear) {
  const button = h("button", { type: "button", class: "link-button", hidden: !hasAnswer }, t("Clear answer"));
  button.addEventListener("click", onClear);
  return button;
}

function radios(name, options, selected, onPick) {
  return h(
    "div",
    { class: "options" },
    options.map(([value, text]) => {
      const id = uid("opt");
      const input = h("input", { type: "radio", name, id, value: String(value) });
      input.checked = selected === value;
      input.addEventListener("change", () => {
        if (input.checked) onPick(value);
      });
      return h("label", { class: "option", for: id }, input, h("span", { dir: "auto" }, text));
    }),
  );
}

function choiceGroup(body, response, ctx, options, hint) {
  const name = uid("q");
  let clear;
  const list = radios(name, options, response, (value) => {
    clear.hidden = false;
    ctx.emit(value);
  });
  clear = clearButton(response !== null && response !== undefined, () => {
    for (const input of list.querySelectorAll("input")) input.checked = false;
    clear.hidden = true;
    ctx.emit(null);
    list.querySelector("input").focus();
  });
  return group(body, hint, list, clear);
}

function singleChoice(body, response, ctx) {
  return choiceGroup(body, response, ctx, body.choices.map((text, i) => [i, text]), t("Choose one answer."));
}

function trueFalse(body, response, ctx) {
  // The labels come with the body, in the question's language.
  const [yes, no] = Array.isArray(body.labels) ? body.labels : ["True", "False"];
  return choiceGroup(body, response, ctx, [[true, yes], [false, no]], null);
}

function multipleChoice(body, response, ctx) {
  const picked = new Set(Array.isArray(response) ? response : []);
  const boxes = body.choices.map((text, i) => {
    const id = uid("opt");
    const input = h("input", { type: "checkbox", id, value: String(i) });
    input.checked = picked.has(i);
    input.addEventListener("change", () => {
      if (input.checked) picked.add(i);
      else picked.delete(i);
      ctx.emit([...picked].sort((a, b) => a - b));
    });
    return h("label", { class: "option", for: id }, input, h("span", { dir: "auto" }, text));
  });
  return group(body, t("Choose all that apply."), h("div", { class: "options" }, boxes));
}

function looksNumeric(text) {
  return /^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$/.test(text.trim().replace(/[\s\u00a0']/g, ""));
}

function textInput(body, response, ctx, { numeric }) {
  const id = uid("answer");
  const hintId = uid("hint");
  const warnId = uid("warn");
  const input = h("input", {
    type: "text",
    id,
    class: numeric ? "numeric" : "short",
    autocomplete: "off",
    spellcheck: numeric ? "false" : null,
    inputmode: numeric ? "decimal" : null,
    maxlength: numeric ? 50 : 1000,
    "aria-describedby": numeric ? `${hintId} ${warnId}` : null,
  });
  input.value = response === null || response === undefined ? "" : String(response);
  const warn = h("p", { class: "field-warning", id: warnId, "aria-live": "polite" });
  const check = () => {
    const bad = numeric && input.value.trim() !== "" && !looksNumeric(input.value);
    warn.textContent = bad ? t("This does not look like a number. It is saved as you typed it.") : "";
    input.setAttribute("aria-invalid", bad ? "true" : "false");
  };
  input.addEventListener("input", () => {
    ctx.emit(input.value.trim() === "" ? null : input.value, { typing: true });
    if (warn.textContent) check();
  });
  input.addEventListener("change", check);
  return group(
    body,
    null,
    h("label", { for: id }, t("Your answer")),
    numeric ? h("p", { class: "hint", id: hintId }, t("A number; use a point or a comma for decimals (3.5 or 3,5).")) : null,
    input,
    warn,
  );
}

function countWords(text) {
  const words = text.trim().split(/\s+/);
  return words[0] === "" ? 0 : words.length;
}

function essay(body, response, ctx) {
  const id = uid("essay");
  const countId = uid("count");
  const max = body.max_words || null;
  const area = h("textarea", { id, rows: 14, maxlength: 60000, "aria-describedby": countId });
  area.value = typeof response === "string" ? response : "";
  const count = h("p", { class: "word-count", id: countId });
  const over = h("p", { class: "visually-hidden", "aria-live": "polite" });
  let wasOver = max !== null && countWords(area.value) > max;
  const update = () => {
    const n = countWords(area.value);
    count.textContent = max ? tn("%(n)s of %(max)s word", "%(n)s of %(max)s words", max, { n, max }) : tn("%(n)s word", "%(n)s words", n);
    const isOver = max !== null && n > max;
    count.classList.toggle("over", isOver);
    if (isOver) count.textContent += " — " + tn("%(n)s word over the limit", "%(n)s words over the limit", n - max);
    if (isOver !== wasOver) say(over, isOver ? t("You are over the %(max)s word limit.", { max }) : t("You are within the word limit."));
    wasOver = isOver;
  };
  area.addEventListener("input", () => {
    update();
    ctx.emit(area.value.trim() === "" ? null : area.value, { typing: true });
  });
  update();
  const criteria = (body.criteria || []).length
    ? h("div", { class: "criteria" }, h("p", {}, t("You will be marked on:")), h("ul", {}, body.criteria.map((c) => h("li", { dir: "auto" }, c))))
    : null;
  return group(body, null, criteria, h("label", { for: id }, t("Your answer")), area, count, over);
}

function ordering(body, response, ctx) {
  const items = body.items;
  const valid = Array.isArray(response) && response.length === items.length;
  let order = valid ? response.slice() : items.map((_, i) => i);
  let answered = valid;
  const list = h("ol", { class: "ordering" });
  const keep = h("button", { type: "button", class: "secondary", hidden: answered }, t("Keep this order"));
  keep.addEventListener("click", () => {
    answered = true;
    keep.hidden = true;
    ctx.emit(order.slice());
    ctx.announce(t("Order saved as shown."));
    list.querySelector("button:not([disabled])").focus();
  });

  function move(pos, delta, direction) {
    const to = pos + delta;
    [order[pos], order[to]] = [order[to], order[pos]];
    answered = true;
    keep.hidden = true;
    draw();
    ctx.emit(order.slice());
    ctx.announce(t("%(item)s moved to position %(n)s of %(total)s.", { item: items[order[to]], n: to + 1, total: items.length }));
    const row = list.children[to];
    const same = row.querySelector(`button[data-move="${direction}"]`);
    (same.disabled ? row.querySelector("button:not([disabled])") : same).focus();
  }

  function draw() {
    list.replaceChildren(
      ...order.map((item, pos) => {
        const text = items[item];
        const up = h("button", { type: "button", class: "secondary small", "data-move": "up", "aria-label": t("Move up: %(item)s", { item: text }), disabled: pos === 0 }, t("Move up"));
        const down = h("button", { type: "button", class: "secondary small", "data-move": "down", "aria-label": t("Move down: %(item)s", { item: text }), disabled: pos === order.length - 1 }, t("Move down"));
        up.addEventListener("click", () => move(pos, -1, "up"));
        down.addEventListener("click", () => move(pos, 1, "down"));
        return h("li", { class: "order-item" }, h("span", { class: "order-text", dir: "auto" }, text), h("span", { class: "order-moves" }, up, down));
      }),
    );
  }
  draw();
  return group(
    body,
    t("Put the items in order with Move up and Move down. If the order shown is already right, choose Keep this order."),
    list,
    keep,
  );
}

function matching(body, response, ctx) {
  const current = body.left.map((_, i) => (Array.isArray(response) && Number.isInteger(response[i]) ? response[i] : null));
  const rows = body.left.map((text, i) => {
    const id = uid("match");
    const select = h(
      "select",
      { id },
      h("option", { value: "" }, t("— choose —")),
      body.right.map((right, j) => h("option", { value: String(j) }, right)),
    );
    select.value = current[i] === null ? "" : String(current[i]);
    select.addEventListener("change", () => {
      current[i] = select.value === "" ? null : Number(select.value);
      ctx.emit(current.slice());
    });
    return h("div", { class: "match-row" }, h("label", { for: id, dir: "auto" }, text), select);
  });
  return group(body, t("Choose the match for each item."), h("div", { class: "matches" }, rows));
}

const RENDERERS = {
  single_choice: singleChoice,
  multiple_choice: multipleChoice,
  true_false: trueFalse,
  numeric: (body, response, ctx) => textInput(body, response, ctx, { numeric: true }),
  short_text: (body, response, ctx) => textInput(body, response, ctx, { numeric: false }),
  essay,
  ordering,
  matching,
};

export function renderBody(question, response, ctx) {
  const render = RENDERERS[question.type];
  if (!render) {
    return h("p", { class: "alert" }, t("This question cannot be shown in this version of the player. Tell the exam organiser."));
  }
  const node = render(question.body, response, ctx);
  markLanguage(node, question.lang, question.dir);
  return node;
}

// The question's words may be in another language than the page (an
// untranslated question is shown as written): the fieldset says which, so
// that screen readers pronounce it right, and the player's own words inside
// it (hints, labels, buttons) keep the page's language.
const UI_TEXT = ".hint, button, label:not(.option), .criteria > p, .word-count, .field-warning, select option[value='']";

function markLanguage(node, lang, dir) {
  const page = document.documentElement.lang;
  if (!lang || !node || lang === page) return;
  node.lang = lang;
  if (dir) node.dir = dir;
  for (const el of node.querySelectorAll(UI_TEXT)) {
    el.lang = page;
    el.dir = document.documentElement.dir || "ltr";
  }
}

/** "answered", "partly answered" or "not answered". */
export function answerState(type, response) {
  if (response === null || response === undefined) return "not answered";
  if (typeof response === "string") return response.trim() ? "answered" : "not answered";
  if (Array.isArray(response)) {
    if (response.length === 0) return "not answered";
    if (type === "matching") {
      const given = response.filter((r) => r !== null).length;
      if (given === 0) return "not answered";
      return given === response.length ? "answered" : "partly answered";
    }
  }
  return "answered";
}
