// The submit confirmation: a modal <dialog> (the rest of the page is inert)
// that also keeps Tab inside itself, lists what is unanswered and flagged,
// and shows the progress of the submit itself.

import { fill, h } from "./dom.js";
import { t, tn } from "./i18n.js";

/** "questions 3, 7 and 9" */
function listNumbers(numbers) {
  if (numbers.length === 1) return t("question %(n)s", { n: numbers[0] });
  // The list's own separator is the language's ("3، 7" in Arabic).
  const head = numbers.slice(0, -1).reduce((list, next) => t("%(list)s, %(next)s", { list, next }));
  return t("questions %(list)s and %(last)s", { list: head, last: numbers[numbers.length - 1] });
}

export class SubmitDialog {
  constructor(host) {
    this.title = h("h2", { id: "submit-h" });
    this.body = h("div", { id: "submit-body" });
    this.status = h("p", { class: "dialog-status", role: "status" });
    this.confirm = h("button", { type: "button" }, t("Submit now"));
    this.cancel = h("button", { type: "button", class: "secondary" }, t("Keep working"));
    this.el = h(
      "dialog",
      { class: "submit-dialog", "aria-labelledby": "submit-h", "aria-describedby": "submit-body" },
      this.title,
      this.body,
      this.status,
      h("div", { class: "actions" }, this.confirm, this.cancel),
    );
    host.append(this.el);
    this.busy = false;
    this.cancel.addEventListener("click", () => this.close());
    this.el.addEventListener("cancel", (event) => {
      if (this.busy) event.preventDefault();
    });
    this.el.addEventListener("keydown", (event) => this.trap(event));
  }

  /** Ask; resolves true when the candidate chose "Submit now". */
  ask({ total, unanswered, flagged }) {
    this.busy = false;
    this.title.textContent = t("Submit your exam?");
    const answered = total - unanswered.length;
    fill(
      this.body,
      h("p", {}, tn("You answered %(answered)s of %(n)s question.", "You answered %(answered)s of %(n)s questions.", total, { answered })),
      unanswered.length ? h("p", { class: "dialog-list" }, h("strong", {}, t("Not answered:"), " "), listNumbers(unanswered), ".") : null,
      flagged.length ? h("p", { class: "dialog-list" }, h("strong", {}, t("Flagged for review:"), " "), listNumbers(flagged), ".") : null,
      h("p", {}, t("After you submit, you cannot change your answers.")),
    );
    this.status.textContent = "";
    this.confirm.hidden = false;
    this.cancel.hidden = false;
    this.confirm.disabled = false;
    this.open(this.cancel);
    return new Promise((resolve) => {
      const done = (value) => {
        this.confirm.removeEventListener("click", yes);
        this.el.removeEventListener("close", no);
        resolve(value);
      };
      const yes = () => done(true);
      const no = () => done(false);
      this.confirm.addEventListener("click", yes);
      this.el.addEventListener("close", no);
    });
  }

  /** Submitting (after confirming, or because time is up): no way back. */
  submitting(title) {
    this.busy = true;
    if (title) {
      this.title.textContent = title;
      fill(this.body, h("p", {}, t("Your answers are being submitted.")));
    }
    this.confirm.hidden = true;
    this.cancel.hidden = true;
    this.say(t("Submitting your answers…"));
    if (!this.el.open) this.open(null);
    this.el.focus();
  }

  say(text) {
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  open(focus) {
    if (!this.el.open) this.el.showModal();
    this.el.tabIndex = -1;
    if (focus) focus.focus();
  }

  close() {
    if (this.el.open && !this.busy) this.el.close();
  }

  trap(event) {
    if (event.key !== "Tab") return;
    const focusable = [...this.el.querySelectorAll("button, [href], input, select, textarea")].filter(
      (el) => !el.disabled && !el.hidden && el.offsetParent !== null,
    );
    if (focusable.length === 0) {
      event.preventDefault();
      return;
    }
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || document.activeElement === this.el)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}
