// The proctoring event log (docs/proctoring.md): every observation becomes a
// message {seq, body, prev, hash} with hash = SHA-256(prev + body), written
// to localStorage before anything is sent, sent in batches, and forgotten only
// once the server has answered for it. Offline periods and reloads lose
// nothing: the queue, the sequence and the chain head live on the device and
// resume from whichever of the device and the server got further.

import { sha256hex } from "./sha256.js";

const MAX_BATCH = 100;
const BATCH_MS = 2000;
const MAX_BACKOFF_MS = 30_000;
const KEEPALIVE_LIMIT = 60_000;
// Durable kinds whose start is worth sending at once, not with the next batch.
const URGENT = new Set([
  "face.none", "face.multiple", "audio.voice", "focus.lost", "tab.hidden", "fullscreen.exit",
  "devtools.open", "screen.share_stopped", "camera.stopped",
]);

function isMessage(m) {
  return m !== null && typeof m === "object" && Number.isInteger(m.seq) && typeof m.body === "string";
}

export class EventLog {
  /**
   * api, store, clock; attemptId; server: state.proctoring (last_seq, head,
   * genesis); handlers: {answered(res), closed(), elsewhere(), gone()}.
   */
  constructor({ api, store, clock, attemptId, server, handlers }) {
    Object.assign(this, { api, store, clock, handlers });
    const saved = store.read("events", []);
    this.queue = Array.isArray(saved) ? saved.filter(isMessage) : [];
    const open = store.read("eopen", {});
    this.open = open && typeof open === "object" ? open : {};
    // The prev of seq 1: SHA-256 of "invigil:" + the attempt id (the server says it too).
    const genesis = server && /^[0-9a-f]{64}$/.test(server.genesis || "") ? server.genesis : null;
    this.genesis = genesis ? Promise.resolve(genesis) : sha256hex(`invigil:${attemptId}`);
    this.resume(server || {});
    this.inflight = null;
    this.timer = null;
    this.retryTimer = null;
    this.failures = 0;
    this.stopped = false;
    this.persisted = true;
    this.chain = Promise.resolve();
    this.observers = new Set();
    this.hashQueued();
    window.addEventListener("online", () => this.flush());
    window.addEventListener("pagehide", () => this.flushOnExit());
  }

  /** Where the chain goes on: the further of this device and the server. */
  resume(server) {
    const head = this.store.read("ehead", null);
    let seq = Math.max(Number(this.store.read("eseq", 0)) || 0, ...this.queue.map((m) => m.seq));
    let last = head && Number.isInteger(head.seq) && typeof head.hash === "string" ? head : null;
    const hashed = this.queue.filter((m) => m.hash);
    if (hashed.length) last = { seq: hashed[hashed.length - 1].seq, hash: hashed[hashed.length - 1].hash };
    const serverSeq = Number(server.last_seq) || 0;
    if (serverSeq > seq && typeof server.head === "string") {
      // The device forgot (storage cleared): carry on from the server's head.
      seq = serverSeq;
      last = { seq: serverSeq, hash: server.head };
      this.queue = [];
      this.open = {};
    }
    this.seq = seq;
    this.head = last; // null: nothing hashed yet, the next prev is the genesis
  }

  get size() {
    return this.queue.length;
  }

  /** Record an event now; returns its seq (an end message names its start's seq). */
  record(kind, phase, details = {}, { ends = null, at = null } = {}) {
    this.seq = Math.max(this.seq, Number(this.store.read("eseq", 0)) || 0) + 1;
    this.store.write("eseq", this.seq);
    const when = new Date(at === null ? this.clock.now() : at).toISOString();
    const body = JSON.stringify({ kind, phase, at: when, ends, details });
    this.queue.push({ seq: this.seq, body, prev: null, hash: null });
    this.save();
    this.hashQueued();
    if (phase === "start" && URGENT.has(kind)) this.schedule(0);
    else if (!this.timer) this.schedule(BATCH_MS);
    const seq = this.seq;
    for (const fn of this.observers) {
      try {
        fn({ seq, kind, phase, details });
      } catch {
        // an observer's trouble is not the log's
      }
    }
    return seq;
  }

  /** Call fn({seq, kind, phase, details}) for every event recorded from now on; returns the undo. */
  observe(fn) {
    this.observers.add(fn);
    return () => this.observers.delete(fn);
  }

  instant(kind, details) {
    return this.record(kind, "instant", details);
  }

  /** Begin an episode under `key` (one open episode per key); `at`: when the condition began. */
  start(key, kind, details, at = null) {
    if (this.open[key]) return this.open[key].seq;
    const since = at === null ? this.clock.now() : at;
    const seq = this.record(kind, "start", details, { at: since });
    this.open[key] = { seq, kind, since };
    this.store.write("eopen", this.open);
    return seq;
  }

  end(key, details = {}) {
    const episode = this.open[key];
    if (!episode) return null;
    delete this.open[key];
    this.store.write("eopen", this.open);
    const duration = Math.max(0, Math.round(this.clock.now() - episode.since));
    return this.record(episode.kind, "end", { ...details, duration_ms: duration }, { ends: episode.seq });
  }

  /** Start or end the episode under `key` as the condition says. */
  set(key, kind, active, details = {}) {
    if (active) this.start(key, kind, details);
    else this.end(key, details);
  }

  isOpen(key) {
    return Boolean(this.open[key]);
  }

  openKeys() {
    return Object.keys(this.open);
  }

  /** Hash every queued message that has no hash yet, in seq order, one after another. */
  hashQueued() {
    this.chain = this.chain.then(async () => {
      for (const m of this.queue) {
        if (m.hash) continue;
        const prev = this.head ? this.head.hash : await this.genesis;
        m.prev = prev;
        m.hash = await sha256hex(prev + m.body);
        this.head = { seq: m.seq, hash: m.hash };
      }
      this.save();
      if (this.head) this.store.write("ehead", this.head);
    });
    return this.chain;
  }

  save() {
    this.persisted = this.store.write("events", this.queue);
  }

  schedule(ms) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, ms);
  }

  /** Send what is queued (and hashed); resolves when this round is over. */
  flush() {
    window.clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    this.again = false;
    this.inflight = (async () => {
      await this.chain;
      if (this.queue.length && navigator.onLine !== false) await this.send();
    })().finally(() => {
      this.inflight = null;
      if (this.again && !this.stopped && this.queue.length) this.schedule(0);
    });
    return this.inflight;
  }

  batch() {
    const ready = [];
    for (const m of this.queue) {
      if (!m.hash || ready.length >= MAX_BATCH) break;
      ready.push({ seq: m.seq, body: m.body, prev: m.prev, hash: m.hash });
    }
    return ready;
  }

  async send() {
    const events = this.batch();
    if (!events.length) return;
    try {
      const res = await this.api.call("POST", "events", { events });
      const results = Array.isArray(res.results) ? res.results : [];
      const answered = new Set(results.map((r) => r.seq));
      this.queue = this.queue.filter((m) => !answered.has(m.seq));
      this.save();
      this.failures = 0;
      if (this.queue.some((m) => m.hash)) this.again = true;
      this.handlers.answered(res);
    } catch (err) {
      this.failed(err);
    }
  }

  failed(err) {
    if (err.kind === "closed") {
      // Nothing more is taken for a submitted attempt.
      this.stop();
      this.queue = [];
      this.save();
      this.handlers.closed();
    } else if (err.kind === "elsewhere") {
      this.stop();
      this.handlers.elsewhere();
    } else if (err.kind === "gone") {
      this.stop();
      this.handlers.gone();
    } else {
      this.retry();
    }
  }

  retry() {
    if (this.stopped) return;
    this.failures += 1;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.flush(), base / 2 + Math.random() * (base / 2));
  }

  /** Wait at most `ms` for the queue to reach the server (before a submit). */
  async drain(ms) {
    const deadline = Date.now() + ms;
    while (this.queue.length && !this.stopped && navigator.onLine !== false && Date.now() < deadline) {
      const round = this.flush();
      await Promise.race([round, new Promise((r) => window.setTimeout(r, Math.max(0, deadline - Date.now())))]);
      if (this.failures) break;
    }
  }

  /** The page is going away: one last try, without waiting for the answer. */
  flushOnExit() {
    if (this.stopped || navigator.onLine === false || this.failures > 0) return;
    const events = this.batch();
    if (!events.length || JSON.stringify({ events }).length > KEEPALIVE_LIMIT) return;
    this.api.call("POST", "events", { events }, { keepalive: true }).catch(() => {});
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearTimeout(this.retryTimer);
  }

  /** After a submit: nothing here is taken any more. */
  forget() {
    this.store.clear(["events", "eseq", "ehead", "eopen"]);
  }
}
