// Proctoring in the candidate's page: runs the detectors the attempt's policy
// turns on (state.proctoring.detectors), feeds the EventLog, captures the
// evidence (webcam snapshots, the shared screen: capture.js), and shows the
// candidate what the server decided (warnings in the rule's words) and what they
// can fix themselves (a camera too dark, sharing stopped), the latter in
// calm words: a detector that cannot run is never held against anyone.
// The browser reports; the server decides (docs/proctoring.md).

import { Capture } from "./capture.js";
import { FaceWatch, loadDetector } from "./face.js";
import { VoiceWatch } from "./audio.js";
import { DevtoolsWatch, keyName } from "./devtools.js";
import { EventLog } from "./events.js";
import { h } from "./dom.js";
import { watchClipboard, watchFocus, watchFullscreen, watchNetwork, watchPrintKeys } from "./signals.js";
import { said, t } from "./i18n.js";

// Kinds whose watcher re-reads the condition when it starts: an episode left
// open by a reload simply goes on (or ends) when it does. Others are closed
// at a reload and opened again by their detector if the condition holds.
const RECHECKED = new Set(["tab.hidden", "focus.lost", "fullscreen.exit", "network.offline"]);
const MUTED_MS = 1000;
const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

export class Proctor {
  /**
   * config: state.proctoring; ui: {warnings, notices, status};
   * handlers: {submitted(), closed(), elsewhere(), gone()}.
   */
  constructor({ api, store, clock, attemptId, config, ui, handlers }) {
    Object.assign(this, { config, ui, handlers });
    this.detectors = config.detectors || {};
    this.stats = { face: {}, audio: {} };
    this.undo = [];
    this.watchers = [];
    this.noticeTimers = new Map();
    this.log = new EventLog({
      api, store, clock, attemptId, server: config,
      handlers: {
        answered: (res) => this.answered(res),
        closed: () => handlers.closed(),
        elsewhere: () => handlers.elsewhere(),
        gone: () => handlers.gone(),
      },
    });
    this.log.flush(); // whatever an earlier visit left on the device
    if (this.detectors.face || this.detectors.screen) {
      this.capture = new Capture({
        base: api.base, attemptId, store, clock, log: this.log, config,
        faces: () => (this.face ? this.face.current() : null),
        // The first snapshot waits (a little) for the face check's first count or its failure.
        faceReady: () => !this.detectors.face || this.faceBroken
          || Boolean(this.face && (this.face.current() !== null || this.face.failing())),
        handlers: {
          closed: () => handlers.closed(),
          elsewhere: () => handlers.elsewhere(),
          gone: () => handlers.gone(),
        },
      });
    }
  }

  /** The devices the system check should keep open for the detectors. */
  wants() {
    return { camera: Boolean(this.detectors.face), microphone: Boolean(this.detectors.audio), screen: Boolean(this.detectors.screen) };
  }

  /** Fetch the face model while the candidate gets ready. */
  preload() {
    if (this.detectors.face) loadDetector().catch(() => {});
  }

  /** The exam is on: start every detector the policy asks for. */
  start({ devices = {}, position, fullscreen }) {
    const d = this.detectors;
    const log = this.log;
    this.devices = devices;
    this.cameraStream = devices.camera || null;
    const notice = (key, text, ttl) => this.notice(key, text, ttl);
    const owned = new Set();
    if (d.focus) {
      watchFocus(log, this.undo);
      owned.add("tab.hidden").add("focus.lost");
    }
    if (d.fullscreen && fullscreen) {
      watchFullscreen(log, this.undo);
      owned.add("fullscreen.exit");
    }
    watchNetwork(log, this.undo);
    owned.add("network.offline");
    if (d.clipboard) {
      watchClipboard(log, this.undo, { position, notice });
      watchPrintKeys(log, this.undo, { position, keyName });
    }
    for (const key of log.openKeys()) {
      if (!(RECHECKED.has(key) && owned.has(key))) log.end(key, { reason: "reload" });
    }
    // Capture first, and apart from the detectors: a face check that cannot
    // run must not stop the snapshots the server judges instead.
    if (this.capture) this.capture.start({ camera: devices.camera || null, screen: devices.screen || null });
    if (d.devtools) this.watch(new DevtoolsWatch({ log })).start();
    if (d.face) {
      try {
        this.face = this.watch(new FaceWatch({ log, config: this.config, notice, stats: this.stats.face }));
        this.face.start(devices.camera || null).catch(() => {});
      } catch (err) {
        this.faceBroken = true;
        log.start("detector.failed:face:script_failed", "detector.failed", {
          detector: "face", reason: "script_failed", error: String(err && err.message ? err.message : err).slice(0, 200),
        });
      }
      this.watchTrack(devices.camera, "camera");
    }
    if (d.audio) this.watch(new VoiceWatch({ log, config: this.config, notice, stats: this.stats.audio })).start(devices.microphone || null);
    if (d.screen) this.watchTrack(devices.screen, "screen");
    this.showStatus(devices);
  }

  /** The camera stream the detectors and snapshots use now, while it is live; else null. */
  camera() {
    const stream = this.cameraStream;
    const track = stream && stream.getVideoTracks()[0];
    return track && track.readyState === "live" ? stream : null;
  }

  watch(watcher) {
    this.watchers.push(watcher);
    return watcher;
  }

  /** camera.stopped / screen.share_stopped: the track ended, or stayed muted. */
  watchTrack(stream, what) {
    const track = stream && stream.getVideoTracks()[0];
    if (!track) return;
    const kind = what === "camera" ? "camera.stopped" : "screen.share_stopped";
    let timer = null;
    const stopped = (reason) => {
      this.log.start(kind, kind, { reason });
      this.notice(kind, what === "camera"
        ? t("Your camera stopped. Turn it back on to continue with the camera check.")
        : t("Screen sharing stopped. Share your entire screen again."), 0,
      h("button", { type: "button", class: "secondary small", onclick: () => this.restart(what) },
        what === "camera" ? t("Turn camera on") : t("Share screen again")));
    };
    track.addEventListener("ended", () => stopped("ended"));
    track.addEventListener("mute", () => {
      timer = window.setTimeout(() => stopped("muted"), MUTED_MS);
    });
    track.addEventListener("unmute", () => {
      window.clearTimeout(timer);
      if (this.log.isOpen(kind) && track.readyState === "live") {
        this.log.end(kind, { reason: "unmuted" });
        this.notice(kind, null);
      }
    });
    this.undo.push(() => track.stop());
  }

  async restart(what) {
    const kind = what === "camera" ? "camera.stopped" : "screen.share_stopped";
    try {
      const stream = what === "camera"
        ? await navigator.mediaDevices.getUserMedia({ video: true })
        : await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      const [track] = stream.getVideoTracks();
      const surface = track && track.getSettings ? track.getSettings().displaySurface : undefined;
      if (what === "screen" && surface && surface !== "monitor") {
        for (const track of stream.getTracks()) track.stop();
        this.notice("screen.share_stopped", t("Share your entire screen, not a window or a tab: choose Share screen again and pick Entire screen."), 0,
          h("button", { type: "button", class: "secondary small", onclick: () => this.restart("screen") }, t("Share screen again")));
        return;
      }
      this.log.end(kind, { reason: "restarted" });
      this.notice(kind, null);
      if (what === "camera") this.cameraStream = stream;
      if (what === "camera" && this.face) this.face.useStream(stream);
      if (this.capture) {
        if (what === "camera") this.capture.useCamera(stream);
        else this.capture.useScreen(stream);
      }
      this.watchTrack(stream, what);
    } catch {
      // Still stopped: the notice and its button stay.
    }
  }

  /** A response to events, answers or heartbeat: warnings to show, maybe the end. */
  answered(res) {
    if (!res) return;
    this.warn(res.warnings);
    if (res.status === "submitted") this.handlers.submitted();
  }

  /**
   * One dismissible banner per rule; a new warning for a rule replaces its
   * old one. The candidate reads the rule's message and what to do, never
   * the rule's id (kept as data-rule, for tests and styles only).
   */
  warn(warnings) {
    if (!Array.isArray(warnings)) return;
    for (const w of warnings) {
      if (!w || typeof w.message !== "string") continue;
      const rule = String(w.rule || "");
      const old = Array.from(this.ui.warnings.children).find((el) => el.dataset.rule === rule);
      const dismiss = h("button", { type: "button", class: "secondary small", "aria-label": t("Dismiss this warning") }, t("Dismiss"));
      const back = w.kind === "fullscreen.exit" && document.fullscreenEnabled
        ? h("button", { type: "button", class: "small" }, t("Return to full screen"))
        : null;
      const banner = h("div", { class: "proctor-warning", role: "alert", "data-rule": rule },
        h("p", {}, h("strong", {}, t("Warning:"), " "), said(w.message)),
        back,
        dismiss);
      const close = () => {
        const hadFocus = banner.contains(document.activeElement);
        banner.remove();
        if (hadFocus) {
          const heading = document.getElementById("question-h");
          if (heading && !heading.closest("[hidden]")) heading.focus();
        }
      };
      dismiss.addEventListener("click", close);
      if (back) {
        back.addEventListener("click", async () => {
          try {
            await document.documentElement.requestFullscreen();
            close();
          } catch {
            // The browser refused: the full-screen gate below still offers its button.
          }
        });
      }
      if (old) old.replaceWith(banner);
      else this.ui.warnings.append(banner);
    }
  }

  /** A calm note about something the candidate can fix; text null removes it. */
  notice(key, text, ttl = 0, action = null) {
    const box = this.ui.notices;
    const old = Array.from(box.children).find((el) => el.dataset.key === key);
    window.clearTimeout(this.noticeTimers.get(key));
    if (!text) {
      if (old) old.remove();
      return;
    }
    if (old && old.firstChild && old.firstChild.textContent === text && !action) return;
    const note = h("div", { class: "proctor-notice", "data-key": key }, h("p", {}, text), action);
    if (old) old.replaceWith(note);
    else box.append(note);
    if (ttl > 0) this.noticeTimers.set(key, window.setTimeout(() => this.notice(key, null), ttl));
  }

  showStatus(devices) {
    const used = [];
    if (this.detectors.face && devices.camera) used.push("camera");
    if (this.detectors.audio && devices.microphone) used.push("microphone");
    if (this.detectors.screen && devices.screen) used.push("screen");
    const el = this.ui.status;
    const words = { camera: t("camera"), microphone: t("microphone"), screen: t("screen") };
    el.textContent = used.length
      ? t("Proctored: %(devices)s", { devices: used.map((d) => words[d]).join(", ") })
      : t("Proctored: browser activity");
    el.hidden = false;
    const refresh = () => {
      const { face, audio } = this.stats;
      for (const [name, value] of Object.entries({
        faceChecks: face.checks, faceMs: face.ms, faces: face.faces, backend: face.backend,
        luminance: face.luminance, audioLevel: audio.level, audioThreshold: audio.threshold,
        events: this.log.size, ...(this.capture ? this.capture.stats : {}),
      })) {
        if (value !== undefined) el.dataset[name] = String(value);
      }
    };
    this.statusTimer = window.setInterval(refresh, 1000);
  }

  /** No more observations (the submit is under way); the queues still go out. */
  quiet() {
    // The recorder stops before the screen's track does, so its last segment is whole.
    if (this.capture) this.capture.stop();
    window.clearInterval(this.statusTimer);
    for (const w of this.watchers.splice(0)) w.stop();
    for (const fn of this.undo.splice(0)) fn();
  }

  /**
   * Before the submit: give queued events `ms` and queued evidence `uploadMs`
   * to reach the server; evidence still on the device then is reported as
   * dropped (a submitted attempt takes no uploads), and that report goes too.
   */
  async drain(ms = 3000, uploadMs = ms) {
    if (!this.capture) return this.log.drain(ms);
    await Promise.all([this.capture.flush(uploadMs), this.log.drain(ms)]);
    if (this.log.size) await this.log.drain(Math.min(ms, 1000));
  }

  /** Whether evidence capture has started (and may have something queued). */
  get sending() {
    return Boolean(this.capture && this.capture.uploader.started);
  }

  /**
   * The server ended the attempt (auto-submit, the deadline) while evidence
   * was still queued on this device, often the evidence of why it ended: it
   * takes that for a while after the close (docs/proctoring.md, "Evidence
   * capture"). Send it for at most `ms`, then forget what is left. Events are
   * not sent: a submitted attempt takes none.
   */
  async drainAfterClose(ms) {
    const capture = this.capture;
    const until = Date.now() + ms;
    const kept = capture ? capture.stop() : null; // the recorder's last segment
    this.quiet();
    this.log.stop();
    if (capture && capture.uploader.started) {
      await Promise.race([kept, sleep(Math.min(ms, 2000))]);
      // Unlike before a submit, network trouble does not end the wait: the window does.
      while (!capture.uploader.stopped && Date.now() < until) {
        if (await capture.uploader.drain(until - Date.now())) break;
        await sleep(Math.min(2000, Math.max(0, until - Date.now())));
      }
    }
    this.stop({ forget: true });
  }

  stop({ forget = false } = {}) {
    this.quiet();
    for (const stream of Object.values(this.devices || {})) {
      if (stream) for (const track of stream.getTracks()) track.stop();
    }
    this.log.stop();
    if (this.capture) {
      if (forget) this.capture.forget();
      else this.capture.halt();
    }
    if (forget) this.log.forget();
  }
}
