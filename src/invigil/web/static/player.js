// Invigil's exam player: system check, begin, the exam, saving that never
// loses an answer, the server-synchronised timer, proctoring and the submit.
// Plain ES modules, no build step; the page's CSP allows only scripts from
// 'self'. The API it talks to is described in docs/candidate-api.md and
// docs/proctoring.md.

import { Api } from "./player/api.js";
import { Clock, Countdown } from "./player/clock.js";
import { systemCheck } from "./player/checks.js";
import { SubmitDialog } from "./player/dialog.js";
import { fill, h, say } from "./player/dom.js";
import { percent, t } from "./player/i18n.js";
import { explain } from "./player/problems.js";
import { Exam } from "./player/exam.js";
import { idPhotoStep } from "./player/idphoto.js";
import { Live } from "./player/live.js";
import { Proctor } from "./player/proctor.js";
import { Queue, Store } from "./player/store.js";
import { forgetEvidence } from "./player/vault.js";
import { OFFLINE_TEXT, Saver, answeredSeqs, batchOf, waitsForResume } from "./player/sync.js";

const HEARTBEAT_MS = 20_000;
const PAUSED_TEXT = () => t("Your exam is paused by the proctor. It is submitted when the proctor resumes it.");
// How long queued evidence may drain after the server ended the attempt (the
// server takes it for the attempt's grace period after the close).
const AFTER_CLOSE_MS = 60_000;
const boot = JSON.parse(document.getElementById("boot").textContent);
const $ = (id) => document.getElementById(id);
const ui = {
  stage: $("stage"),
  exam: $("exam"),
  gate: $("fullscreen-gate"),
  gateButton: $("fullscreen-enter"),
  gateError: $("fullscreen-error"),
  status: $("save-status"),
  banner: $("offline-banner"),
  timer: $("timer"),
  timerValue: $("timer-value"),
  extra: $("extra-time"),
  announcer: $("announcer"),
  submit: $("submit-open"),
  warnings: $("proctor-warnings"),
  notices: $("proctor-notices"),
  proctorStatus: $("proctor-status"),
};
const clock = new Clock();
const api = new Api(boot.api, clock);
const store = new Store(boot.storage_key);
const queue = new Queue(store);
const dialog = new SubmitDialog(document.querySelector("main"));
let saver = null;
let exam = null;
let proctor = null;
let countdown = null;
let live = null;
let heartbeatTimer = null;
let moveTimer = null;
let ended = false;
let submitting = false;
let leaving = null; // the drain after a server-side close, while it runs
let graceMs = 120_000;

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));
const backoff = (n) => Math.min(30_000, 1000 * 2 ** Math.min(n, 5));

function waitOnline(ms) {
  return new Promise((resolve) => {
    const done = () => {
      window.removeEventListener("online", done);
      window.clearTimeout(timer);
      resolve();
    };
    const timer = window.setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

function message(title, ...paragraphs) {
  ui.exam.hidden = true;
  ui.gate.hidden = true;
  ui.stage.hidden = false;
  fill(
    ui.stage,
    h("section", { class: "card message", role: "alert", "aria-labelledby": "message-h" },
      h("h2", { id: "message-h" }, title),
      paragraphs.map((p) => (typeof p === "string" ? h("p", {}, p) : p))),
  );
}

function stopAll({ keepSending = false } = {}) {
  ended = true;
  if (!keepSending) leaving = null;
  if (saver) saver.stop();
  if (countdown) countdown.stop();
  if (live) live.stop();
  if (exam) exam.lock();
  if (proctor && !keepSending) proctor.stop();
  window.clearInterval(heartbeatTimer);
  ui.submit.hidden = true;
  ui.timer.hidden = true;
}

function finish(url, { clear = false } = {}) {
  stopAll();
  // A submitted attempt takes no more events or evidence: nothing left to keep for it.
  if (proctor) proctor.stop({ forget: true });
  else forgetEvidence(boot.attempt_id);
  if (clear) store.clear(["queue", "times", "position", "seq"]);
  window.location.replace(url || boot.done_url);
}

/**
 * The server ended the attempt (the proctoring policy, the deadline): the
 * candidate is told at once, while evidence still queued on this device goes
 * out for a while (the server takes what was captured before the close);
 * then what is left is forgotten and the done page opens.
 */
function endedByServer(url) {
  if (leaving) return;
  if (submitting || !proctor || !proctor.sending) return finish(url);
  stopAll({ keepSending: true });
  if (dialog.el.open) dialog.el.close();
  const run = {};
  leaving = run;
  const go = () => {
    if (leaving !== run) return; // another browser took over, or the link went
    leaving = null;
    finish(url);
  };
  const next = h("button", { type: "button" }, t("Continue"));
  next.addEventListener("click", go);
  message(
    t("Your exam has ended"),
    t("The exam was closed for you: your saved answers are submitted."),
    h("p", { class: "muted", role: "status" }, t("Sending the last camera and screen recordings…")),
    next,
  );
  next.focus();
  proctor.drainAfterClose(Math.min(graceMs, AFTER_CLOSE_MS)).catch(() => {}).finally(go);
}

function showElsewhere() {
  stopAll();
  if (dialog.el.open) dialog.el.close();
  message(
    t("This exam is open in another browser"),
    t("An exam can be open in one browser only. Carry on in the browser where you started it."),
    t(
      "If you cannot, contact the organisation that invited you: they can release the exam so " +
        "that you can continue here. Answers this browser had not sent yet are kept on this device.",
    ),
  );
}

function showGone() {
  stopAll();
  if (dialog.el.open) dialog.el.close();
  message(
    t("This exam link no longer works"),
    t("The link may have been withdrawn or replaced. Contact the organisation that invited you."),
  );
}

/** Calls the API until it answers; network trouble shows a note and retries. */
async function persist(method, path, body, note) {
  for (let failures = 0; ; failures += 1) {
    try {
      return await api.call(method, path, body);
    } catch (err) {
      if (err.kind === "closed") return finish(boot.done_url);
      if (err.kind === "elsewhere") return showElsewhere();
      if (err.kind === "gone") return showGone();
      const type = (err.problem && typeof err.problem.type === "string" && err.problem.type) || "";
      if (type.endsWith(":no-face-seen")) {
        message(t("Your face has not been seen yet"),
          t("This exam watches your face, and the camera check has not seen it yet."),
          t("Sit in front of the camera in good light, then reload the page to check again."));
        return null;
      }
      if (type.endsWith(":exam-unavailable")) {
        message(t("This exam cannot start right now"),
          t("The organisation that invited you has to settle its account with Invigil first."),
          t("Please contact them; your invitation stays valid and you can start once they have."));
        return null;
      }
      if (err.kind !== "network" && err.kind !== "server") {
        message(t("Something went wrong"), t("The exam could not be opened."), explain(err),
          t("Reload the page to try again; if it keeps happening, contact the organisation that invited you."));
        return null;
      }
      fill(note, t("Cannot reach Invigil. Check your internet connection; we keep trying."));
      await waitOnline(backoff(failures));
    }
  }
}

async function main() {
  const note = h("p", { role: "status", class: "muted" }, t("Loading your exam…"));
  fill(ui.stage, h("section", { class: "card" }, note));
  let state = await persist("GET", "state", undefined, note);
  if (!state) return;
  if (state.status === "submitted") return finish(state.done_url);
  if (typeof state.grace_seconds === "number" && state.grace_seconds >= 0) graceMs = state.grace_seconds * 1000;
  const requirements = state.requirements || {};
  if (state.proctoring) {
    proctor = new Proctor({
      api,
      store,
      clock,
      attemptId: boot.attempt_id,
      config: state.proctoring,
      ui: { warnings: ui.warnings, notices: ui.notices, status: ui.proctorStatus },
      handlers: {
        submitted: () => endedByServer(boot.done_url),
        closed: () => endedByServer(boot.done_url),
        elsewhere: showElsewhere,
        gone: showGone,
      },
    });
  }
  const watchesFaces = Boolean(state.proctoring && state.proctoring.detectors && state.proctoring.detectors.face);
  const devices = await systemCheck(ui.stage, requirements, {
    resuming: state.status === "in_progress",
    keep: proctor ? proctor.wants() : {},
    face: state.status === "ready" && watchesFaces ? sendFaceCheck : null,
  });
  if (ended) return;
  if (proctor) proctor.preload();
  if (state.status === "ready") {
    if (state.proctoring && state.proctoring.id_photo && !store.read("id_photo", false)) {
      await takeIdPhoto(devices.camera);
      if (ended) return;
    }
    if (requirements.fullscreen) await enterFullscreenToBegin();
    fill(ui.stage, h("section", { class: "card" }, note));
    fill(note, t("Starting the exam…"));
    state = await persist("POST", "begin", {}, note);
    if (!state) return;
    if (state.status === "submitted") return finish(state.done_url);
  }
  start(state, requirements, devices);
}

/** One camera still to the server's face check (before an exam that watches faces begins). */
async function sendFaceCheck(blob) {
  const res = await fetch(`${boot.api}/face-check`, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": blob.type || "image/jpeg" },
    body: blob,
    credentials: "same-origin",
    cache: "no-store",
  });
  const data = await res.json().catch(() => null);
  if (!res.ok || !data) throw new Error((data && data.detail) || res.statusText);
  return data;
}

/** The policy asks for a photo of an ID before the clock starts. */
async function takeIdPhoto(kept) {
  let camera = kept;
  if (!camera) {
    try {
      camera = await navigator.mediaDevices.getUserMedia({ video: true });
    } catch {
      camera = null; // the server sees that no ID photo came; a reviewer decides
    }
  }
  if (!camera) return;
  await idPhotoStep(ui.stage, { base: boot.api, stream: camera });
  store.write("id_photo", true);
  if (!kept) for (const track of camera.getTracks()) track.stop();
}

function enterFullscreenToBegin() {
  const button = h("button", { type: "button", class: "big" }, t("Enter fullscreen"));
  const error = h("p", { class: "field-warning", role: "alert" });
  ui.stage.querySelector("section.card").append(
    h("div", { class: "ready-to-start" },
      h("p", {}, t("This exam runs in full screen. The timer starts when you enter full screen.")),
      button, error),
  );
  button.focus();
  return new Promise((resolve) => {
    button.addEventListener("click", async () => {
      try {
        await document.documentElement.requestFullscreen();
        resolve();
      } catch {
        error.textContent = t("Full screen was refused. Choose Enter fullscreen again; if it keeps failing, open the exam link in a browser tab of its own.");
      }
    });
  });
}

/**
 * An assessment the learning platform delivers (LTI Proctoring Services): no
 * questions here. The platform's assessment is framed under the bar while
 * proctoring and the heartbeat run as for Invigil's own exams; the
 * platform's end message submits the attempt, which the next heartbeat
 * hears (then the usual end: the last evidence drains, the done page).
 */
function startLms(requirements, devices) {
  ui.stage.hidden = true;
  exam = { position: 0, linear: false, lock() {}, reach() {}, settled() {} };
  saver = new Saver({
    api,
    queue,
    ui,
    handlers: {
      settled: () => {},
      failed: () => {},
      navigation: () => {},
      paused: () => {},
      closed: () => endedByServer(boot.done_url),
      elsewhere: showElsewhere,
      gone: showGone,
    },
  });
  const frame = h("iframe", {
    id: "lms-frame",
    name: "lms-assessment",
    class: "lms-frame",
    title: t("Your course's assessment"),
    src: boot.lms.url,
  });
  fill(ui.exam, h("p", { class: "muted lms-note" },
    t("Proctoring is on while you take your course's assessment below. Stay in this window until your course says you have finished.")),
  frame);
  ui.exam.hidden = false;
  if (proctor) proctor.start({ devices, position: () => 0, fullscreen: false });
  heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
  heartbeat();
}

function start(state, requirements, devices) {
  if (boot.lms) return startLms(requirements, devices);
  if (!Array.isArray(state.questions) || state.questions.length === 0) {
    message(t("This exam has no questions"), t("Contact the organisation that invited you."));
    return;
  }
  ui.stage.hidden = true;
  saver = new Saver({
    api,
    queue,
    ui,
    handlers: {
      settled: (results, res) => {
        exam.settled(results, res.last_seq);
        if (proctor) proctor.warn(res.warnings);
        if (live) live.heard(res);
        if (countdown && res.deadline) countdown.setDeadline(res.deadline);
        if (res.status === "submitted") endedByServer(boot.done_url);
      },
      failed: () => {},
      navigation: (problem) => exam.reach(problem && problem.furthest),
      // Answers refused while the proctor pauses the exam wait on the device;
      // the pause itself may not have reached this page yet.
      paused: () => {
        if (live) live.refresh();
      },
      closed: () => endedByServer(boot.done_url),
      elsewhere: showElsewhere,
      gone: showGone,
    },
  });
  exam = new Exam({ root: ui.exam, state, queue, saver, clock, store, barSubmit: ui.submit, onSubmit: confirmSubmit });
  exam.onMove = () => {
    window.clearTimeout(moveTimer);
    if (exam.linear) moveOn();
    else moveTimer = window.setTimeout(heartbeat, 1500);
  };
  ui.exam.hidden = false;
  if (state.deadline) {
    countdown = new Countdown({
      box: ui.timer,
      value: ui.timerValue,
      announcer: ui.announcer,
      clock,
      onExpire: expire,
      // What was typed in the last seconds goes out now, not after the typing pause:
      // the server takes answers that arrive after the deadline only from offline work.
      onTick: (left) => {
        if (left < 3000 && left > 0 && queue.size && !saver.inflight) saver.flush();
      },
    });
    countdown.start(state.deadline);
    if (Number(state.extra_time_percent) > 0) {
      ui.extra.textContent = t("includes your %(percent)s extra time", { percent: percent(Number(state.extra_time_percent)) });
      ui.extra.hidden = false;
    }
  }
  ui.submit.addEventListener("click", confirmSubmit);
  if (requirements.fullscreen) {
    document.addEventListener("fullscreenchange", gate);
    ui.gateButton.addEventListener("click", () => {
      ui.gateError.textContent = "";
      document.documentElement.requestFullscreen().catch(() => {
        ui.gateError.textContent = t("Full screen was refused. Choose Enter fullscreen again.");
      });
    });
    gate();
  }
  if (proctor) {
    proctor.start({ devices, position: () => exam.position, fullscreen: Boolean(requirements.fullscreen) });
  }
  // A proctor watching live: messages, added time, pause and resume, the end, room checks.
  live = new Live({
    api,
    base: boot.api,
    clock,
    host: document.querySelector("main"),
    notices: ui.notices,
    announcer: ui.announcer,
    exam,
    countdown,
    saver,
    deadline: state.deadline,
    camera: () => (proctor ? proctor.camera() : null),
    handlers: { closed: () => endedByServer(boot.done_url) },
  });
  live.start();
  heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
  // Linear: say at once where this page stands; a move still in flight from
  // before a reload that lands first is answered with the question reached.
  if (exam.linear) moveOn();
  else saver.flush();
  if (!ui.exam.hidden) document.getElementById("question-h").focus();
}

/** Fullscreen exams are shown only in full screen; otherwise a cover asks to return. */
function gate() {
  if (ended) return;
  const full = Boolean(document.fullscreenElement);
  const wasCovered = !ui.gate.hidden;
  ui.gate.hidden = full;
  ui.exam.hidden = !full;
  if (!full && !wasCovered) ui.gateButton.focus();
  if (full && wasCovered) document.getElementById("question-h").focus();
}

/**
 * Linear navigation: the answers given so far go first, then the move, at
 * once and surviving a reload (keepalive), so that the server -- which
 * refuses changes to questions behind the furthest one reached -- has both.
 */
async function moveOn() {
  await saver.flush();
  heartbeat({ keepalive: true });
}

async function heartbeat({ keepalive = false } = {}) {
  if (ended) return;
  window.clearTimeout(moveTimer);
  // Linear: a move is sent only once no answer is waiting to go before it.
  const position = exam.linear && queue.size ? undefined : exam.position;
  try {
    const res = await api.call("POST", "heartbeat", { position }, { keepalive });
    if (res.status === "submitted") return endedByServer(boot.done_url);
    if (proctor) proctor.warn(res.warnings);
    // The live state's fallback when its stream does not get through.
    if (live) live.heard(res);
    if (countdown && res.deadline) countdown.setDeadline(res.deadline);
    if (queue.size) saver.flush();
    else if (saver.offline) saver.setOffline(false);
  } catch (err) {
    if (err.kind === "network") saver.goOffline();
    else if (err.kind === "closed") endedByServer(boot.done_url);
    else if (err.kind === "elsewhere") showElsewhere();
    else if (err.kind === "gone") showGone();
    else if (err.kind === "navigation") exam.reach(err.problem && err.problem.furthest);
  }
}

/**
 * The time is up on this device: unless the proctor has paused the exam (the
 * pause freezes the clock; this page may not have heard of it yet), submit.
 */
async function expire() {
  if (ended) return;
  if (live) {
    await Promise.race([live.refresh(), sleep(2000)]);
    if (live.paused) return;
  }
  submit("time");
}

async function confirmSubmit() {
  if (ended || dialog.busy) return;
  const yes = await dialog.ask(exam.summary());
  if (yes) submit("candidate");
}

/** Flush the queue with the submit; keep trying until the server has it. */
async function submit(reason) {
  if (ended) return;
  ended = true;
  submitting = true;
  saver.stop();
  if (live) live.stop();
  exam.lock();
  window.clearInterval(heartbeatTimer);
  dialog.submitting(reason === "time" ? t("Time is up") : null);
  // No more observations; the screen recorder closes its last segment.
  if (proctor) proctor.quiet();
  let drain = Boolean(proctor);
  for (let failures = 0; ; failures += 1) {
    if (navigator.onLine === false) {
      saver.goOffline();
      dialog.say(OFFLINE_TEXT() + " " + t("Your exam is submitted as soon as it does."));
      await waitOnline(backoff(failures));
      continue;
    }
    if (drain) {
      // The last events and evidence go in before the attempt closes to them
      // (what cannot is reported as dropped); briefly when the time is up, as
      // the last answers must arrive within seconds.
      drain = false;
      await (reason === "time" ? proctor.drain(1000, 1000) : proctor.drain(3000, 10_000));
    }
    try {
      const items = queue.items();
      const batch = batchOf(items);
      if (batch.length < items.length) {
        // More than one request carries: the first answers go as a save.
        const saved = await api.call("POST", "answers", { items: batch });
        const results = Array.isArray(saved.results) ? saved.results : [];
        queue.settle(answeredSeqs(results));
        if (results.some(waitsForResume)) {
          // Kept on the device: sent once the proctor resumes the exam.
          dialog.say(PAUSED_TEXT());
          await waitOnline(backoff(failures));
          continue;
        }
        failures = -1;
        continue;
      }
      const res = await api.call("POST", "submit", { items });
      return finish(res.done_url, { clear: true });
    } catch (err) {
      if (err.kind === "closed") return finish(boot.done_url, { clear: true });
      if (err.kind === "elsewhere") return showElsewhere();
      if (err.kind === "gone") return showGone();
      if (err.kind === "navigation" && saver.dropClosed(err)) continue; // submit the rest
      if (err.kind === "network") {
        saver.goOffline();
        dialog.say(OFFLINE_TEXT() + " " + t("Your exam is submitted as soon as it does."));
      } else if (err.kind === "paused") {
        dialog.say(PAUSED_TEXT());
      } else {
        dialog.say(`${t("The server has not taken the submission yet.")} ${explain(err)} ${t("Trying again…")}`);
      }
      await waitOnline(backoff(failures));
    }
  }
}

main().catch((err) => {
  message(t("Something went wrong"), t("The exam player stopped."), explain(err),
    t("Reload the page; your answers are kept on this device and on the server."));
  say(ui.announcer, t("The exam player stopped. Reload the page."));
});
