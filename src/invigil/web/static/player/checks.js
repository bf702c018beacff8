// The system check before the exam: the browser, then each device the exam
// requires. Every check says in plain words how to fix a failure, and
// "Check again" reruns the failed ones. A device the proctoring detectors
// need (camera, microphone, screen) stays open and is handed to them; any
// other test track is stopped at once. The camera shows a small preview so
// the candidate can see that they are in view and well lit.

import { fill, h, say } from "./dom.js";

const FIX = {
  browser:
    "Use a current version of Chrome, Edge, Firefox or Safari, then open your exam link again.",
  storage:
    "Your browser is not letting this site keep data on the device (private browsing or a " +
    "privacy setting). Allow site data for this site, or leave private browsing, then choose " +
    "Check again.",
  fullscreen:
    "Your browser does not allow full screen here. Open the exam link directly in a browser " +
    "tab (not inside another page or app), then choose Check again.",
  insecure: "Camera, microphone and screen need a secure (https) connection to this site.",
};

function deviceFix(device, err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return `Allow the ${device} in your browser's address bar (or in your system's privacy settings), then choose Check again.`;
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return `No ${device} was found. Connect one, then choose Check again.`;
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return `The ${device} is in use by another program. Close that program, then choose Check again.`;
  }
  return `The ${device} could not be started. Check that it is connected and allowed, then choose Check again.`;
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

async function mediaCheck(kind, keep) {
  const device = kind === "video" ? "camera" : "microphone";
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { ok: false, fix: FIX.insecure };
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ [kind]: true });
    if (!keep) {
      stopTracks(stream);
      return { ok: true };
    }
    return { ok: true, stream, preview: kind === "video" };
  } catch (err) {
    return { ok: false, fix: deviceFix(device, err) };
  }
}

function preview(stream) {
  const video = h("video", { class: "check-preview", muted: true, playsinline: true, autoplay: true, "aria-label": "Your camera picture" });
  video.muted = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  return h("div", { class: "check-fix check-camera" }, video,
    h("span", { class: "check-note" }, "Make sure your face is in view and well lit."));
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
        fix: "Share your entire screen, not a window or a tab: choose Share screen and pick Entire screen.",
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
      fix: "Sharing was cancelled or blocked. Choose Share screen and pick your entire screen.",
    };
  }
}

/**
 * Runs the checks in `container`; resolves once every one has passed (after
 * the candidate fixed and rechecked what failed, if need be) with the
 * streams kept for proctoring: {camera, microphone, screen}, each or null.
 * keep: {camera, microphone, screen} booleans.
 */
export function systemCheck(container, requirements, { resuming = false, keep = {} } = {}) {
  const checks = [{ id: "browser", name: "Browser", run: () => browserCheck(requirements) }];
  if (requirements.camera) {
    checks.push({ id: "camera", name: "Camera", run: () => mediaCheck("video", keep.camera) });
  }
  if (requirements.microphone) {
    checks.push({ id: "microphone", name: "Microphone", run: () => mediaCheck("audio", keep.microphone) });
  }
  if (requirements.screen) {
    checks.push({ id: "screen", name: "Screen sharing", run: () => screenCheck(keep.screen), gesture: true });
  }

  const summary = h("p", { class: "check-summary", role: "status" });
  const list = h("ul", { class: "check-list" });
  const again = h("button", { type: "button", class: "secondary", hidden: true }, "Check again");
  const share = h("button", { type: "button", hidden: true }, "Share screen");
  fill(
    container,
    h(
      "section",
      { class: "card system-check", "aria-labelledby": "check-h" },
      h("h2", { id: "check-h" }, resuming ? "Checking again before you continue" : "Checking your computer"),
      h(
        "p",
        { class: "muted" },
        "Before the exam starts we check that your browser",
        checks.length > 1 ? " and the devices this exam needs are ready." : " is ready.",
        " Nothing is recorded during this check.",
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
        ? "waiting for you to share"
        : "checking…"
      : result.ok
        ? "ready"
        : "not ready";
    row.dataset.state = state;
    fill(
      row,
      h("span", { class: "check-icon", "aria-hidden": "true" }, { pass: "✓", fail: "!", pending: "…" }[state]),
      h("span", { class: "check-name" }, check.name, ": "),
      h("span", { class: "check-word" }, word),
      result.fix ? h("p", { class: "check-fix" }, result.fix) : null,
      result.preview && result.stream ? preview(result.stream) : null,
      result.pending && check.gesture
        ? h("p", { class: "check-note" }, "Choose Share screen, then pick your entire screen.")
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
        say(summary, "All checks passed.");
        const stream = (id) => (results.get(id) && results.get(id).stream) || null;
        resolve({ camera: stream("camera"), microphone: stream("microphone"), screen: stream("screen") });
      } else if (failed.length) {
        say(summary, `${failed.length === 1 ? "One check needs" : `${failed.length} checks need`} your attention.`);
      } else {
        say(summary, "Choose Share screen to finish the check.");
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
