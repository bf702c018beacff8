// Live proctoring, the candidate's side: a proctor watching the exam may
// write to the candidate, add time, pause and resume the exam, end it, or
// ask for a room check (a short camera recording of the room).
//
// The server says that something happened on an event stream (GET
// api/live/stream, `event: live` with {live_seq}); heartbeat and answers
// responses carry live_seq and paused_at too, for when the stream cannot get
// through (a proxy that buffers it, a reconnect). When live_seq grows, the
// player reads the whole live state (GET api/live) and acts on it: each
// message not yet acknowledged in a dialog of its own, the pause (the exam
// locked, the clock frozen at deadline - paused_at), added time, the end,
// a room check. What the proctor writes is shown as text, never as HTML.

import { call } from "./uploader.js";
import { parseTime } from "./clock.js";
import { h, say } from "./dom.js";
import { explain } from "./problems.js";
import { t, tn } from "./i18n.js";

const ROOM_CHECK_MS = 20_000;
const ROOM_CHECK_BITS = 600_000; // about 1.5 MB for the 20 seconds
const TYPES = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm"];
const STREAM_RETRY_MS = 30_000; // after the server refused the stream (the heartbeats carry on meanwhile)
const MAX_BACKOFF_MS = 30_000;
const NOTICE_MS = 120_000;

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));
const backoff = (n) => {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(n, 5));
  return base / 2 + Math.random() * (base / 2);
};

function waitOnline() {
  if (navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
}

/** Whether `el` can take the focus back: still in the page, not hidden, not behind an inert part. */
function focusable(el) {
  return Boolean(el && el.isConnected && el !== document.body && !el.closest("[inert], [hidden]") && el.getClientRects().length);
}

export class Live {
  /**
   * api: the player's Api; base: the player API's path (boot.api); clock;
   * host: where the dialogs go (the page's main); notices: the box of calm
   * notes (a status region); announcer: the page's polite live region;
   * exam: {lock(), unlock()}; countdown: the Countdown, or null (no time
   * limit); saver: the answers' Saver; deadline: the deadline the exam
   * started with; camera(): the camera stream proctoring holds, or null;
   * handlers: {closed()} (the attempt was ended on the server).
   */
  constructor({ api, base, clock, host, notices, announcer, exam, countdown, saver, deadline, camera, handlers }) {
    Object.assign(this, { api, base, clock, host, notices, announcer, exam, countdown, saver, camera, handlers });
    this.seq = -1; // the live_seq of the last state read
    // The deadline (and pause) of the last state read: a deadline that moves
    // later, apart from the pause's own shift, is time the proctor added.
    this.known = { deadline: parseTime(deadline), pausedAt: NaN };
    this.pausedAt = null;
    this.waiting = []; // messages still to show, oldest first
    this.current = null; // the message shown now
    this.read = new Set(); // ids of messages the candidate has confirmed in this page
    this.room = null; // {id, state: asked | recording | sending | sent | failed | dismissed}
    this.before = null; // what had the focus before the first dialog opened
    this.fetching = null;
    this.again = false;
    this.stopped = false;
    this.first = new Promise((resolve) => {
      this.firstDone = resolve;
    });
    this.onOnline = () => this.refresh();
  }

  /** The exam runs: open the stream and read the state (messages may wait from before a reload). */
  start() {
    window.addEventListener("online", this.onOnline);
    this.open();
    this.refresh();
  }

  get paused() {
    return Boolean(this.pausedAt);
  }

  /** Resolves once the first state has been read (or failed), or after `ms`. */
  synced(ms) {
    return Promise.race([this.first, sleep(ms)]);
  }

  open() {
    if (this.stopped || typeof EventSource !== "function") return;
    let source;
    try {
      source = new EventSource(`${this.base}/live/stream`);
    } catch {
      return;
    }
    this.source = source;
    source.addEventListener("live", (event) => {
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = null;
      }
      const seq = Number(data && data.live_seq);
      const over = Boolean(data && typeof data.status === "string" && data.status !== "in_progress");
      if (!Number.isInteger(seq) || seq > this.seq || over) this.refresh();
    });
    source.addEventListener("error", () => {
      // A dropped connection comes back by itself (with Last-Event-ID); a
      // refused one does not: try again later, the heartbeats cover the gap.
      if (source.readyState !== EventSource.CLOSED || this.stopped || this.source !== source) return;
      window.clearTimeout(this.reopenTimer);
      this.reopenTimer = window.setTimeout(() => this.open(), STREAM_RETRY_MS);
    });
  }

  /**
   * A heartbeat's or a save's answer: its paused_at applies at once (before
   * the caller sets the deadline it brings), a larger live_seq reads the
   * whole state. An answer older than the state already read says nothing.
   */
  heard(res) {
    if (!res || this.stopped) return;
    const seq = Number(res.live_seq);
    if (!Number.isInteger(seq) || seq < this.seq) return;
    if (res.paused_at) this.pause(res.paused_at);
    // A resume moves live_seq on: one not seen yet, or the state read says so.
    else if ("paused_at" in res && seq > this.seq) this.resume(res.deadline);
    if (seq > this.seq) this.refresh();
  }

  /** Read the live state now; calls while one is under way make one more. */
  refresh() {
    if (this.stopped) return Promise.resolve();
    if (this.fetching) {
      this.again = true;
      return this.fetching;
    }
    this.again = false;
    this.fetching = this.fetch().finally(() => {
      this.fetching = null;
      this.firstDone();
      if (this.again) this.refresh();
    });
    return this.fetching;
  }

  async fetch() {
    let data;
    try {
      data = await this.api.call("GET", "live");
    } catch (err) {
      // The attempt is over; anything else (offline, a refusal) is left to
      // the heartbeat, whose live_seq brings the player back here.
      if (err.kind === "closed" && !this.stopped) this.handlers.closed();
      return;
    }
    this.apply(data);
  }

  apply(data) {
    if (this.stopped || !data || typeof data !== "object") return;
    const seq = Number(data.live_seq);
    if (Number.isInteger(seq)) {
      if (seq < this.seq) return;
      this.seq = seq;
    }
    if (typeof data.status === "string" && data.status !== "in_progress") {
      this.handlers.closed(); // ended by the proctor (or the clock): the closed flow
      return;
    }
    this.timeAdded(data);
    if (this.countdown && data.deadline) this.countdown.setDeadline(data.deadline);
    if (data.paused_at) this.pause(data.paused_at);
    else this.resume(data.deadline);
    this.roomCheck(data.room_check);
    this.messages(Array.isArray(data.messages) ? data.messages : []);
  }

  /**
   * Time the proctor added: how much later the exam now ends than it would
   * have, compared across a pause (the resume moves the deadline on by the
   * pause's length, which is not added time). Said once, politely.
   */
  timeAdded(data) {
    const deadline = parseTime(data.deadline);
    const pausedAt = data.paused_at ? parseTime(data.paused_at) : NaN;
    const before = this.known;
    this.known = { deadline, pausedAt };
    if (Number.isNaN(deadline) || Number.isNaN(before.deadline)) return;
    let gained;
    if (Number.isNaN(before.pausedAt)) gained = deadline - before.deadline;
    else if (!Number.isNaN(pausedAt)) gained = deadline - pausedAt - (before.deadline - before.pausedAt);
    else gained = deadline - this.clock.now() - (before.deadline - before.pausedAt);
    const minutes = Math.round(gained / 60_000);
    if (minutes < 1) return;
    this.notice("live-time", tn("The proctor gave you %(n)s more minute.", "The proctor gave you %(n)s more minutes.", minutes));
  }

  /** A calm note in the notices box (a status region, so it is read out), with a Dismiss button. */
  notice(key, text) {
    const old = Array.from(this.notices.children).find((el) => el.dataset.key === key);
    const dismiss = h("button", { type: "button", class: "secondary small" }, t("Dismiss"));
    const note = h("div", { class: "proctor-notice live-notice", "data-key": key }, h("p", {}, text), dismiss);
    dismiss.addEventListener("click", () => {
      note.remove();
      this.focusExam();
    });
    if (old) old.replaceWith(note);
    else this.notices.append(note);
    window.setTimeout(() => {
      if (!note.contains(document.activeElement)) note.remove();
    }, NOTICE_MS);
  }

  // --- Pause ---------------------------------------------------------------

  pause(atIso) {
    if (this.stopped) return;
    if (this.countdown) this.countdown.freeze(atIso);
    const was = this.pausedAt;
    this.pausedAt = atIso;
    if (was) return;
    this.remember();
    this.exam.lock();
    if (!this.pauseBox) {
      this.pauseBox = h(
        "dialog",
        { class: "live-dialog live-pause", role: "alertdialog", "aria-labelledby": "live-pause-h", "aria-describedby": "live-pause-text" },
        h("h2", { id: "live-pause-h", tabindex: "-1" }, t("Your exam is paused by the proctor")),
        h("p", { id: "live-pause-text" }, t("The clock is stopped; wait here.")),
      );
      this.pauseBox.focusTarget = () => this.pauseBox.querySelector("h2");
      this.guard(this.pauseBox, () => this.paused);
      this.host.append(this.pauseBox);
    }
    this.show(this.pauseBox);
  }

  resume(deadlineIso) {
    if (this.stopped) return;
    if (this.countdown && deadlineIso) this.countdown.setDeadline(deadlineIso);
    this.saver.release(); // answers refused while paused go now
    if (!this.pausedAt) return;
    this.pausedAt = null;
    if (this.countdown) this.countdown.thaw();
    this.exam.unlock();
    this.hide(this.pauseBox);
    say(this.announcer, t("The proctor resumed your exam. The clock runs again."));
  }

  // --- Messages ------------------------------------------------------------

  messages(list) {
    for (const m of list) {
      if (!m || m.id === undefined || typeof m.text !== "string") continue;
      const id = String(m.id);
      if (this.read.has(id) || (this.current && this.current.id === id) || this.waiting.some((w) => w.id === id)) continue;
      this.waiting.push({ id, text: m.text });
    }
    this.nextMessage();
  }

  nextMessage() {
    if (this.current || this.stopped) return;
    const m = this.waiting.shift();
    if (!m) return;
    this.current = m;
    if (!this.messageBox) {
      this.messageText = h("p", { id: "live-message-text", class: "live-message-text" });
      this.okButton = h("button", { type: "button" }, t("OK, I have read it"));
      this.okButton.addEventListener("click", () => this.confirm());
      this.messageBox = h(
        "dialog",
        { class: "live-dialog live-message", role: "alertdialog", "aria-labelledby": "live-message-h", "aria-describedby": "live-message-text" },
        h("h2", { id: "live-message-h" }, t("Message from the proctor")),
        this.messageText,
        h("div", { class: "actions" }, this.okButton),
      );
      this.messageBox.focusTarget = () => this.okButton;
      this.guard(this.messageBox, () => Boolean(this.current));
      this.host.append(this.messageBox);
    }
    this.messageText.textContent = m.text; // text, never HTML
    // A dialog opened anew, so that a screen reader reads the next message too.
    if (this.messageBox.open) this.messageBox.close();
    this.show(this.messageBox);
  }

  /** "OK, I have read it": the acknowledgement goes to the server (until it has it); the next message shows. */
  confirm() {
    const m = this.current;
    if (!m) return;
    this.current = null;
    this.read.add(m.id);
    this.acknowledge(m.id);
    if (this.waiting.length) this.nextMessage();
    else this.hide(this.messageBox);
  }

  async acknowledge(id) {
    for (let failures = 0; !this.stopped; failures += 1) {
      try {
        await this.api.call("POST", `live/messages/${encodeURIComponent(id)}/ack`);
        return;
      } catch (err) {
        if (err.status >= 200 && err.status < 300) return; // taken (an answer without a body)
        if (err.kind === "closed") return;
        if (err.kind !== "network" && err.kind !== "server") return; // refused for good
        await waitOnline();
        await sleep(backoff(failures));
      }
    }
  }

  // --- Room check ----------------------------------------------------------

  roomCheck(asked) {
    const room = this.room;
    if (!asked || asked.id === undefined) {
      // Withdrawn (or the clip has arrived): a request not started yet goes away.
      if (room && (room.state === "asked" || room.state === "failed" || room.state === "dismissed")) {
        this.room = null;
        this.hide(this.roomBox);
      }
      return;
    }
    const id = String(asked.id);
    if (room && (room.state === "recording" || room.state === "sending")) return; // the next state read asks again
    // The same request again: shown once more only when the candidate had put it aside.
    const aside = room && (room.state === "dismissed" || (room.state === "failed" && !this.roomBox.open));
    if (room && room.id === id && !aside) return;
    this.room = { id, state: "asked" };
    this.buildRoom();
    this.roomStatus.textContent = "";
    this.roomLeft.hidden = true;
    this.roomStart.textContent = t("Start the room check");
    this.roomStart.hidden = false;
    this.roomBack.hidden = true;
    this.show(this.roomBox);
  }

  buildRoom() {
    if (this.roomBox) return;
    this.preview = h("video", { class: "live-room-preview", muted: true, playsinline: true, "aria-label": t("Your camera") });
    this.preview.muted = true;
    this.roomSeconds = h("span", { class: "live-room-seconds" });
    this.roomLeft = h(
      "p",
      { class: "live-recording" },
      h("span", { class: "live-recording-dot", "aria-hidden": "true" }),
      h("strong", {}, t("Recording")),
      " ",
      this.roomSeconds,
    );
    this.roomStatus = h("p", { class: "dialog-status", role: "status" });
    this.roomStart = h("button", { type: "button" }, t("Start the room check"));
    this.roomBack = h("button", { type: "button", class: "secondary" }, t("Back to the exam"));
    this.roomStart.addEventListener("click", () => this.record());
    this.roomBack.addEventListener("click", () => {
      if (this.room && this.room.state !== "sending" && this.room.state !== "sent") this.room.state = "dismissed";
      this.hide(this.roomBox);
    });
    this.roomBox = h(
      "dialog",
      { class: "live-dialog live-room", "aria-labelledby": "live-room-h", "aria-describedby": "live-room-text" },
      h("h2", { id: "live-room-h", tabindex: "-1" }, t("Room check")),
      h("p", { id: "live-room-text" }, t("The proctor asks for a room check: turn your camera slowly around the room, then back to you.")),
      this.preview,
      this.roomLeft,
      this.roomStatus,
      h("div", { class: "actions" }, this.roomStart, this.roomBack),
    );
    this.roomBox.focusTarget = () => {
      if (!this.roomStart.hidden) return this.roomStart;
      if (!this.roomBack.hidden) return this.roomBack;
      return this.roomBox.querySelector("h2");
    };
    this.guard(this.roomBox, () => Boolean(this.room && (this.room.state === "asked" || this.room.state === "recording")));
    this.host.append(this.roomBox);
  }

  /** About 20 seconds of the camera, recorded here, then sent. */
  async record() {
    const room = this.room;
    if (!room || room.state === "recording" || room.state === "sending") return;
    room.state = "recording";
    this.roomStart.hidden = true;
    this.roomBack.hidden = true;
    this.roomStatus.textContent = "";
    let stream = this.camera ? this.camera() : null;
    let own = false;
    if (!stream) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: true });
        own = true;
      } catch {
        stream = null;
      }
    }
    const type = typeof MediaRecorder === "function" ? TYPES.find((x) => MediaRecorder.isTypeSupported(x)) : null;
    if (!stream || !type) {
      if (own) for (const track of stream.getTracks()) track.stop();
      this.roomFailed(stream
        ? t("This browser cannot record the room check.")
        : t("Your camera could not be turned on for the room check. Check that no other program uses it, then try again."));
      return;
    }
    const parts = [];
    let recorder;
    try {
      recorder = new MediaRecorder(new MediaStream(stream.getVideoTracks()), { mimeType: type, videoBitsPerSecond: ROOM_CHECK_BITS });
    } catch {
      if (own) for (const track of stream.getTracks()) track.stop();
      this.roomFailed(t("This browser cannot record the room check."));
      return;
    }
    this.recorder = recorder;
    const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve));
    recorder.addEventListener("dataavailable", (e) => {
      if (e.data && e.data.size) parts.push(e.data);
    });
    this.preview.srcObject = stream;
    this.preview.play().catch(() => {});
    const began = Date.now();
    const left = () => Math.max(0, Math.ceil((ROOM_CHECK_MS - (Date.now() - began)) / 1000));
    const show = () => {
      this.roomSeconds.textContent = tn("%(n)s second left", "%(n)s seconds left", left());
    };
    show();
    this.roomLeft.hidden = false;
    recorder.start(1000);
    this.roomStatus.textContent = t("Recording the room check: turn your camera slowly around the room.");
    this.roomBox.querySelector("h2").focus();
    const ticker = window.setInterval(show, 250);
    await Promise.race([sleep(ROOM_CHECK_MS), stopped]); // the camera may stop on its own
    if (recorder.state !== "inactive") recorder.stop();
    await stopped;
    window.clearInterval(ticker);
    this.recorder = null;
    this.roomLeft.hidden = true;
    this.preview.srcObject = null;
    if (own) for (const track of stream.getTracks()) track.stop();
    if (this.stopped || this.room !== room) return;
    const blob = new Blob(parts, { type: "video/webm" });
    if (!blob.size) {
      this.roomFailed(t("Your camera could not be turned on for the room check. Check that no other program uses it, then try again."));
      return;
    }
    room.state = "sending";
    this.roomStatus.textContent = t("Recording finished. Sending it to the proctor…");
    this.roomBack.hidden = false;
    this.roomBack.focus();
    this.upload(room, blob);
  }

  roomFailed(text) {
    if (!this.room) return;
    this.room.state = "failed";
    this.roomLeft.hidden = true;
    this.roomStatus.textContent = text;
    this.roomStart.textContent = t("Try again");
    this.roomStart.hidden = false;
    this.roomBack.hidden = false;
    this.roomStart.focus();
  }

  /** The clip goes raw to the server, again with backoff until it has it. */
  async upload(room, blob) {
    const path = `evidence/room_check?${new URLSearchParams({ check: room.id })}`;
    let lost = false; // a try whose answer never came: the server may have the clip already
    for (let failures = 0; !this.stopped; failures += 1) {
      await waitOnline();
      if (this.stopped) return;
      try {
        await call(this.base, "POST", path, blob, { "Content-Type": "video/webm" });
        room.state = "sent";
        this.roomSay(t("The room check was sent. Thank you."));
        return;
      } catch (err) {
        if (err.kind === "closed") {
          if (!this.stopped) this.handlers.closed();
          return;
        }
        if (err.kind === "conflict") {
          // No room check waits for this clip: it arrived on an earlier try, or the proctor withdrew the request.
          room.state = "sent";
          this.roomSay(lost ? t("The room check was sent. Thank you.") : t("The proctor no longer needs this room check."));
          return;
        }
        if (err.kind !== "network" && err.kind !== "retry") {
          room.state = "failed";
          this.roomSay(t("The room check could not be sent: %(reason)s", { reason: explain(err) }));
          return;
        }
        lost = true;
        if (err.kind === "network") this.roomSay(t("Cannot reach Invigil. The room check is sent when the connection returns."));
        await sleep(backoff(failures));
      }
    }
  }

  /** What became of the clip: in the dialog while it is open, else as a note. */
  roomSay(text) {
    if (this.roomBox && this.roomBox.open) this.roomStatus.textContent = text;
    else this.notice("live-room", text);
  }

  // --- Dialogs -------------------------------------------------------------

  /** Whatever the candidate was on before the first of these dialogs opened. */
  remember() {
    const open = [this.pauseBox, this.roomBox, this.messageBox].some((d) => d && d.open);
    if (!open && this.before === null) this.before = document.activeElement;
  }

  /**
   * Open `box` as a modal dialog (the rest of the page inert), in the order
   * pause < room check < message: a message is always on top, so that its
   * button works while the exam is paused.
   */
  show(box) {
    if (this.stopped) return;
    this.remember();
    if (!box.open) box.showModal();
    const order = [this.pauseBox, this.roomBox, this.messageBox];
    for (const above of order.slice(order.indexOf(box) + 1)) {
      if (above && above.open) {
        above.close();
        above.showModal();
      }
    }
    this.focusTop();
  }

  hide(box) {
    if (!box || !box.open) return;
    box.close();
    if (!this.focusTop()) this.focusExam();
  }

  /** The focus into the topmost open dialog; false when none is open. */
  focusTop() {
    const top = [this.messageBox, this.roomBox, this.pauseBox].find((d) => d && d.open);
    if (!top) return false;
    const target = top.focusTarget();
    if (target) target.focus();
    return true;
  }

  /** The focus back where it was, else to the question. */
  focusExam() {
    const before = this.before;
    this.before = null;
    if (focusable(before)) {
      before.focus();
      return;
    }
    const heading = document.getElementById("question-h");
    if (focusable(heading)) heading.focus();
  }

  /** Escape does not close `box` while `needed()`; a browser that closes it anyway has it back. */
  guard(box, needed) {
    box.addEventListener("cancel", (event) => {
      if (needed()) event.preventDefault();
    });
    box.addEventListener("close", () => {
      if (!this.stopped && needed() && !box.open) this.show(box);
    });
  }

  /** The attempt is over (or another page took over): no more of any of this. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.firstDone();
    window.removeEventListener("online", this.onOnline);
    window.clearTimeout(this.reopenTimer);
    if (this.source) this.source.close();
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    for (const box of [this.messageBox, this.roomBox, this.pauseBox]) if (box && box.open) box.close();
  }
}
