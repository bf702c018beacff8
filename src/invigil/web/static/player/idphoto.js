// The photo of an identity document, when the policy asks for one
// (state.proctoring.id_photo): after the system check, before the clock
// starts. The candidate sees the camera, takes the photo, sees it, and
// either retakes it or sends it (POST evidence/id_photo). Only the photo
// they choose is sent. Every control is a labelled button; the status line
// is a live region, and the focus follows each step.

import { fill, h, say } from "./dom.js";
import { call } from "./uploader.js";
import { t } from "./i18n.js";
import { explain } from "./problems.js";

const WIDTH = 1280; // a document's small print must stay readable
const QUALITY = 0.9;

function grab(video) {
  const canvas = document.createElement("canvas");
  const w = Math.min(WIDTH, video.videoWidth);
  canvas.width = w;
  canvas.height = Math.round((video.videoHeight * w) / video.videoWidth);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
}

/**
 * Shows the step in `container` and resolves once the photo is on the
 * server. base: the player API; stream: the camera the system check kept.
 */
export function idPhotoStep(container, { base, stream }) {
  const heading = h("h2", { id: "id-photo-h", tabindex: "-1" }, t("Photo of your ID"));
  const video = h("video", { class: "id-photo-live", muted: true, playsinline: true, autoplay: true, "aria-label": t("Your camera picture") });
  video.muted = true;
  video.srcObject = stream;
  video.play().catch(() => {});
  const photo = h("img", { class: "id-photo-shot", alt: t("The photo of your ID that you took"), hidden: true });
  const take = h("button", { type: "button", class: "big" }, t("Take photo of your ID"));
  const retake = h("button", { type: "button", class: "secondary", hidden: true }, t("Retake photo"));
  const use = h("button", { type: "button", hidden: true }, t("Use this photo"));
  const status = h("p", { class: "id-photo-status", role: "status" });
  const section = h("section", { class: "card id-photo", "aria-labelledby": "id-photo-h" },
    heading,
    h("p", {}, t("This exam asks for a photo of an identity document (an identity card, a passport or a " +
      "driving licence) before it starts. Hold the side with your photo and name up to the camera, " +
      "close enough to read, then choose Take photo of your ID.")),
    h("p", { class: "muted" }, t("Only the photo you choose to use is sent. It is kept with your exam's " +
      "proctoring records, as the consent you gave describes.")),
    h("div", { class: "id-photo-frame" }, video, photo),
    h("div", { class: "actions" }, take, retake, use),
    status);
  fill(container, section);
  heading.focus();

  let blob = null;
  let url = null;
  const showLive = () => {
    blob = null;
    if (url) URL.revokeObjectURL(url);
    url = null;
    photo.hidden = true;
    photo.removeAttribute("src");
    video.hidden = false;
    take.hidden = false;
    retake.hidden = true;
    use.hidden = true;
  };

  return new Promise((resolve) => {
    take.addEventListener("click", async () => {
      if (video.readyState < 2 || !video.videoWidth) {
        say(status, t("The camera picture is not ready yet. Wait a moment, then choose Take photo of your ID again."));
        return;
      }
      blob = await grab(video);
      if (!blob) {
        say(status, t("The photo could not be taken. Choose Take photo of your ID again."));
        return;
      }
      url = URL.createObjectURL(blob);
      photo.src = url;
      photo.hidden = false;
      video.hidden = true;
      take.hidden = true;
      retake.hidden = false;
      use.hidden = false;
      say(status, t("Photo taken. Check that your name and photo are readable, then choose Use this photo, or Retake photo."));
      use.focus();
    });
    retake.addEventListener("click", () => {
      showLive();
      say(status, t("Hold your ID up to the camera, then choose Take photo of your ID."));
      take.focus();
    });
    use.addEventListener("click", async () => {
      if (!blob) return;
      use.disabled = retake.disabled = true;
      say(status, t("Sending the photo…"));
      try {
        await call(base, "POST", "evidence/id_photo", blob, { "Content-Type": "image/jpeg" });
      } catch (err) {
        use.disabled = retake.disabled = false;
        say(status, err.kind === "network"
          ? t("The photo could not be sent: check your internet connection, then choose Use this photo again.")
          : `${t("The photo was not accepted.")} ${explain(err)} ${t("Choose Retake photo and try again.")}`);
        return;
      }
      if (url) URL.revokeObjectURL(url);
      video.srcObject = null;
      fill(section, h("h2", { id: "id-photo-h", tabindex: "-1" }, t("Photo of your ID")),
        h("p", { class: "id-photo-status", role: "status" }, t("Your ID photo was sent.")));
      section.querySelector("h2").focus();
      resolve();
    });
  });
}
