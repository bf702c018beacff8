// devtools.open, from independent techniques; the event lists which fired.
//
// - "debugger": a `debugger` statement (a statement, not eval: the page's CSP
//   allows it) is timed; it only stops when a debugger is attached, as open
//   developer tools are. Verified: it never stops under plain automation and
//   it stops as soon as a debugger client attaches (CDP Debugger.enable).
// - "viewport": the page's viewport shrank by more than 160 px while the
//   window kept its size and zoom: tools docked in the window. Height counts
//   only without a touch screen (an on-screen keyboard shrinks it too).
// - "shortcut": F12, Ctrl+Shift+I/J/C, Ctrl+U (view source) and their Mac
//   forms are refused and logged with the keys.
// Console tricks (a logged object whose getter or toString fires when the
// console renders it) were tried and left out: in Chromium the toString
// forms fire with no developer tools open (an innocent candidate would be
// reported) and the element-id getter never fires at all.
// An episode ends once no technique has fired for QUIET_MS.

const PROBE_MS = 1000;
const PAUSED_MS = 200;
const SHRINK_PX = 160;
const QUIET_MS = 3000;

export function keyName(e) {
  const parts = [];
  if (e.ctrlKey) parts.push("Ctrl");
  if (e.metaKey) parts.push("Meta");
  if (e.altKey) parts.push("Alt");
  if (e.shiftKey) parts.push("Shift");
  const key = e.code && e.code.startsWith("Key") ? e.code.slice(3) : e.key;
  parts.push(key);
  return parts.join("+");
}

function isDevtoolsShortcut(e) {
  if (e.key === "F12" || e.code === "F12") return true;
  const letter = e.code && e.code.startsWith("Key") ? e.code.slice(3) : "";
  const ctrlShift = e.ctrlKey && e.shiftKey && !e.altKey && !e.metaKey;
  const macOpt = e.metaKey && e.altKey && !e.ctrlKey;
  if ((ctrlShift || macOpt) && ["I", "J", "C"].includes(letter)) return true;
  // View source: Ctrl+U, or Cmd+Option+U on a Mac.
  if (letter === "U" && ((e.ctrlKey && !e.shiftKey && !e.altKey && !e.metaKey) || macOpt)) return true;
  return false;
}

export class DevtoolsWatch {
  constructor({ log }) {
    this.log = log;
    this.fired = new Map(); // technique -> {at, details}
    this.reported = new Set();
    this.undo = [];
    this.touch = window.matchMedia ? window.matchMedia("(pointer: coarse)").matches : false;
  }

  start() {
    this.baseline = this.measure();
    const onKey = (e) => {
      if (!isDevtoolsShortcut(e)) return;
      e.preventDefault();
      e.stopPropagation();
      this.fire("shortcut", { keys: keyName(e) });
    };
    const onResize = () => this.sizeCheck();
    window.addEventListener("keydown", onKey, true);
    window.addEventListener("resize", onResize);
    this.undo.push(() => window.removeEventListener("keydown", onKey, true));
    this.undo.push(() => window.removeEventListener("resize", onResize));
    this.timer = window.setInterval(() => this.probe(), PROBE_MS);
  }

  measure() {
    return {
      ow: window.outerWidth, oh: window.outerHeight, iw: window.innerWidth, ih: window.innerHeight,
      dpr: window.devicePixelRatio, full: Boolean(document.fullscreenElement),
    };
  }

  sizeCheck() {
    const now = this.measure();
    const b = this.baseline;
    if (now.ow !== b.ow || now.oh !== b.oh || now.dpr !== b.dpr || now.full !== b.full) {
      // The window itself changed (resized, zoomed, full screen): a new baseline.
      this.baseline = now;
      return;
    }
    const narrower = b.iw - now.iw;
    const shorter = this.touch ? 0 : b.ih - now.ih;
    if (narrower > SHRINK_PX || shorter > SHRINK_PX) {
      this.fire("viewport", { narrower_px: narrower, shorter_px: shorter, held: true });
    } else if (this.fired.has("viewport")) {
      this.fired.get("viewport").details.held = false;
    }
  }

  probe() {
    const began = performance.now();
    // eslint-disable-next-line no-debugger -- the probe: only an attached debugger stops here
    debugger;
    const paused = performance.now() - began;
    if (paused > PAUSED_MS) this.fire("debugger", { paused_ms: Math.round(paused) });
    this.settle();
  }

  fire(technique, details) {
    const now = this.log.clock.now();
    this.fired.set(technique, { at: now, details });
    if (!this.log.isOpen("devtools.open")) {
      this.log.start("devtools.open", "devtools.open", { techniques: [technique], ...details });
      this.reported = new Set([technique]);
    } else if (!this.reported.has(technique)) {
      // A second technique agrees while the episode is open: say so at its end.
      this.reported.add(technique);
    }
  }

  /** End the episode once every technique has been quiet for a while. */
  settle() {
    if (!this.log.isOpen("devtools.open")) return;
    const now = this.log.clock.now();
    const active = [...this.fired.entries()].some(([, f]) => f.details.held || now - f.at < QUIET_MS);
    if (active) return;
    this.log.end("devtools.open", { techniques: [...this.reported] });
    this.fired.clear();
  }

  stop() {
    window.clearInterval(this.timer);
    for (const fn of this.undo.splice(0)) fn();
  }
}
