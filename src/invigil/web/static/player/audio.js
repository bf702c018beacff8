// Voices near the candidate, from the microphone with Web Audio: the signal
// is band-passed to the speech band (300-3400 Hz) and sampled every 100 ms.
// A sample is voiced when its level (RMS, 0..1) is over the threshold and its
// spectrum is peaky like a voice rather than flat like clicks and rustle
// (spectral flatness; measured here: speech below 0.1, typing 0.34-0.61).
// The threshold is the policy's audio_threshold, raised above the room's own
// noise floor (three times the 10th percentile of the last 10 s). Voiced
// samples with pauses shorter than GAP_MS make one run; a run that lasts
// audio_persist_seconds starts audio.voice, which ends after END_MS of quiet.
// Nothing is recorded: only levels leave the page.

import { t } from "./i18n.js";

const TICK_MS = 100;
const GAP_MS = 700;
const END_MS = 1500;
const FLAT = 0.25;
const FLOOR_SAMPLES = 100;

export class VoiceWatch {
  /** log: the EventLog; config: state.proctoring; notice(key, text|null); stats. */
  constructor({ log, config, notice, stats }) {
    Object.assign(this, { log, notice, stats });
    this.threshold = Number(config.audio_threshold) || 0.02;
    this.persist = Math.max(0, Number(config.audio_persist_seconds) || 2) * 1000;
    this.levels = [];
    this.run = null; // {since, last, peak, sum, n}
    this.timer = null;
  }

  start(stream) {
    if (!stream || !stream.getAudioTracks().length) {
      this.fail("microphone_unavailable", t("The microphone is not available. Allow the microphone for this site, then reload the page."));
      return;
    }
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      this.fail("unsupported", t("This browser cannot check the microphone. Use a current version of Chrome, Edge, Firefox or Safari."));
      return;
    }
    this.ctx = new Context();
    const source = this.ctx.createMediaStreamSource(stream);
    const high = new BiquadFilterNode(this.ctx, { type: "highpass", frequency: 300, Q: Math.SQRT1_2 });
    const low = new BiquadFilterNode(this.ctx, { type: "lowpass", frequency: 3400, Q: Math.SQRT1_2 });
    this.analyser = new AnalyserNode(this.ctx, { fftSize: 2048, smoothingTimeConstant: 0 });
    source.connect(high);
    high.connect(low);
    low.connect(this.analyser);
    this.wave = new Float32Array(this.analyser.fftSize);
    this.spectrum = new Float32Array(this.analyser.frequencyBinCount);
    const hz = this.ctx.sampleRate / this.analyser.fftSize;
    this.bins = [Math.ceil(300 / hz), Math.floor(3400 / hz)];
    // Audio may only start after a click or key press in some browsers.
    this.wake = () => {
      if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    };
    for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, this.wake, true);
    this.wake();
    this.startedAt = performance.now();
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
  }

  tick() {
    if (this.ctx.state !== "running") {
      if (performance.now() - this.startedAt > 5000) {
        this.fail("suspended", t("The browser has paused sound for this page: click anywhere in the exam to let the microphone check run."));
      }
      return;
    }
    this.recover("suspended");
    const level = this.level();
    const flat = level > 0 ? this.flatness() : 1;
    this.levels.push(level);
    if (this.levels.length > FLOOR_SAMPLES) this.levels.shift();
    const floor = [...this.levels].sort((a, b) => a - b)[Math.floor(this.levels.length / 10)] || 0;
    const threshold = Math.max(this.threshold, floor * 3);
    this.stats.level = Math.round(level * 1000) / 1000;
    this.stats.threshold = Math.round(threshold * 1000) / 1000;
    this.observe(level > threshold && flat < FLAT, level, threshold, this.log.clock.now());
  }

  level() {
    this.analyser.getFloatTimeDomainData(this.wave);
    let sum = 0;
    for (const x of this.wave) sum += x * x;
    return Math.sqrt(sum / this.wave.length);
  }

  /** Geometric over arithmetic mean of the band's power spectrum: 1 flat, 0 tonal. */
  flatness() {
    this.analyser.getFloatFrequencyData(this.spectrum);
    let logs = 0;
    let sum = 0;
    const [lo, hi] = this.bins;
    for (let i = lo; i <= hi; i += 1) {
      const p = 10 ** (this.spectrum[i] / 10) + 1e-12;
      logs += Math.log(p);
      sum += p;
    }
    const n = hi - lo + 1;
    return Math.exp(logs / n) / (sum / n);
  }

  observe(voiced, level, threshold, now) {
    const run = this.run;
    if (voiced) {
      if (!run || now - run.last > GAP_MS) {
        if (run && this.log.isOpen("audio.voice") && now - run.last <= END_MS) {
          run.last = now; // the same conversation goes on
        } else {
          this.run = { since: now, last: now, peak: level, sum: 0, n: 0 };
        }
      }
      const r = this.run;
      r.last = now;
      r.peak = Math.max(r.peak, level);
      r.sum += level;
      r.n += 1;
      if (now - r.since >= this.persist && !this.log.isOpen("audio.voice")) {
        this.log.start("audio.voice", "audio.voice", {
          level: round(r.sum / r.n), peak: round(r.peak), threshold: round(threshold),
        }, r.since);
      }
      return;
    }
    if (run && now - run.last > END_MS) {
      if (this.log.isOpen("audio.voice")) {
        this.log.end("audio.voice", { level: round(run.sum / run.n), peak: round(run.peak) });
      }
      this.run = null;
    }
  }

  fail(reason, text) {
    this.log.start(`detector.failed:audio:${reason}`, "detector.failed", { detector: "audio", reason });
    this.notice(`audio:${reason}`, text);
  }

  recover(reason) {
    if (!this.log.isOpen(`detector.failed:audio:${reason}`)) return;
    this.log.end(`detector.failed:audio:${reason}`, { detector: "audio", reason });
    this.notice(`audio:${reason}`, null);
  }

  stop() {
    window.clearInterval(this.timer);
    if (this.wake) for (const type of ["pointerdown", "keydown"]) document.removeEventListener(type, this.wake, true);
    if (this.ctx) this.ctx.close().catch(() => {});
  }
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}
