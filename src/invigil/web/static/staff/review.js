// The review page: choose flags for one decision, and the time axis with
// the screen recording. The recording's segments play one after the other
// in one <video>; choosing an event, a flag or a moment on the track moves
// the recording there. Without this script the page still works: the marks
// are links to what they stand for, and each decision has its own form.
"use strict";

(function () {
  const chooseAll = document.querySelector("[data-choose-all]");
  if (chooseAll) {
    const row = document.getElementById("choose-all-row");
    if (row) row.hidden = false; // it needs this script; each flag's own box does not
    const boxes = () => [...document.querySelectorAll('input[type="checkbox"][name="flag"][form="bulk"]')];
    const count = document.getElementById("chosen-count");
    const show = () => {
      const all = boxes();
      const n = all.filter((b) => b.checked).length;
      chooseAll.checked = n > 0 && n === all.length;
      chooseAll.indeterminate = n > 0 && n < all.length;
      if (count) count.textContent = n ? `${n} of ${all.length} chosen` : "";
    };
    chooseAll.addEventListener("change", () => {
      for (const b of boxes()) b.checked = chooseAll.checked;
      show();
    });
    for (const b of boxes()) b.addEventListener("change", show);
    show();
  }

  const video = document.getElementById("recording");
  const track = document.getElementById("track");
  if (!video || !track) return;
  const start = Date.parse(track.dataset.start);
  const end = Date.parse(track.dataset.end);
  const range = document.getElementById("track-position");
  const output = document.getElementById("track-time");
  const cursor = document.getElementById("track-cursor");
  const now = document.getElementById("recording-now");
  const segments = [...document.querySelectorAll("#playlist li")].map((li) => ({
    src: li.dataset.src,
    start: Date.parse(li.dataset.start),
    end: Date.parse(li.dataset.end),
  }));
  if (!segments.length) return;
  let current = -1;

  const hms = (ms) => new Date(ms).toISOString().slice(11, 19);

  function showAt(ms) {
    const at = Math.min(Math.max(ms, start), end);
    const share = end > start ? ((at - start) / (end - start)) * 100 : 0;
    if (cursor) cursor.style.setProperty("--at", String(share / 100));
    if (range) {
      range.value = String(Math.round((at - start) / 1000));
      range.setAttribute("aria-valuetext", `${hms(at)} UTC`);
    }
    if (output) output.textContent = `${hms(at)} UTC`;
    video.dataset.position = new Date(at).toISOString();
  }

  function load(index, offset, play, asked) {
    const seg = segments[index];
    const apply = () => {
      try {
        video.currentTime = offset;
      } catch (e) {
        // not seekable yet: it starts from the beginning of the segment
      }
      if (play) video.play().catch(() => {});
    };
    video.dataset.segment = String(index);
    video.dataset.offset = String(offset);
    if (now) now.textContent = `segment ${index + 1} of ${segments.length}, from ${hms(seg.start + offset * 1000)} UTC`;
    showAt(asked === undefined ? seg.start + offset * 1000 : asked);
    if (index === current && video.readyState >= 1) {
      apply();
      return;
    }
    current = index;
    video.preload = "auto";
    video.src = seg.src;
    video.addEventListener("loadedmetadata", apply, { once: true });
    video.load();
  }

  // The segment holding the moment, else the next one after it (the
  // recording has a gap there), else the end of the last.
  function seek(ms, play) {
    let index = segments.findIndex((s) => s.start <= ms && ms < s.end);
    let offset = 0;
    if (index >= 0) {
      offset = (ms - segments[index].start) / 1000;
      load(index, offset, play);
      return;
    } else {
      index = segments.findIndex((s) => s.start > ms);
      if (index < 0) {
        index = segments.length - 1;
        offset = Math.max(0, (segments[index].end - segments[index].start) / 1000 - 0.1);
      }
    }
    load(index, offset, play, ms); // a moment with no recording: shown where asked
  }

  video.preload = "none"; // nothing is fetched (nor a link issued) until it plays
  video.src = segments[0].src;
  video.dataset.segment = "0";
  current = 0;

  video.addEventListener("ended", () => {
    if (current + 1 < segments.length) load(current + 1, 0, true);
  });
  video.addEventListener("timeupdate", () => {
    if (current >= 0 && !video.paused) showAt(segments[current].start + video.currentTime * 1000);
  });
  if (range) range.addEventListener("input", () => seek(start + Number(range.value) * 1000, false));

  track.addEventListener("click", (e) => {
    const mark = e.target.closest("a.mark");
    if (!mark) return;
    seek(Date.parse(mark.dataset.at), true);
    if (!mark.closest(".lane-snapshot")) {
      e.preventDefault(); // stay on the track; the snapshot's row is worth the jump
      video.scrollIntoView({ block: "nearest" });
    }
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button.seek");
    if (!button) return;
    seek(Date.parse(button.dataset.at), true);
    video.scrollIntoView({ block: "center" });
  });
})();
