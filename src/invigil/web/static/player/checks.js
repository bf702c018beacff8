// The system check before the exam: the browser, then each device the exam
// requires. Every check says in plain words how to fix a failure, and
// "Check again" reruns the failed ones. A device the proctoring detectors
// need (camera, microphone, screen) stays open and is handed to them; any
// other test track is stopped at once. The camera shows a small preview so
// the candidate can see that they are in view and well lit.

import { fill, h, say } from "./dom.js";
import { t, tn } from "./i18n.js";

// Module code runs after the page is parsed, so the boot data (and with it
// the candidate's language) is there when these are translated.
const FIX = {
  browser: t("Use a current version of Chrome, Edge, Firefox or Safari, then open your exam link again."),
  storage: t(
    "Your browser is not letting this site keep data on the device (private browsing or a " +
      "privacy setting). Allow site data for this site, or leave private browsing, then choose " +
      "Check again.",
  ),
  fullscreen: t(
    "Your browser does not allow full screen here. Open the exam link directly in a browser " +
      "tab (not inside another page or app), then choose Check again.",
  ),
  insecure: t("Camera, microphone and screen need a secure (https) connection to this site."),
};

// Whole sentences per device: the device's word changes the sentence around it in other languages.
function deviceFix(device, err) {
  const name = err && err.name;
  const camera = device === "camera";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return camera
      ? t("Allow the camera in your browser's address bar (or in your system's privacy settings), then choose Check again.")
      : t("Allow the microphone in your browser's address bar (or in your system's privacy settings), then choose Check again.");
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return camera
      ? t("No camera was found. Connect one, then choose Check again.")
      : t("No microphone was found. Connect one, then choose Check again.");
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return camera
      ? t("The camera is in use by another program. Close that program, then choose Check again.")
      : t("The microphone is in use by another program. Close that program, then choose Check again.");
  }
  return camera
    ? t("The camera could not be started. Check that it is connected and allowed, then choose Check again.")
    : t("The microphone could not be started. Check that it is connected and allowed, then choose Check again.");
}

function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

async function browserCheck(requirements) {
  const missing = [];
  if (typeof window.fetch !== "function") missing.push("fetch");
  if (typeof window.Promise !== "function") missing.push("promises");
  if (missing.length) return { ok: false, fix: FIX.browser };
  try {
    const probe = "invigil:probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
  } catch {
    return { ok: false, fix: FIX.storage };
  }
  if (requirements.fullscreen && !document.fullscreenEnabled) {
    return { ok: false, fix: FIX.fullscreen };
  }
  return { ok: true };
}

async function mediaCheck(kind, keep, face = null, onFaceCheck = null) {
  const device = kind === "video" ? "camera" : "microphone";
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { ok: false, fix: FIX.insecure };
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ [kind]: true });
  } catch (err) {
    return { ok: false, fix: deviceFix(device, err) };
  }
  if (face) {
    if (onFaceCheck) onFaceCheck(stream);
    const seen = await faceCheck(stream, face);
    if (!seen.ok) return { ok: false, fix: seen.fix, stream, preview: true };
  }
  if (!keep) {
    stopTracks(stream);
    return { ok: true };
  }
  return { ok: true, stream, preview: kind === "video" };
}

// The face check (exams that watch faces): stills from the camera go to the
// server, whose face detector must see a face before the exam can begin
// (docs/candidate-api.md, "Face check"). A few tries a little apart, so a
// candidate sitting down is not failed at once; then "Check again".
const FACE_TRIES = 5;
const FACE_PAUSE_MS = 1500;
const FACE_FIX = {
  none: t(
    "We cannot see your face. Sit facing the camera with your whole face in the picture, " +
      "then choose Check again.",
  ),
  too_dark: t("The camera picture is too dark. Turn on a light or face a window, then choose Check again."),
  blurred: t("The camera picture is blurred. Clean the lens and hold still, then choose Check again."),
  failed: t("Your camera picture could not be checked. Check your internet connection, then choose Check again."),
};

const sleep = (ms) => new Promise((resolve) => window.setTimeout(resolve, ms));

/** One JPEG still from `stream` (at most 640 pixels wide), or null. */
async function still(stream) {
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    await video.play();
    for (let waited = 0; (video.readyState < 2 || !video.videoWidth) && waited < 5000; waited += 100) {
      await sleep(100);
    }
    if (!video.videoWidth) return null;
    const w = Math.min(640, video.videoWidth);
    const h = Math.round((video.videoHeight * w) / video.videoWidth);
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(video, 0, 0, w, h);
    return await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  } catch {
    return null;
  } finally {
    video.srcObject = null;
  }
}

/** Until the server has seen a face in the camera's picture: {ok, fix}. */
async function faceCheck(stream, send) {
  let why = "none";
  for (let i = 0; i < FACE_TRIES; i += 1) {
    if (i) await sleep(FACE_PAUSE_MS);
    const blob = await still(stream);
    if (!blob) {
      why = "failed";
      continue;
    }
    let answer;
    try {
      answer = await send(blob);
    } catch {
      why = "failed";
      continue;
    }
    if (answer.seen || !answer.needed) return { ok: true };
    why = answer.problem || "none";
  }
  return { ok: false, fix: FACE_FIX[why] || FACE_FIX.none };
}

function preview(stream) {
  const video = h("video", { class: "check-preview", muted: true, playsinline: true, autoplay: true, "aria-label": t("Your camera picture") });
  video.muted = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  return h("div", { class: "check-fix check-camera" }, video,
    h("span", { class: "check-note" }, t("Make sure your face is in view and well lit.")));
}

async function screenCheck(keep) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    return { ok: false, fix: FIX.insecure };
  }
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = stream.getVideoTracks();
    const surface = track && track.getSettings ? track.getSettings().displaySurface : undefined;
    if (surface && surface !== "monitor") {
      stopTracks(stream);
      return {
        ok: false,
        fix: t("Share your entire screen, not a window or a tab: choose Share screen and pick Entire screen."),
      };
    }
    if (!keep) {
      stopTracks(stream);
      return { ok: true };
    }
    return { ok: true, stream };
  } catch {
    return {
      ok: false,
      fix: t("Sharing was cancelled or blocked. Choose Share screen and pick your entire screen."),
    };
  }
}

/**
 * Runs the checks in `container`; resolves once every one has passed (after
 * the candidate fixed and rechecked what failed, if need be) with the
 * streams kept for proctoring: {camera, microphone, screen}, each or null.
 * keep: {camera, microphone, screen} booleans; face: for an exam that
 * watches faces, before it begins, sends a still (a Blob) to the server's
 * face check and resolves with its answer ({needed, seen, faces, problem}).
 */
export function systemCheck(container, requirements, { resuming = false, keep = {}, face = null } = {}) {
  const checks = [{ id: "browser", name: t("Browser"), run: () => browserCheck(requirements) }];
  if (requirements.camera) {
    const camera = {
      id: "camera",
      name: t("Camera"),
      looking: face ? t("looking for your face…") : null,
    };
    camera.run = () =>
      mediaCheck("video", keep.camera, face, (stream) => draw(camera, { pending: true, stream, preview: true }));
    checks.push(camera);
  }
  if (requirements.microphone) {
    checks.push({ id: "microphone", name: t("Microphone"), run: () => mediaCheck("audio", keep.microphone) });
  }
  if (requirements.screen) {
    checks.push({ id: "screen", name: t("Screen sharing"), run: () => screenCheck(keep.screen), gesture: true });
  }

  const summary = h("p", { class: "check-summary", role: "status" });
  const list = h("ul", { class: "check-list" });
  const again = h("button", { type: "button", class: "secondary", hidden: true }, t("Check again"));
  const share = h("button", { type: "button", hidden: true }, t("Share screen"));
  fill(
    container,
    h(
      "section",
      { class: "card system-check", "aria-labelledby": "check-h" },
      h("h2", { id: "check-h" }, resuming ? t("Checking again before you continue") : t("Checking your computer")),
      h(
        "p",
        { class: "muted" },
        checks.length > 1
          ? t("Before the exam starts we check that your browser and the devices this exam needs are ready.")
          : t("Before the exam starts we check that your browser is ready."),
        " ",
        t("Nothing is recorded during this check."),
      ),
      list,
      summary,
      h("div", { class: "actions" }, share, again),
    ),
  );

  const results = new Map();
  const rows = new Map();
  for (const check of checks) {
    const row = h("li", { class: "check-item", "data-state": "pending" });
    rows.set(check.id, row);
    list.append(row);
    draw(check, { pending: true });
  }

  function draw(check, result) {
    const row = rows.get(check.id);
    const state = result.pending ? "pending" : result.ok ? "pass" : "fail";
    const word = result.pending
      ? check.gesture
        ? t("waiting for you to share")
        : result.stream && check.looking
          ? check.looking
          : t("checking…")
      : result.ok
        ? t("ready")
        : t("not ready");
    row.dataset.state = state;
    fill(
      row,
      h("span", { class: "check-icon", "aria-hidden": "true" }, { pass: "✓", fail: "!", pending: "…" }[state]),
      h("span", { class: "check-name" }, check.name, ": "),
      h("span", { class: "check-word" }, word),
      result.fix ? h("p", { class: "check-fix" }, result.fix) : null,
      result.preview && result.stream ? preview(result.stream) : null,
      result.pending && check.gesture
        ? h("p", { class: "check-note" }, t("Choose Share screen, then pick your entire screen."))
        : null,
    );
  }

  return new Promise((resolve) => {
    async function run(which) {
      again.hidden = true;
      await Promise.all(
        which.map(async (check) => {
          draw(check, { pending: true });
          const before = results.get(check.id);
          if (before && before.stream) stopTracks(before.stream);
          const result = await check.run();
          results.set(check.id, result);
          draw(check, result);
        }),
      );
      settle();
    }

    function settle() {
      const failed = checks.filter((c) => results.get(c.id) && !results.get(c.id).ok);
      const waiting = checks.filter((c) => !results.has(c.id));
      share.hidden = !checks.some((c) => c.gesture && !(results.get(c.id) || {}).ok);
      again.hidden = failed.filter((c) => !c.gesture).length === 0;
      if (failed.length === 0 && waiting.length === 0) {
        say(summary, t("All checks passed."));
        const stream = (id) => (results.get(id) && results.get(id).stream) || null;
        resolve({ camera: stream("camera"), microphone: stream("microphone"), screen: stream("screen") });
      } else if (failed.length) {
        say(summary, tn("One check needs your attention.", "%(n)s checks need your attention.", failed.length));
      } else {
        say(summary, t("Choose Share screen to finish the check."));
      }
    }

    again.addEventListener("click", () => {
      run(checks.filter((c) => !c.gesture && !(results.get(c.id) || {}).ok));
    });
    share.addEventListener("click", async () => {
      const check = checks.find((c) => c.gesture);
      share.disabled = true;
      await run([check]);
      share.disabled = false;
    });

    run(checks.filter((c) => !c.gesture));
  });
}
