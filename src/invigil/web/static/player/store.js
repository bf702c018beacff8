// The device's copy of what has not reached the server yet, in localStorage
// under the attempt's storage key. The in-memory copy is authoritative for
// this tab; every change is written through before anything is sent.

export class Store {
  constructor(key) {
    this.prefix = `${key}:`;
  }

  read(name, fallback) {
    try {
      const raw = window.localStorage.getItem(this.prefix + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  /** false when the browser refused (storage full or blocked). */
  write(name, value) {
    try {
      window.localStorage.setItem(this.prefix + name, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }

  clear(names) {
    for (const name of names) {
      try {
        window.localStorage.removeItem(this.prefix + name);
      } catch {
        // nothing to keep
      }
    }
  }
}

/**
 * The persistent queue of answer items, one per question at most: a newer
 * item for a question replaces older ones (only the newest needs sending),
 * but an item is never dropped for one with a lower seq.
 */
export class Queue {
  constructor(store) {
    this.store = store;
    const saved = store.read("queue", []);
    this.list = Array.isArray(saved) ? saved.filter(isItem) : [];
    this.persisted = true;
  }

  /**
   * The next sequence number: above every number this tab, this device (other
   * tabs included) or the server used, even if storage stops accepting writes.
   */
  nextSeq(floor) {
    const stored = Number(this.store.read("seq", 0)) || 0;
    this.seq = Math.max(this.seq || 0, stored, floor || 0) + 1;
    this.store.write("seq", this.seq);
    return this.seq;
  }

  items() {
    return this.list.slice();
  }

  get size() {
    return this.list.length;
  }

  put(item) {
    this.list = this.list.filter((i) => i.index !== item.index || i.seq > item.seq);
    this.list.push(item);
    this.save();
  }

  /** Forget the items the server has answered for. */
  settle(seqs) {
    const done = new Set(seqs);
    const before = this.list.length;
    this.list = this.list.filter((i) => !done.has(i.seq));
    if (this.list.length !== before) this.save();
  }

  markOffline() {
    let changed = false;
    for (const item of this.list) {
      if (!item.offline) {
        item.offline = true;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  save() {
    this.persisted = this.store.write("queue", this.list);
  }
}

function isItem(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    Number.isInteger(value.index) &&
    Number.isInteger(value.seq)
  );
}
