// Sending the answer queue: immediately for clicks, after a short pause for
// typing, with backoff while the network is gone. An item leaves the queue
// only when the server has answered for it (saved, duplicate, stale, late or
// rejected); until then it stays on the device and is sent again.

import { t, tn } from "./i18n.js";

const TYPING_PAUSE_MS = 300;
const MAX_BATCH = 200;
const MAX_BACKOFF_MS = 30_000;
export const OFFLINE_TEXT =
  () =>
  t("You are offline. Your answers are kept on this device and will be sent when the connection returns.");
const KEEPALIVE_LIMIT = 60_000; // browsers cap keepalive bodies at 64 KiB
// The server refuses (413) a batch over 1 MiB; one item is at most an essay
// of 60,000 characters (about 180 kB), so a batch cut here always fits.
const BATCH_BYTES = 768 * 1024;
const utf8 = new TextEncoder();

/** The first items of `items` that fit in one request: at most MAX_BATCH
 * items and BATCH_BYTES of JSON, and always the first item. */
export function batchOf(items) {
  const batch = [];
  let bytes = 0;
  for (const item of items) {
    if (batch.length >= MAX_BATCH) break;
    bytes += utf8.encode(JSON.stringify(item)).length + 1;
    if (batch.length && bytes > BATCH_BYTES) break;
    batch.push(item);
  }
  return batch;
}

/** Whether a save's result is the refusal of a paused exam: the item is kept to send again. */
export function waitsForResume(result) {
  return Boolean(result && result.status === "rejected" && result.code === "paused");
}

/** The seqs of a save's results the server has answered for for good (not a paused refusal). */
export function answeredSeqs(results) {
  return results.filter((r) => !waitsForResume(r)).map((r) => r.seq);
}

export class Saver {
  /**
   * api, queue; ui = {status, banner}; handlers = {closed, elsewhere, gone,
   * settled(results, response), failed(message), navigation(problem),
   * paused(problem)}.
   */
  constructor({ api, queue, ui, handlers }) {
    Object.assign(this, { api, queue, ui, handlers });
    this.offline = navigator.onLine === false;
    this.inflight = null;
    this.timer = null;
    this.retryTimer = null;
    this.failures = 0;
    this.stopped = false;
    // The proctor paused the exam and the server refused answers for it: they
    // wait on the device; release() (the resume) sends them.
    this.held = false;
    window.addEventListener("online", () => this.online());
    window.addEventListener("offline", () => this.goOffline());
    window.addEventListener("pagehide", () => this.flushOnExit());
    this.setOffline(this.offline);
  }

  enqueue(item, { typing = false } = {}) {
    if (this.offline || navigator.onLine === false) item.offline = true;
    this.queue.put(item);
    this.render();
    this.schedule(typing ? TYPING_PAUSE_MS : 0);
  }

  schedule(ms) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.flush(), ms);
  }

  /** Send what is queued now; resolves when this round is over. */
  flush() {
    window.clearTimeout(this.timer);
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    if (this.queue.size === 0) {
      this.render();
      return Promise.resolve();
    }
    if (this.held) {
      this.render();
      return Promise.resolve();
    }
    if (navigator.onLine === false) {
      this.goOffline();
      return Promise.resolve();
    }
    this.again = false;
    this.inflight = this.send().finally(() => {
      this.inflight = null;
      this.render();
      if (this.again && !this.stopped) this.schedule(0);
    });
    this.render();
    return this.inflight;
  }

  async send() {
    const batch = batchOf(this.queue.items());
    try {
      const res = await this.api.call("POST", "answers", { items: batch });
      const all = Array.isArray(res.results) ? res.results : [];
      // Refused because the exam is paused: kept, sent again after the resume.
      const waiting = all.filter(waitsForResume);
      const results = all.filter((r) => !waitsForResume(r));
      this.queue.settle(results.map((r) => r.seq));
      this.failures = 0;
      this.setOffline(false);
      this.handlers.settled(results, res);
      if (waiting.length) this.hold(res);
      const answered = new Set(all.map((r) => r.seq));
      // Newer changes, or a batch cut short: go on at once.
      if (!this.held && this.queue.items().some((i) => !answered.has(i.seq))) this.again = true;
    } catch (err) {
      this.failed(err);
    }
  }

  failed(err) {
    switch (err.kind) {
      case "network":
        this.goOffline();
        this.retry();
        break;
      case "closed":
        this.stop();
        this.handlers.closed();
        break;
      case "elsewhere":
        this.stop();
        this.handlers.elsewhere();
        break;
      case "gone":
        this.stop();
        this.handlers.gone();
        break;
      case "paused":
        // Nothing of the batch was taken: all of it waits for the resume.
        this.hold(err.problem);
        break;
      case "navigation":
        // Linear navigation: questions the exam has moved past take no more
        // changes. Those items can never be saved: drop them (the candidate
        // is told), send the rest now.
        if (this.dropClosed(err)) {
          this.schedule(0);
          break;
        }
        this.handlers.failed(err);
        this.retry();
        break;
      default:
        // The server is struggling or refused the whole request: keep the
        // queue and try again later; say so if it goes on.
        this.handlers.failed(err);
        this.retry();
    }
  }

  /** Drop the items a navigation-closed refusal names; whether there were any. */
  dropClosed(err) {
    const refused = new Set((err.problem && Array.isArray(err.problem.refused) && err.problem.refused) || []);
    const dropped = this.queue.items().filter((i) => refused.has(i.seq));
    if (dropped.length === 0) return false;
    this.queue.settle(dropped.map((i) => i.seq));
    this.handlers.settled(dropped.map((i) => ({ seq: i.seq, index: i.index, status: "rejected", code: "navigation-closed" })), {});
    if (this.handlers.navigation) this.handlers.navigation(err.problem);
    return true;
  }

  /** The exam is paused: keep the queue on the device, send nothing until release(). */
  hold(problem = null) {
    const first = !this.held;
    this.held = true;
    window.clearTimeout(this.retryTimer);
    this.render();
    if (first && this.handlers.paused) this.handlers.paused(problem);
  }

  /** The exam runs again: send what waited. */
  release() {
    if (!this.held) return;
    this.held = false;
    this.failures = 0;
    this.schedule(0);
  }

  retry() {
    if (this.stopped) return;
    this.failures += 1;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
    const delay = base / 2 + Math.random() * (base / 2);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.flush(), delay);
  }

  online() {
    this.failures = 0;
    if (this.queue.size === 0) this.setOffline(false);
    else this.flush();
  }

  goOffline() {
    this.queue.markOffline();
    this.setOffline(true);
  }

  setOffline(offline) {
    this.offline = offline;
    // The banner is a live region that stays in the page: its text changes.
    const text = offline ? OFFLINE_TEXT() : "";
    if (this.ui.banner.textContent !== text) this.ui.banner.textContent = text;
    this.render();
  }

  /**
   * The page is going away: one last try, without waiting for an answer, for
   * what was typed in the last moments. Only while sending works: otherwise
   * the queue simply waits on the device for the next visit.
   */
  flushOnExit() {
    if (this.stopped || this.held || this.queue.size === 0 || this.offline || this.failures > 0) return;
    const items = batchOf(this.queue.items());
    if (JSON.stringify({ items }).length > KEEPALIVE_LIMIT) return;
    this.api.call("POST", "answers", { items }, { keepalive: true }).catch(() => {});
  }

  /** Take the queue for the final submit; no more sending on our own. */
  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearTimeout(this.retryTimer);
  }

  resume() {
    this.stopped = false;
  }

  render() {
    const waiting = this.queue.size;
    let text;
    let busy = false;
    if (waiting === 0 && !this.inflight) text = t("All answers saved");
    else if (this.offline || this.failures > 0 || this.stopped || this.held) {
      text = tn("%(n)s answer waiting to be sent", "%(n)s answers waiting to be sent", waiting);
    } else {
      text = t("Saving…");
      busy = true;
    }
    if (!this.queue.persisted) text += " (this browser could not keep a copy on the device)";
    this.show(text, busy);
  }

  show(text, busy) {
    const { status } = this.ui;
    if (status.textContent !== text) status.textContent = text;
    status.dataset.state = busy ? "busy" : this.queue.size ? "waiting" : "saved";
  }
}
