// The exam itself: one question at a time, the palette, flags, time spent
// per question, and every change turned into a queued answer item.

import { answerState, renderBody } from "./questions.js";
import { fill, h, say } from "./dom.js";
import { number, t, tn } from "./i18n.js";
import { refusal } from "./problems.js";

export class Exam {
  /**
   * state: the server's state; queue, saver, clock, store; barSubmit: the
   * header's "Submit exam" button; onSubmit(): open the confirmation.
   */
  constructor({ root, state, queue, saver, clock, store, barSubmit, onSubmit }) {
    Object.assign(this, { root, queue, saver, clock, store, barSubmit, onSubmit });
    this.questions = state.questions;
    this.linear = state.navigation === "linear";
    this.lastSeq = Number(state.last_seq) || 0;
    this.answers = restoreAnswers(state.answers || {}, queue.items());
    this.times = restoreTimes(store.read("times", {}), this.answers);
    this.sentIndex = new Map();
    this.locked = false;
    // Under linear navigation the server's position is the only one: a move
    // it has not heard has not happened (and it never goes back).
    const local = store.read("position", null);
    const server = Math.max(Number(state.position) || 0, Number(state.furthest) || 0);
    const start = !this.linear && Number.isInteger(local) ? local : server;
    this.position = clamp(start, 0, this.questions.length - 1);
    this.build();
    this.show(this.position, { focus: false });
    this.trackTime();
  }

  build() {
    this.announcer = h("p", { class: "visually-hidden", "aria-live": "polite" });
    this.notices = h("div", { class: "notices" });
    this.section = h("section", { class: "question card", "aria-labelledby": "question-h" });
    this.palette = this.linear ? null : h("ul", { class: "palette-list" });
    const nav = this.palette
      ? h(
          "nav",
          { class: "palette card", "aria-label": t("Questions") },
          h("h2", { class: "palette-title" }, t("Questions")),
          this.palette,
          h(
            "ul",
            { class: "palette-key", "aria-label": t("Key") },
            [["answered", t("Answered")], ["", t("Not answered")], ["flagged", t("Flagged")]].map(([cls, text]) =>
              h("li", {}, h("span", { class: `key ${cls}`, "aria-hidden": "true" }), text),
            ),
          ),
        )
      : null;
    fill(this.root, h("div", { class: this.linear ? "exam linear" : "exam" }, nav, h("div", { class: "exam-main" }, this.notices, this.section)), this.announcer);
    if (this.palette) {
      this.paletteButtons = this.questions.map((q, i) => {
        const button = h("button", { type: "button", class: "palette-button" }, String(i + 1));
        button.addEventListener("click", () => this.go(i));
        this.palette.append(h("li", {}, button));
        return button;
      });
    }
  }

  answer(index) {
    if (!this.answers.has(index)) this.answers.set(index, { response: null, flagged: false, seq: 0 });
    return this.answers.get(index);
  }

  show(index, { focus = true } = {}) {
    const q = this.questions[index];
    const total = this.questions.length;
    const last = index === total - 1;
    const a = this.answer(index);
    const ctx = {
      emit: (response, { typing = false } = {}) => this.change(index, response, typing),
      announce: (text) => say(this.announcer, text),
    };
    const flag = h("button", { type: "button", class: "flag-button", "aria-pressed": String(a.flagged) }, h("span", { class: "flag-icon", "aria-hidden": "true" }), t("Flag for review"));
    flag.addEventListener("click", () => {
      const now = !this.answer(index).flagged;
      flag.setAttribute("aria-pressed", String(now));
      this.answer(index).flagged = now;
      this.commit(index, false);
      say(this.announcer, now ? t("Question %(n)s flagged for review.", { n: index + 1 }) : t("Flag removed from question %(n)s.", { n: index + 1 }));
    });
    const heading = h("h2", { id: "question-h", tabindex: "-1" }, t("Question %(n)s of %(total)s", { n: index + 1, total }));
    const points = Number(q.points);
    const navRow = h("div", { class: "question-nav" });
    if (!this.linear && index > 0) navRow.append(this.button(t("Previous"), "secondary nav-previous", () => this.go(index - 1)));
    navRow.append(h("span", { class: "spacer" }));
    if (!last) navRow.append(this.button(t("Next"), "nav-next", () => this.go(index + 1)));
    else navRow.append(this.button(t("Submit exam"), "", () => this.onSubmit()));
    fill(
      this.section,
      h(
        "div",
        { class: "question-head" },
        q.section_title
          ? h("p", { class: "section-title", lang: q.section_lang || null, dir: q.section_dir || "auto" }, q.section_title)
          : null,
        heading,
        Number.isFinite(points) ? h("p", { class: "points" }, tn("%(n)s point", "%(n)s points", points, { n: number(points) })) : null,
      ),
      renderBody(q, a.response, ctx),
      h("div", { class: "question-tools" }, flag),
      this.linear && !last ? h("p", { class: "hint" }, t("Questions come one after another: after Next you cannot come back to this one.")) : null,
      navRow,
    );
    this.barSubmit.hidden = last;
    this.refreshPalette();
    if (focus) heading.focus();
  }

  button(name, cls, onClick) {
    const b = h("button", { type: "button", class: cls || null }, name);
    b.addEventListener("click", onClick);
    return b;
  }

  go(index) {
    if (this.locked || index === this.position) return;
    if (this.linear && index < this.position) return;
    this.accrue();
    this.position = clamp(index, 0, this.questions.length - 1);
    this.store.write("position", this.position);
    this.show(this.position);
    if (this.onMove) this.onMove(this.position);
  }

  /** The server says the exam has reached question ``index`` (linear): show it. */
  reach(index) {
    if (!this.linear || !Number.isInteger(index) || index <= this.position) return;
    this.accrue();
    this.position = clamp(index, 0, this.questions.length - 1);
    this.store.write("position", this.position);
    this.show(this.position);
  }

  change(index, response, typing) {
    if (this.locked) return;
    this.answer(index).response = response;
    this.commit(index, typing);
  }

  commit(index, typing) {
    this.accrue();
    const a = this.answer(index);
    a.seq = this.queue.nextSeq(this.lastSeq);
    this.sentIndex.set(a.seq, index);
    this.saver.enqueue(
      {
        index,
        response: a.response,
        flagged: a.flagged,
        seq: a.seq,
        time_ms: Math.round(this.times[index] || 0),
        client_time: new Date(this.clock.now()).toISOString(),
        offline: false,
      },
      { typing },
    );
    this.refreshPalette();
  }

  /** After an answers response: note the server's sequence and any refusals. */
  settled(results, lastSeq) {
    this.lastSeq = Math.max(this.lastSeq, Number(lastSeq) || 0);
    for (const r of results) {
      if (r.status === "rejected") {
        const index = this.sentIndex.has(r.seq) ? this.sentIndex.get(r.seq) : r.index;
        const which = index === undefined ? t("An answer") : t("Your answer to question %(n)s", { n: index + 1 });
        const reason = refusal(r.code);
        this.notice(reason ? t("%(which)s was not accepted: %(reason)s", { which, reason }) : t("%(which)s was not accepted.", { which }));
      }
      this.sentIndex.delete(r.seq);
    }
  }

  notice(text) {
    this.notices.append(h("p", { class: "alert", role: "alert" }, text));
  }

  refreshPalette() {
    if (!this.paletteButtons) return;
    this.paletteButtons.forEach((button, i) => {
      const a = this.answers.get(i);
      const state = answerState(this.questions[i].type, a ? a.response : null);
      const flagged = Boolean(a && a.flagged);
      const words = { answered: t("answered"), "not answered": t("not answered"), "partly answered": t("partly answered") };
      const label = flagged
        ? t("Question %(n)s, %(state)s, flagged", { n: i + 1, state: words[state] ?? state })
        : t("Question %(n)s, %(state)s", { n: i + 1, state: words[state] ?? state });
      if (button.getAttribute("aria-label") !== label) button.setAttribute("aria-label", label);
      button.dataset.state = state.replace(" ", "-");
      button.classList.toggle("flagged", flagged);
      if (i === this.position) button.setAttribute("aria-current", "step");
      else button.removeAttribute("aria-current");
    });
  }

  /** Numbers (from 1) of questions not (fully) answered, and of flagged ones. */
  summary() {
    const unanswered = [];
    const flagged = [];
    this.questions.forEach((q, i) => {
      const a = this.answers.get(i);
      if (answerState(q.type, a ? a.response : null) !== "answered") unanswered.push(i + 1);
      if (a && a.flagged) flagged.push(i + 1);
    });
    return { total: this.questions.length, unanswered, flagged };
  }

  /** Time on the question shown, while this window is in front and the exam visible. */
  trackTime() {
    this.lastTick = performance.now();
    this.sinceWrite = 0;
    window.setInterval(() => this.accrue(), 1000);
  }

  accrue() {
    const now = performance.now();
    const delta = Math.min(now - this.lastTick, 2000);
    this.lastTick = now;
    if (this.locked || this.root.hidden || document.visibilityState !== "visible" || !document.hasFocus()) return;
    this.times[this.position] = (this.times[this.position] || 0) + delta;
    this.sinceWrite += delta;
    if (this.sinceWrite > 5000) {
      this.sinceWrite = 0;
      this.store.write("times", this.times);
    }
  }

  lock() {
    this.locked = true;
    this.store.write("times", this.times);
    this.root.inert = true;
  }

  unlock() {
    this.locked = false;
    this.root.inert = false;
  }
}

function clamp(n, low, high) {
  return Math.max(low, Math.min(high, n));
}

/** Server answers, then the device's queue on top: a newer local item wins. */
function restoreAnswers(server, queued) {
  const answers = new Map();
  for (const [key, value] of Object.entries(server)) {
    answers.set(Number(key), {
      response: value.response === undefined ? null : value.response,
      flagged: Boolean(value.flagged),
      seq: Number(value.seq) || 0,
      time_ms: Number(value.time_ms) || 0,
    });
  }
  for (const item of queued) {
    const known = answers.get(item.index);
    if (!known || item.seq > known.seq) {
      answers.set(item.index, { response: item.response, flagged: Boolean(item.flagged), seq: item.seq, time_ms: item.time_ms || 0 });
    }
  }
  return answers;
}

function restoreTimes(local, answers) {
  const times = {};
  if (local && typeof local === "object") {
    for (const [k, v] of Object.entries(local)) if (Number.isFinite(v)) times[k] = v;
  }
  for (const [index, a] of answers) times[index] = Math.max(times[index] || 0, a.time_ms || 0);
  return times;
}

