// What the server's refusals say, in the candidate's language.
//
// A refusal is problem+json (docs/candidate-api.md) with a stable `type`
// (urn:invigil:problem:<slug>) and an English `detail` for API clients and
// logs. The player never shows that `detail`: it shows the words below for
// the slug (t(), so they are in the candidate's language), else a sentence
// for the kind of failure. A refused answer in a save's `results` carries a
// `code` the same way.

import { t } from "./i18n.js";

const PROBLEMS = {
  "attempt-closed": () => t("This exam has already been submitted."),
  "in-progress-elsewhere": () => t("This exam is open in another browser."),
  "not-started": () => t("This exam has not been started yet."),
  "no-attempts-left": () => t("You have no attempts left for this exam."),
  "no-face-seen": () => t("The camera check has not seen your face yet."),
  "consent-changed": () => t("What this exam records has changed since you agreed to it."),
  "not-consented": () => t("You have not agreed to what this exam records."),
  "navigation-closed": () => t("This question can no longer be changed: the exam goes one question at a time."),
  "paused": () => t("The proctor has paused your exam."),
  "too-large": () => t("What was sent is too large."),
  "unsupported-media-type": () => t("The server does not accept this kind of file."),
  "too-many-requests": () => t("Too many requests came from this browser; wait a moment."),
  "unavailable": () => t("The server is busy right now."),
  "not-found": () => t("This exam link is no longer valid."),
  "gone": () => t("This exam link is no longer valid."),
  "invalid": () => t("The server could not use what was sent."),
};

const ITEMS = {
  "time-up": () => t("the time is up"),
  "no-such-question": () => t("there is no such question on this exam"),
  "invalid-response": () => t("the answer does not fit the question"),
  "navigation-closed": () => t("the exam has moved past this question"),
  "paused": () => t("the proctor has paused the exam"),
};

function slugOf(problem) {
  const type = (problem && typeof problem.type === "string" && problem.type) || "";
  return type.startsWith("urn:invigil:problem:") ? type.slice("urn:invigil:problem:".length) : "";
}

/** A sentence for a failed call (an ApiError or UploadError), in the candidate's language. */
export function explain(err) {
  const words = PROBLEMS[slugOf(err && err.problem)];
  if (words) return words();
  const kind = err && err.kind;
  if (kind === "network") return t("Invigil cannot be reached from this device.");
  if (kind === "gone" || kind === "missing") return t("This exam link is no longer valid.");
  const status = Number(err && err.status) || 0;
  if (status >= 500 || kind === "server") return t("The server could not answer (error %(status)s).", { status });
  if (status) return t("The server refused the request (error %(status)s).", { status });
  return t("Something went wrong in the exam player.");
}

/** Why an answer was refused, from its result's code; null when the code is unknown. */
export function refusal(code) {
  const words = ITEMS[code];
  return words ? words() : null;
}
