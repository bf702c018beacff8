// Server time and the countdown. The offset is measured at every state,
// heartbeat and answers response, so the timer does not trust the
// device's clock: remaining = deadline - (Date.now() + offset).

import { say } from "./dom.js";
import { t } from "./i18n.js";

export function parseTime(iso) {
  if (!iso) return NaN;
  // Date.parse is only required to read milliseconds; the server may send micro.
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$/.exec(iso);
  return Date.parse(m && m[2] ? m[1] + m[2].slice(0, 4) + m[3] : iso);
}

export class Clock {
  constructor() {
    this.offset = 0;
  }

  sync(serverTime, sent, received) {
    const server = parseTime(serverTime);
    // The server stamped its answer somewhere between sending and receiving.
    if (!Number.isNaN(server)) this.offset = server - (sent + received) / 2;
  }

  now() {
    return Date.now() + this.offset;
  }
}

export function formatRemaining(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const ss = String(seconds).padStart(2, "0");
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, "0")}:${ss}`;
  return `${String(minutes).padStart(2, "0")}:${ss}`;
}

const WARNINGS = [
  [300, () => t("5 minutes left.")],
  [60, () => t("1 minute left.")],
];

/**
 * The visible countdown (role=timer) with two spoken warnings only. While
 * the proctor has paused the exam it is frozen at deadline - paused_at: the
 * time left does not run and nothing expires.
 */
export class Countdown {
  constructor({ box, value, announcer, clock, onExpire, onTick = () => {} }) {
    Object.assign(this, { box, value, announcer, clock, onExpire, onTick });
    this.deadline = NaN;
    this.frozenAt = NaN;
    this.last = null;
    this.expired = false;
    this.interval = null;
    this.halted = false;
  }

  start(deadlineIso) {
    this.setDeadline(deadlineIso);
    if (Number.isNaN(this.deadline)) return;
    this.box.hidden = false;
    this.run();
  }

  /** Show the time left now, and keep ticking (unless it expired). */
  run() {
    if (this.halted || Number.isNaN(this.deadline)) return;
    this.tick();
    if (this.expired || this.interval !== null) return;
    this.interval = window.setInterval(() => this.tick(), 250);
  }

  /** Stop the time at `atIso` (server time): the exam is paused. */
  freeze(atIso) {
    const at = parseTime(atIso);
    if (Number.isNaN(at)) return;
    this.frozenAt = at;
    this.expired = false; // a deadline that passed while the pause was not known yet
    this.box.classList.add("frozen");
    this.run();
  }

  /** The time runs again (towards the deadline set just before). */
  thaw() {
    if (Number.isNaN(this.frozenAt)) return;
    this.frozenAt = NaN;
    this.box.classList.remove("frozen");
    this.run();
  }

  get frozen() {
    return !Number.isNaN(this.frozenAt);
  }

  setDeadline(deadlineIso) {
    const deadline = parseTime(deadlineIso);
    if (!Number.isNaN(deadline)) this.deadline = deadline;
  }

  stop() {
    this.halted = true;
    this.pause();
  }

  pause() {
    window.clearInterval(this.interval);
    this.interval = null;
  }

  remaining() {
    return this.deadline - (this.frozen ? this.frozenAt : this.clock.now());
  }

  tick() {
    const left = this.remaining();
    const text = formatRemaining(left);
    if (this.value.textContent !== text) this.value.textContent = text;
    this.box.classList.toggle("low", left <= 300_000);
    this.box.classList.toggle("critical", left <= 60_000);
    if (this.last !== null) {
      for (const [seconds, message] of WARNINGS) {
        if (this.last > seconds * 1000 && left <= seconds * 1000 && left > 0) {
          say(this.announcer, message());
        }
      }
    }
    this.last = left;
    this.onTick(left);
    if (left <= 0 && !this.expired && !this.frozen) {
      this.expired = true;
      this.pause();
      this.onExpire();
    }
  }
}
