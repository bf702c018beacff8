// The shared screen, recorded in segments of a few seconds. Each segment is a
// whole WebM file from a MediaRecorder of its own (the next one starts just
// before the last one stops, so nothing falls between them): the reviewer
// plays any segment by itself, which a later timeslice of one long recording
// could not do (it has no header). Segments are numbered in order, the
// number kept on the device across reloads; each is handed to `keep` with
// its span in server time. The bitrate follows what the uploads manage.

const SEGMENT_MS = 5000;
const TYPES = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm"];
// A proctor needs to read the screen, not watch it move: fewer frames, less CPU and upload.
const CONSTRAINTS = { frameRate: { max: 3 }, width: { max: 1280 }, height: { max: 720 } };

const iso = (ms) => new Date(ms).toISOString();

export class ScreenRecorder {
  /**
   * clock; store: the attempt's Store (the segment count); keep(record): a
   * promise; bitrate(): bits a second for the next segment; failed(reason).
   */
  constructor({ clock, store, keep, bitrate, failed }) {
    Object.assign(this, { clock, store, keep, bitrate, failed });
    this.type = typeof MediaRecorder === "function" ? TYPES.find((t) => MediaRecorder.isTypeSupported(t)) : null;
    this.index = Math.max(0, Number(store.read("rsegment", 0)) || 0);
    this.current = null;
    this.kept = Promise.resolve();
    this.stopped = false;
    this.stats = { segments: 0, bitrate: null };
  }

  /** The next segment number, at least `min` (a number the server had taken). */
  claim(min = 0) {
    const n = Math.max(this.index, min);
    this.index = n + 1;
    this.store.write("rsegment", this.index);
    return n;
  }

  start(stream) {
    if (!stream) return;
    if (!this.type) {
      this.failed("recorder_unavailable");
      return;
    }
    this.use(stream);
  }

  /** A (new) shared screen: record it from now on. */
  use(stream) {
    if (this.stopped) return;
    this.stream = stream;
    const [track] = stream.getVideoTracks();
    if (track && track.applyConstraints) track.applyConstraints(CONSTRAINTS).catch(() => {});
    if (!this.current) this.next();
  }

  live() {
    const track = this.stream && this.stream.getVideoTracks()[0];
    return Boolean(track && track.readyState === "live");
  }

  next() {
    this.current = null;
    if (this.stopped || !this.type || !this.live()) return;
    const bits = this.bitrate();
    let rec;
    try {
      rec = new MediaRecorder(this.stream, { mimeType: this.type, videoBitsPerSecond: bits });
      rec.start();
    } catch (err) {
      this.failed("recorder_failed", err);
      return;
    }
    this.stats.bitrate = bits;
    const segment = { rec, parts: [], started: this.clock.now(), bits };
    segment.finished = new Promise((resolve) => {
      rec.addEventListener("dataavailable", (e) => {
        if (e.data && e.data.size) segment.parts.push(e.data);
      });
      // Also when the shared track ends (sharing stopped): the recorder stops itself.
      rec.addEventListener("stop", () => resolve(this.finish(segment)));
    });
    segment.timer = window.setTimeout(() => this.rotate(segment), SEGMENT_MS);
    this.current = segment;
  }

  rotate(segment) {
    if (this.current === segment) this.next();
    if (segment.rec.state !== "inactive") segment.rec.stop();
  }

  finish(segment) {
    window.clearTimeout(segment.timer);
    if (this.current === segment) this.current = null; // stopped by the track, not by us
    const ended = this.clock.now();
    const blob = new Blob(segment.parts, { type: "video/webm" });
    if (!blob.size) return this.kept;
    // In the order the segments end, which is the order they began.
    this.kept = this.kept.then(() => {
      this.stats.segments += 1;
      return this.keep({
        type: "segment",
        blob,
        size: blob.size,
        index: this.claim(),
        started_at: iso(segment.started),
        ended_at: iso(Math.max(ended, segment.started)),
        bitrate: segment.bits,
      });
    });
    return this.kept;
  }

  /** No more recording; resolves once the last segment is kept. */
  stop() {
    this.stopped = true;
    const segment = this.current;
    this.current = null;
    if (!segment) return this.kept;
    window.clearTimeout(segment.timer);
    if (segment.rec.state !== "inactive") segment.rec.stop();
    return segment.finished;
  }
}
