// Sends what the Vault holds, one record at a time, oldest snapshot first,
// then the recording segments in order (docs/candidate-api.md, "Evidence
// uploads"). A segment is a resumable upload: begin, each chunk with its
// SHA-256, complete, then its registration with its index and span; the
// upload id and the object id are kept with the record, so a reload resumes
// where it stopped and nothing is stored twice. Network trouble and a busy
// server mean "later" (with backoff, and at once when the browser is online
// again); a refusal for good (too large, not an image, invalid) drops the
// record, and the caller records that as an event: never silently.

import { detailOf, jsonOf } from "./api.js";
import { sha256hexBytes } from "./sha256.js";

const CHUNK = 1024 * 1024; // the server takes up to 8 MiB; small chunks resume sooner
const MAX_BACKOFF_MS = 30_000;
const CHECKSUM_RETRIES = 2; // a chunk damaged on the way is sent again this often

export class UploadError extends Error {
  /** kind: network | retry | closed | elsewhere | gone | missing | conflict | refused */
  constructor(kind, status, detail, problem = null) {
    super(detail || kind);
    this.kind = kind;
    this.status = status;
    this.problem = problem;
  }
}

function kindOf(status, problem) {
  const type = (problem && typeof problem.type === "string" && problem.type) || "";
  if (status === 409 && type.endsWith(":attempt-closed")) return "closed";
  if ((status === 409 && type.endsWith(":in-progress-elsewhere")) || status === 401) return "elsewhere";
  if (status === 409 && type.endsWith(":not-started")) return "retry";
  if (status === 409) return "conflict";
  if (status === 404) return "missing";
  if (status === 410) return "gone";
  if (status >= 500 || status === 429 || status === 408) return "retry";
  return "refused";
}

/** One call to the candidate API with a raw or JSON body; JSON back. */
export async function call(base, method, path, body, headers = {}) {
  let res;
  try {
    res = await fetch(`${base}/${path}`, {
      method,
      headers: { Accept: "application/json", ...headers },
      body,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    throw new UploadError("network", 0, String(err));
  }
  const data = await jsonOf(res);
  if (!res.ok) throw new UploadError(kindOf(res.status, data), res.status, detailOf(res, data), data);
  return data;
}

const json = (value) => [JSON.stringify(value), { "Content-Type": "application/json" }];

export class Uploader {
  /**
   * base: the player API; vault: a Vault; dropped(record, why): report a
   * record refused for good; claimIndex(min): a segment index not used yet,
   * at least min; handlers: {closed(), elsewhere(), gone()}.
   */
  constructor({ base, vault, dropped, claimIndex, handlers }) {
    Object.assign(this, { base, vault, dropped, claimIndex, handlers });
    this.rate = null; // bytes a second, measured on the larger requests
    this.failures = 0;
    this.sent = { snapshot: 0, segment: 0 };
    this.running = null;
    this.started = false;
    this.stopped = false;
    this.onOnline = () => {
      this.failures = 0;
      this.kick({ force: true });
    };
  }

  start() {
    if (this.started) return;
    this.started = true;
    window.addEventListener("online", this.onOnline);
    this.kick();
  }

  /**
   * Send what is waiting; resolves when this round is over. While a retry
   * waits out its backoff, only `force` (back online, the submit) goes now.
   */
  kick({ force = false } = {}) {
    if (!this.started || this.stopped) return Promise.resolve();
    if (this.backingOff && !force) return Promise.resolve();
    window.clearTimeout(this.retryTimer);
    this.backingOff = false;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.again = false;
    this.running = this.loop()
      .catch(() => this.retry()) // the device's storage failed: later
      .finally(() => {
        this.running = null;
        if (this.again && !this.stopped && !this.backingOff) this.kick();
      });
    return this.running;
  }

  async loop() {
    while (!this.stopped && navigator.onLine !== false) {
      const record = await this.vault.next();
      if (!record) return;
      try {
        await this.deliver(record);
      } catch (err) {
        if (!(err instanceof UploadError)) {
          // The device could not read the blob back (storage cleared under us).
          await this.vault.remove(record).catch(() => {});
          this.dropped(record, `unreadable on this device: ${err && err.name ? err.name : err}`);
          continue;
        }
        if (err.kind === "refused") {
          await this.vault.remove(record);
          this.dropped(record, `${err.status}: ${err.message}`.slice(0, 300));
          continue;
        }
        if (err.kind === "closed" || err.kind === "elsewhere" || err.kind === "gone") {
          this.stop();
          this.handlers[err.kind]();
          return;
        }
        this.retry();
        return;
      }
      await this.vault.remove(record);
      this.sent[record.type] += 1;
      this.failures = 0;
    }
  }

  retry() {
    if (this.stopped) return;
    this.failures += 1;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures - 1, 5));
    window.clearTimeout(this.retryTimer);
    this.backingOff = true;
    this.retryTimer = window.setTimeout(() => this.kick({ force: true }), base / 2 + Math.random() * (base / 2));
  }

  /** Wait at most `ms` for the vault to empty (before a submit); true when it did. */
  async drain(ms) {
    const deadline = Date.now() + ms;
    this.failures = 0;
    while (this.vault.count && !this.stopped && navigator.onLine !== false && Date.now() < deadline) {
      const round = this.kick({ force: true });
      await Promise.race([round, new Promise((r) => window.setTimeout(r, Math.max(0, deadline - Date.now())))]);
      if (this.failures) break;
    }
    return this.vault.count === 0;
  }

  deliver(record) {
    return record.type === "snapshot" ? this.snapshot(record) : this.segment(record);
  }

  /** A request with a body of `size` bytes; its speed feeds the bandwidth estimate. */
  async timed(size, method, path, body, headers) {
    const began = performance.now();
    const res = await call(this.base, method, path, body, headers);
    const seconds = (performance.now() - began) / 1000;
    if (size >= 16 * 1024 && seconds > 0) {
      const rate = size / seconds;
      this.rate = this.rate === null ? rate : 0.7 * this.rate + 0.3 * rate;
    }
    return res;
  }

  async snapshot(r) {
    const query = new URLSearchParams({ taken_at: r.taken_at, reason: r.reason });
    if (r.event_seq) query.set("event_seq", String(r.event_seq));
    if (Number.isInteger(r.faces)) query.set("faces", String(r.faces));
    if (r.ref) query.set("ref", r.ref);
    try {
      await this.timed(r.size, "POST", `evidence/snapshot?${query}`, r.blob, { "Content-Type": r.blob.type || "image/jpeg" });
    } catch (err) {
      if (err.kind === "missing") err.kind = "gone"; // the link itself is withdrawn
      if (err.kind === "conflict") err.kind = "refused";
      throw err;
    }
  }

  async segment(r) {
    try {
      if (!r.object_id) await this.upload(r);
      await this.register(r);
    } catch (err) {
      if (err.kind !== "missing" && err.kind !== "conflict") throw err;
      // The upload or its object is gone, or holds other bytes: start over (a few times).
      r.upload_id = null;
      r.object_id = null;
      r.restarts = (r.restarts || 0) + 1;
      await this.vault.update(r);
      if (r.restarts > 3) throw new UploadError("refused", err.status, `the upload kept failing: ${err.message}`);
      throw new UploadError("retry", err.status, err.message);
    }
  }

  /** Begin (or resume) the upload, send the missing chunks, complete it. */
  async upload(r) {
    let received = new Set();
    if (r.upload_id) {
      const state = await call(this.base, "GET", `uploads/${r.upload_id}`);
      if (state.status === "completed" && state.object) {
        r.object_id = state.object.id;
        await this.vault.update(r);
        return;
      }
      if (state.status !== "open") throw new UploadError("missing", 404, `upload ${state.status}`);
      received = new Set(state.received || []);
    } else {
      const [body, headers] = json({ kind: "recording_chunk", size: r.size });
      let began;
      try {
        began = await call(this.base, "POST", "uploads", body, headers);
      } catch (err) {
        if (err.kind === "missing") err.kind = "gone";
        throw err;
      }
      r.upload_id = began.id;
      await this.vault.update(r);
    }
    const count = Math.max(1, Math.ceil(r.size / CHUNK));
    for (let i = 0; i < count; i += 1) {
      if (!received.has(i)) await this.chunk(r, i);
    }
    const obj = await call(this.base, "POST", `uploads/${r.upload_id}/complete`);
    r.object_id = obj.id;
    await this.vault.update(r);
  }

  async chunk(r, i) {
    const bytes = await r.blob.slice(i * CHUNK, (i + 1) * CHUNK).arrayBuffer();
    const sha = await sha256hexBytes(bytes);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.timed(bytes.byteLength, "PUT", `uploads/${r.upload_id}/chunks/${i}`, bytes, {
          "Content-Type": "application/octet-stream",
          "X-Chunk-SHA256": sha,
        });
        return;
      } catch (err) {
        const damaged = err.kind === "refused" && err.problem && err.problem.received_sha256;
        if (!damaged || attempt >= CHECKSUM_RETRIES) throw err;
      }
    }
  }

  /** Say which span of the exam the object covers; a used index takes the next free one. */
  async register(r) {
    for (let tries = 0; ; tries += 1) {
      const [body, headers] = json({
        segment_index: r.index, object_id: r.object_id, started_at: r.started_at, ended_at: r.ended_at,
      });
      try {
        await call(this.base, "POST", "recording/segments", body, headers);
        return;
      } catch (err) {
        const p = err.problem || {};
        if (err.kind === "conflict" && "segment_index" in p) return; // registered already
        if (err.kind !== "conflict" || !("object_id" in p) || tries >= 20) throw err;
        // The index was used by an earlier visit whose count this device lost.
        r.index = this.claimIndex(r.index + 1);
        await this.vault.update(r);
      }
    }
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
  }
}
