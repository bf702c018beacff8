// What the page itself can see: the tab hidden, the window out of focus, full
// screen left, copy / paste / the context menu, the network gone. Each is an
// episode (start and end) or an instant event in the EventLog. Clipboard
// events carry which question was shown and whether a text field was the
// target: never what was copied or pasted.

import { t } from "./i18n.js";

const FIELD = "input, textarea, select, [contenteditable]";

function listen(target, type, fn, undo, options) {
  target.addEventListener(type, fn, options);
  undo.push(() => target.removeEventListener(type, fn, options));
}

/**
 * tab.hidden and focus.lost. A page being left (reload, navigation) turns
 * hidden and loses focus as it goes: that is not the candidate switching
 * away, so nothing is recorded after pagehide (a reload closes or resumes
 * open episodes on its own).
 */
export function watchFocus(log, undo) {
  let leaving = false;
  const hidden = () => {
    if (!leaving) log.set("tab.hidden", "tab.hidden", document.visibilityState === "hidden");
  };
  listen(window, "pagehide", () => { leaving = true; }, undo);
  listen(window, "pageshow", () => { leaving = false; }, undo);
  listen(document, "visibilitychange", hidden, undo);
  // Focus moving into a frame of the page (a learning platform's assessment
  // the player frames) blurs the window but stays on the page: hasFocus()
  // still says true, so that is no focus loss. While focus is inside the
  // frame the window hears no blur when the candidate leaves, so a page
  // with frames asks hasFocus() every second as well.
  const lost = () => {
    if (!leaving) log.set("focus.lost", "focus.lost", !document.hasFocus());
  };
  listen(window, "blur", () => window.setTimeout(lost, 0), undo);
  listen(window, "focus", () => log.end("focus.lost"), undo);
  const poll = window.setInterval(() => {
    if (document.querySelector("iframe")) lost();
  }, 1000);
  undo.push(() => window.clearInterval(poll));
  hidden();
  log.set("focus.lost", "focus.lost", !document.hasFocus());
}

/** fullscreen.exit, for exams shown only in full screen (the player covers the exam). */
export function watchFullscreen(log, undo) {
  const check = () => log.set("fullscreen.exit", "fullscreen.exit", !document.fullscreenElement);
  listen(document, "fullscreenchange", check, undo);
  check();
}

/** network.offline: the browser says it has no connection. */
export function watchNetwork(log, undo) {
  listen(window, "offline", () => log.start("network.offline", "network.offline", {}), undo);
  listen(window, "online", () => log.end("network.offline"), undo);
  log.set("network.offline", "network.offline", navigator.onLine === false);
}

/**
 * clipboard.copy (copy, cut, printing), clipboard.paste (paste, text dropped
 * in) and context_menu. Pasting into the exam's fields is blocked: the
 * answers must be typed here; the candidate is told so.
 */
export function watchClipboard(log, undo, { position, notice }) {
  const where = (event) => ({
    question: position(),
    field: Boolean(event.target && event.target.closest && event.target.closest(FIELD)),
  });
  const refuse = (event) => {
    event.preventDefault();
    notice("clipboard:paste", t("Pasting is turned off in this exam: type your answer."), 6000);
  };
  listen(document, "copy", (e) => log.instant("clipboard.copy", { ...where(e), via: "copy" }), undo, true);
  listen(document, "cut", (e) => log.instant("clipboard.copy", { ...where(e), via: "cut" }), undo, true);
  listen(document, "paste", (e) => {
    refuse(e);
    log.instant("clipboard.paste", { ...where(e), via: "paste", blocked: true });
  }, undo, true);
  listen(document, "drop", (e) => {
    const types = e.dataTransfer ? Array.from(e.dataTransfer.types || []) : [];
    if (!types.some((t) => t.startsWith("text"))) return;
    refuse(e);
    log.instant("clipboard.paste", { ...where(e), via: "drop", blocked: true });
  }, undo, true);
  listen(document, "contextmenu", (e) => log.instant("context_menu", where(e)), undo, true);
  listen(window, "beforeprint", () => log.instant("clipboard.copy", { question: position(), field: false, via: "print" }), undo);
}

/** Print and save-page shortcuts: refused and logged as an attempt to copy the exam. */
export function watchPrintKeys(log, undo, { position, keyName }) {
  listen(window, "keydown", (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (!mod || e.altKey || e.shiftKey) return;
    const via = { KeyP: "print", KeyS: "save" }[e.code];
    if (!via) return;
    e.preventDefault();
    log.instant("clipboard.copy", { question: position(), field: false, via, keys: keyName(e), blocked: true });
  }, undo, true);
}
