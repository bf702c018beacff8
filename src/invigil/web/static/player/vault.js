// The device's copy of evidence not yet on the server: webcam snapshots and
// screen-recording segments, as blobs in IndexedDB (one database per
// attempt), so that an offline spell, a slow line or a reload loses nothing.
// A record leaves only when the server has it (or refused it for good, which
// the caller reports as an event). Where IndexedDB cannot be opened (some
// private modes) the records live in memory for this page only.

const STORE = "pending";

const nameOf = (attemptId) => `invigil-evidence:${attemptId}`;

/** Delete an attempt's copies without opening them (the attempt was submitted elsewhere). */
export function forgetEvidence(attemptId) {
  try {
    window.indexedDB.deleteDatabase(nameOf(attemptId));
  } catch {
    // nothing kept, or nothing to do
  }
}

export class VaultFull extends Error {
  constructor(why) {
    super(why);
    this.why = why; // storage_full | storage_failed
  }
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves when the transaction commits (a quota error may show only then). */
function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("aborted", "AbortError"));
  });
}

export class Vault {
  constructor(attemptId) {
    this.name = nameOf(attemptId);
    this.memory = null; // [record] when IndexedDB is not available
    this.count = 0;
    this.bytes = 0;
    this.kinds = { snapshot: 0, segment: 0 };
    this.ready = this.open();
  }

  async open() {
    try {
      const req = window.indexedDB.open(this.name, 1);
      req.onupgradeneeded = () => {
        const store = req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        store.createIndex("type", "type");
      };
      this.db = await request(req);
      this.db.onversionchange = () => this.db.close();
      const all = await request(this.db.transaction(STORE).objectStore(STORE).getAll());
      for (const r of all) this.counted(r, 1);
    } catch {
      this.db = null;
      this.memory = [];
    }
  }

  get durable() {
    return this.memory === null;
  }

  counted(record, sign) {
    this.count += sign;
    this.bytes += sign * (record.size || 0);
    if (record.type in this.kinds) this.kinds[record.type] += sign;
  }

  /** Keep a new record; throws VaultFull when the device refuses it. */
  async add(record) {
    await this.ready;
    if (this.memory) {
      record.id = (this.memory.length ? this.memory[this.memory.length - 1].id : 0) + 1;
      this.memory.push(record);
    } else {
      try {
        const tx = this.db.transaction(STORE, "readwrite");
        const id = request(tx.objectStore(STORE).add(record));
        await done(tx);
        record.id = await id;
      } catch (err) {
        throw new VaultFull(err && err.name === "QuotaExceededError" ? "storage_full" : "storage_failed");
      }
    }
    this.counted(record, 1);
    return record.id;
  }

  /** Save the progress of a record (its upload id, its object id). */
  async update(record) {
    await this.ready;
    if (this.memory) return;
    try {
      const tx = this.db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(record);
      await done(tx);
    } catch {
      // The progress is only a shortcut: the upload resumes from the start.
    }
  }

  async remove(record) {
    await this.ready;
    if (this.memory) {
      const before = this.memory.length;
      this.memory = this.memory.filter((r) => r.id !== record.id);
      if (this.memory.length !== before) this.counted(record, -1);
      return;
    }
    const tx = this.db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const found = await request(store.getKey(record.id));
    if (found !== undefined) store.delete(record.id);
    await done(tx);
    if (found !== undefined) this.counted(record, -1);
  }

  /** The next record to send: the oldest snapshot (small, and re-checked
   * by the server), else the oldest recording segment (in order). */
  async next() {
    await this.ready;
    if (this.memory) {
      return this.memory.find((r) => r.type === "snapshot") || this.memory[0] || null;
    }
    const index = this.db.transaction(STORE).objectStore(STORE).index("type");
    for (const type of ["snapshot", "segment"]) {
      const cursor = await request(index.openCursor(IDBKeyRange.only(type)));
      if (cursor) return cursor.value;
    }
    return null;
  }

  /** Every record (for the report of what could not be sent). */
  async all() {
    await this.ready;
    if (this.memory) return this.memory.slice();
    return request(this.db.transaction(STORE).objectStore(STORE).getAll());
  }

  /** After a submit: nothing here can be taken any more. */
  async forget() {
    await this.ready;
    this.memory = this.memory ? [] : null;
    this.count = this.bytes = 0;
    this.kinds = { snapshot: 0, segment: 0 };
    if (!this.db) return;
    this.db.close();
    this.db = null;
    this.memory = [];
    // Not awaited: blocked by another tab of this attempt, it goes when that one does.
    window.indexedDB.deleteDatabase(this.name);
  }
}
