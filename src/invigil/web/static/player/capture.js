// Evidence capture (docs/proctoring.md, "Evidence capture"): webcam snapshots
// (one at the start, one every snapshot_interval_seconds of the policy, one
// at each face event's start and end) and, when the policy watches the
// screen, the shared screen in segments (recorder.js). Everything goes to the
// Vault first (IndexedDB) and from there to the server (uploader.js), so an
// offline spell or a reload loses nothing. Snapshots do not depend on the
// face detector: when it cannot run, they keep coming on schedule without a
// face count, and the server's own detector judges them. Whatever must be
// dropped (storage full, refused by the server, not sent before the submit)
// becomes a detector.failed event {detector: "capture", reason: "dropped"}.

import { ScreenRecorder } from "./recorder.js";
import { Uploader } from "./uploader.js";
import { Vault, VaultFull } from "./vault.js";

// Picture sizes, best first; the uploads' pace picks one.
const LEVELS = [
  { width: 640, quality: 0.8 },
  { width: 480, quality: 0.7 },
  { width: 320, quality: 0.6 },
];
// Recording bitrates (bits a second), best first.
const BITRATES = [1_000_000, 500_000, 250_000, 120_000];
const FACE_KINDS = new Set(["face.none", "face.multiple"]);
const READY_MS = 10_000; // how long a snapshot waits for the camera picture
const FIRST_MS = 20_000; // how long the first snapshot waits for the face check's first count
const KiB = 1024;

const iso = (ms) => new Date(ms).toISOString();
const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

class Snapshots {
  /**
   * clock; interval (ms); faces(): the browser's current count or null;
   * faceReady(): the face check has counted or failed; keep(record); level().
   */
  constructor({ clock, interval, faces, faceReady, keep, level }) {
    Object.assign(this, { clock, interval, faces, faceReady, keep, level });
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.canvas = document.createElement("canvas");
    this.stopped = false;
    this.stats = { taken: 0, width: null };
  }

  start(stream) {
    if (stream) this.use(stream); // else once the camera is turned on (use)
    this.first();
    this.timer = window.setInterval(() => this.take("periodic"), this.interval);
  }

  /** The start snapshot, with the browser's face count when it has one soon enough. */
  async first() {
    for (let waited = 0; waited < FIRST_MS && !this.stopped; waited += 250) {
      let ready = true;
      try {
        ready = this.faceReady();
      } catch {
        ready = true;
      }
      if (ready) break;
      await sleep(250);
    }
    await this.take("start");
  }

  use(stream) {
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.play().catch(() => {});
  }

  live() {
    const track = this.stream && this.stream.getVideoTracks()[0];
    return Boolean(track && track.readyState === "live" && !track.muted);
  }

  /** One picture now; reason: start | periodic | event (with the event's seq). */
  async take(reason, eventSeq = null) {
    if (this.stopped || !this.live()) return; // camera.stopped says why
    let faces = null;
    try {
      faces = this.faces(); // the face detector's trouble never stops a snapshot
    } catch {
      faces = null;
    }
    const at = this.clock.now();
    let blob = null;
    try {
      blob = await this.grab();
    } catch (err) {
      this.stats.error = String(err && err.message ? err.message : err).slice(0, 200);
    }
    if (!blob || this.stopped) return;
    this.stats.taken += 1;
    await this.keep({
      type: "snapshot",
      // The server stores one snapshot per ref: a re-send after a lost answer
      // (or a reload just after the upload) is not a second snapshot.
      ref: crypto.randomUUID(),
      blob,
      size: blob.size,
      taken_at: iso(at),
      reason,
      event_seq: eventSeq,
      faces: Number.isInteger(faces) ? faces : null,
    });
  }

  async grab() {
    const v = this.video;
    for (let waited = 0; (v.readyState < 2 || !v.videoWidth) && waited < READY_MS; waited += 200) {
      await sleep(200);
      if (this.stopped) return null;
    }
    if (v.readyState < 2 || !v.videoWidth) return null;
    const { width, quality } = LEVELS[this.level()];
    const w = Math.min(width, v.videoWidth);
    const h = Math.round((v.videoHeight * w) / v.videoWidth);
    this.canvas.width = w;
    this.canvas.height = h;
    this.canvas.getContext("2d").drawImage(v, 0, 0, w, h);
    this.stats.width = w;
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/jpeg", quality));
  }

  stop() {
    this.stopped = true;
    window.clearInterval(this.timer);
    this.video.srcObject = null;
  }
}

export class Capture {
  /**
   * base: the player API; attemptId; store: the attempt's Store; clock;
   * log: the EventLog; config: state.proctoring; faces(): the browser's face
   * count now, or null; faceReady(): whether it has counted (or failed) yet;
   * handlers: {closed(), elsewhere(), gone()}.
   */
  constructor({ base, attemptId, store, clock, log, config, faces, faceReady = () => true, handlers }) {
    const detectors = config.detectors || {};
    Object.assign(this, { log });
    this.drops = 0;
    this.reported = new Set();
    this.vault = new Vault(attemptId);
    const keep = (record) => this.keep(record);
    if (detectors.face) {
      const seconds = Math.max(10, Number(config.snapshot_interval_seconds) || 60);
      this.snapshots = new Snapshots({
        clock, interval: seconds * 1000, faces, faceReady, keep, level: () => this.level(),
      });
    }
    if (detectors.screen) {
      this.recorder = new ScreenRecorder({
        clock, store, keep, bitrate: () => this.bitrate(), failed: (reason, err) => this.failed(reason, err),
      });
    }
    this.uploader = new Uploader({
      base,
      vault: this.vault,
      dropped: (record, why) => this.dropped(record.type, why, record),
      claimIndex: (min) => (this.recorder ? this.recorder.claim(min) : min),
      handlers,
    });
  }

  /** The exam is on: capture from these streams; send what an earlier visit left. */
  start({ camera = null, screen = null } = {}) {
    this.uploader.start();
    if (this.snapshots) {
      this.snapshots.start(camera);
      // A snapshot at each face event's start and end, naming that event.
      this.unobserve = this.log.observe((m) => {
        if (FACE_KINDS.has(m.kind) && m.phase !== "instant") this.snapshots.take("event", m.seq);
      });
    }
    if (this.recorder) this.recorder.start(screen);
  }

  useCamera(stream) {
    if (this.snapshots) this.snapshots.use(stream);
  }

  useScreen(stream) {
    if (this.recorder) this.recorder.use(stream);
  }

  async keep(record) {
    try {
      await this.vault.add(record);
    } catch (err) {
      this.dropped(record.type, err instanceof VaultFull ? err.why : "storage_failed", record);
      return;
    }
    this.uploader.kick();
  }

  /** Snapshot size: smaller while uploads are slow or have fallen behind. */
  level() {
    const rate = this.uploader.rate;
    if (this.vault.bytes > 4096 * KiB || (rate !== null && rate < 48 * KiB)) return 2;
    if (this.vault.count > 2 || (rate !== null && rate < 256 * KiB)) return 1;
    return 0;
  }

  /** Recording bitrate: what the measured upload pace carries, lower while behind. */
  bitrate() {
    const rate = this.uploader.rate;
    const last = BITRATES.length - 1;
    let i = 1;
    if (rate !== null) {
      // Leave half the line for snapshots, events and answers.
      i = BITRATES.findIndex((bits, n) => n === last || bits / 8 <= rate / 2);
    }
    const behind = this.vault.kinds.segment;
    if (behind >= 4) i = last;
    else if (behind >= 2) i = Math.max(i, 2);
    return BITRATES[i];
  }

  /** Something will never reach the server: say so in the event stream. */
  dropped(type, why, record = {}) {
    this.drops += 1;
    const what = type === "segment" ? "recording_chunk" : "snapshot";
    const details = { detector: "capture", reason: "dropped", what, why: String(why).slice(0, 300) };
    if (type === "segment" && Number.isInteger(record.index)) details.segment_index = record.index;
    if (record.taken_at || record.started_at) details.at = record.taken_at || record.started_at;
    if (record.count) details.count = record.count;
    const key = `detector.failed:capture:dropped:${Date.now()}:${this.drops}`;
    this.log.start(key, "detector.failed", details);
    this.log.end(key, { detector: "capture", reason: "dropped", what });
  }

  /** The screen recorder cannot run in this browser. */
  failed(reason, err) {
    const details = { detector: "capture", reason };
    if (err) details.error = String(err && err.message ? err.message : err).slice(0, 200);
    this.log.start(`detector.failed:capture:${reason}`, "detector.failed", details);
  }

  get stats() {
    return {
      snapshots: this.snapshots ? this.snapshots.stats.taken : undefined,
      snapshotWidth: this.snapshots ? this.snapshots.stats.width : undefined,
      segments: this.recorder ? this.recorder.stats.segments : undefined,
      bitrate: this.recorder ? this.recorder.stats.bitrate : undefined,
      capturePending: this.vault.count,
      uploadedSnapshots: this.uploader.sent.snapshot,
      uploadedSegments: this.uploader.sent.segment,
      captureDropped: this.drops,
    };
  }

  /** No more capture (the submit is under way); resolves once the last segment is kept. */
  async stop() {
    if (this.unobserve) this.unobserve();
    this.unobserve = null;
    if (this.snapshots) this.snapshots.stop();
    if (this.recorder) await this.recorder.stop();
  }

  /**
   * Before the submit: send what is kept, for at most `ms`; whatever is left
   * then is reported as dropped (the attempt takes no upload once submitted).
   */
  async flush(ms) {
    // A recorder that never says it stopped must not hold up the submit.
    await Promise.race([this.stop(), sleep(Math.min(ms, 2000))]);
    if (await this.uploader.drain(ms)) return;
    // Reported once each, should the submit need another try.
    const left = (await this.vault.all()).filter((r) => !this.reported.has(r.id));
    for (const r of left) this.reported.add(r.id);
    for (const type of ["snapshot", "segment"]) {
      const these = left.filter((r) => r.type === type);
      if (!these.length) continue;
      const why = navigator.onLine === false ? "offline_at_submit" : "not_sent_before_submit";
      this.dropped(type, why, { count: these.length, ...(these.length === 1 ? these[0] : {}) });
    }
  }

  /** The attempt is over: stop sending and forget the device's copies. */
  forget() {
    this.uploader.stop();
    this.vault.forget();
  }

  /** Stop sending (another browser took over, the link was withdrawn): keep the copies. */
  halt() {
    this.uploader.stop();
  }
}
