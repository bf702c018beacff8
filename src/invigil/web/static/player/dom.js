// Tiny DOM helpers. Text is always set as text nodes, never parsed as HTML:
// prompts, choices and messages come from authors and the server. (The one
// exception, a question's formatted text, is cleaned by the server to a safe
// subset: questions.js, richText.)

let counter = 0;

/** A fresh id for label/for and aria-* links. */
export function uid(prefix = "p") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * h("button", {type: "button", class: "secondary", onclick: fn}, "Next")
 * Attributes with null/undefined/false are left out; true sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content with the given children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Set a live region's text so that assistive technology reads it, even a repeat. */
export function say(region, text) {
  if (region.textContent !== text) {
    region.textContent = text;
    return;
  }
  // The same words again: empty the region first, refill it in a later task.
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

