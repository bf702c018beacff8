// Faces in the camera picture, counted about once a second with face-api's
// Tiny Face Detector (served by Invigil from the npm package, never a CDN).
// face.none / face.multiple start only once the condition has lasted the
// policy's face_persist_seconds and end when it stops; one contrary sample
// is forgiven either way, so a single missed frame neither resets a pending
// condition nor ends an episode. A picture too dark to judge, a model that
// will not load or a camera that is gone is detector.failed: the candidate is
// told what to fix, and it is never a violation by itself.

import { t } from "./i18n.js";

const LIBRARY = "/vendor/face-api/dist/face-api.esm.js";
const MODELS = "/vendor/face-api/model";
const INPUT_SIZE = 416; // 320 missed the smaller faces of two people side by side
const MIN_SCORE = 0.5;
const DARK = 0.08; // mean luminance (0..1) below which faces cannot be judged
const RETRY_MS = 20_000; // a model that failed to load is fetched again this often
const FORGIVE = 1; // contrary samples forgiven before a condition resets or ends
const BROKEN = 3; // detections failing in a row: the detector stopped working

let library = null;

/** Load face-api, its fastest working backend and the detector model, once. */
export function loadDetector() {
  if (!library) {
    library = (async () => {
      const faceapi = await import(LIBRARY);
      const { tf } = faceapi;
      let backend = null;
      for (const name of ["webgl", "cpu"]) {
        try {
          if ((await tf.setBackend(name)) !== false) {
            await tf.ready();
            backend = tf.getBackend();
            break;
          }
        } catch {
          // try the next one
        }
      }
      if (!backend) throw new Error("no TensorFlow.js backend could start");
      await faceapi.nets.tinyFaceDetector.loadFromUri(MODELS);
      return { faceapi, backend };
    })();
    library.catch(() => {
      library = null; // a later call may try again
    });
  }
  return library;
}

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

export class FaceWatch {
  /**
   * log: the EventLog; config: state.proctoring; notice(key, text|null);
   * stats: an object the watcher keeps current (checks, ms, faces, backend).
   */
  constructor({ log, config, notice, stats }) {
    Object.assign(this, { log, notice, stats });
    this.interval = Math.max(250, Number(config.face_interval_ms) || 1000);
    this.persist = Math.max(0, Number(config.face_persist_seconds) || 3) * 1000;
    this.pending = { none: null, multiple: null, dark: null };
    this.misses = { none: 0, multiple: 0, dark: 0 };
    this.stopped = false;
    this.errors = 0;
    this.last = null; // {faces, at}: the latest count, for the snapshots
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.canvas = document.createElement("canvas");
    this.canvas.width = 40;
    this.canvas.height = 30;
  }

  /** Watch `stream` (null: the camera is not available). */
  async start(stream) {
    if (!stream || !stream.getVideoTracks().length) {
      this.fail("camera_unavailable", t("The camera is not available, so we cannot check that you are in view. Allow the camera for this site, then reload the page."));
      return;
    }
    this.useStream(stream);
    let loaded = null;
    while (!loaded && !this.stopped) {
      try {
        loaded = await loadDetector();
      } catch (err) {
        this.fail("model_load_failed", t("The face check could not start. We keep trying; if this goes on, reload the page."), { error: String(err && err.message ? err.message : err).slice(0, 200) });
        await sleep(RETRY_MS);
      }
    }
    if (!loaded) return;
    this.recover("model_load_failed");
    this.faceapi = loaded.faceapi;
    this.backend = loaded.backend;
    this.stats.backend = loaded.backend;
    this.options = new this.faceapi.TinyFaceDetectorOptions({ inputSize: INPUT_SIZE, scoreThreshold: MIN_SCORE });
    this.loop();
  }

  useStream(stream) {
    this.stream = stream;
    this.video.srcObject = stream;
    this.video.play().catch(() => {});
    this.recover("camera_unavailable");
  }

  async loop() {
    while (!this.stopped) {
      const began = performance.now();
      try {
        await this.check();
      } catch (err) {
        const error = String(err && err.message ? err.message : err).slice(0, 200);
        this.stats.error = error;
        this.last = null;
        this.errors += 1;
        if (this.errors === BROKEN) {
          this.fail("check_failed", t("The face check stopped working. We keep trying; if this goes on, reload the page."), { error });
        }
      }
      const spent = performance.now() - began;
      // Never two detections at once: a slow device simply checks less often.
      await sleep(Math.max(this.interval - spent, spent / 4, 50));
    }
  }

  async check() {
    const v = this.video;
    const [track] = this.stream.getVideoTracks();
    if (!track || track.readyState !== "live" || track.muted) return; // camera.stopped says why
    if (v.readyState < 2 || !v.videoWidth) return;
    const now = this.log.clock.now();
    const light = this.luminance();
    this.stats.luminance = Math.round(light * 1000) / 1000;
    if (light < DARK) {
      this.last = null;
      this.observe("dark", now, { luminance: this.stats.luminance });
      return;
    }
    this.observe("lit", now, {});
    const began = performance.now();
    const found = await this.faceapi.detectAllFaces(v, this.options);
    const ms = Math.round(performance.now() - began);
    if (this.stopped) return;
    const faces = found.length;
    const score = faces ? Math.round(Math.max(...found.map((d) => d.score)) * 1000) / 1000 : 0;
    Object.assign(this.stats, { checks: (this.stats.checks || 0) + 1, ms, faces });
    this.last = { faces, at: performance.now() };
    if (this.errors) {
      if (this.errors >= BROKEN) this.recover("check_failed");
      this.errors = 0;
    }
    this.observe(faces === 0 ? "none" : faces > 1 ? "multiple" : "one", now, {
      faces, score, detector: "tiny_face_detector", backend: this.backend, input_size: INPUT_SIZE, ms,
    });
  }

  /** The faces counted in the latest picture, if that is recent; else null (unknown). */
  current() {
    if (this.stopped || !this.last) return null;
    const fresh = Math.max(3 * this.interval, 5000);
    return performance.now() - this.last.at <= fresh ? this.last.faces : null;
  }

  /** A face-detector failure is open (the model did not load, the picture is too dark...). */
  failing() {
    return this.log.openKeys().some((key) => key.startsWith("detector.failed:face:"));
  }

  luminance() {
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    const px = ctx.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
    return sum / (px.length / 4) / 255;
  }

  /** One sample: "none" | "multiple" | "one" (a face count) or "dark" | "lit". */
  observe(what, now, details) {
    if (what === "dark" || what === "lit") {
      // Faces cannot be counted in a dark picture: a face condition not yet
      // reported starts over (an open episode ends by the rules below).
      for (const c of ["none", "multiple"]) {
        if (what === "dark" && !this.log.isOpen(`face.${c}`)) this.pending[c] = null;
      }
      this.track("dark", what === "dark", now, details, () => {
        for (const c of ["none", "multiple"]) this.log.end(`face.${c}`, { reason: "too_dark" });
        this.fail("too_dark", t("Your camera picture is very dark, so we cannot see your face. Turn on a light or face a window."), details);
      }, () => this.recover("too_dark"));
      return;
    }
    for (const c of ["none", "multiple"]) {
      this.track(c, what === c, now, details,
        (since) => this.log.start(`face.${c}`, `face.${c}`, details, since),
        () => this.log.end(`face.${c}`, { faces: details.faces, score: details.score }));
    }
  }

  /** Persistence with one forgiven contrary sample, for condition `c`. */
  track(c, holds, now, details, begin, finish) {
    if (holds) {
      this.misses[c] = 0;
      if (this.pending[c] === null) this.pending[c] = now;
      if (now - this.pending[c] >= this.persist) begin(this.pending[c]);
      return;
    }
    if (this.pending[c] === null) return;
    this.misses[c] += 1;
    if (this.misses[c] > FORGIVE) {
      this.pending[c] = null;
      this.misses[c] = 0;
      finish();
    }
  }

  fail(reason, text, details = {}) {
    this.log.start(`detector.failed:face:${reason}`, "detector.failed", { detector: "face", reason, ...details });
    this.notice(`face:${reason}`, text);
  }

  recover(reason) {
    this.log.end(`detector.failed:face:${reason}`, { detector: "face", reason });
    this.notice(`face:${reason}`, null);
  }

  stop() {
    this.stopped = true;
    this.video.srcObject = null;
  }
}
