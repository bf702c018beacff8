"""Writing an object that a producer *writes* (a ZIP writer) into a store
that *reads* a stream (``ObjectStore.put``), encrypted, in bounded memory.

The producer runs in the caller's thread (it holds the caller's database
transaction); the store's ``put`` runs in a helper thread and pulls pieces
through a queue of at most :data:`DEPTH` pieces of about :data:`PIECE`
bytes each. So at most ``DEPTH + 2`` pieces, plus the store's own buffer
(1 MiB for a folder, one 8 MiB part for S3), are ever in memory, whatever
the object's size: a pipe, not a spooled file, so nothing plaintext ever
touches a disk.

Either side failing stops both: a failing store makes the producer's next
``write`` raise; a failing producer makes the store's stream raise, so the
folder store drops its temporary file and the S3 store aborts its
multipart upload, and no partial object is left under the key.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from invigil import metrics
from invigil.evidence import crypto
from invigil.evidence.stores import ObjectStore

PIECE = 1024 * 1024
DEPTH = 4
_WAIT = 0.5  # seconds between checks that the other side is still alive


class _Aborted(Exception):
    """The producer failed: the store must not keep what it received."""


@dataclass(frozen=True)
class Written:
    size: int  # plaintext bytes
    sha256: str  # of the plaintext
    stored_size: int  # bytes in the store (the encrypted stream)


class PipeSink:
    """A binary, write-only, unseekable file object feeding the store's thread."""

    def __init__(self, pieces: queue.Queue[bytes | None], failed: threading.Event) -> None:
        self._pieces = pieces
        self._failed = failed
        self._buffer = bytearray()
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.closed = False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: bytes, /) -> int:
        if self.closed:
            raise ValueError("write to a closed bundle sink")
        view = bytes(data)
        self.size += len(view)
        self.sha256.update(view)
        self._buffer += view
        if len(self._buffer) >= PIECE:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        return len(view)

    def flush(self) -> None:
        """Pieces leave when full (a ZIP writer flushes after every member)."""

    def _send(self, item: bytes | None) -> None:
        while True:
            if self._failed.is_set():
                raise _StoreFailed()
            try:
                self._pieces.put(item, timeout=_WAIT)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self.closed = True
        self._send(None)


class _StoreFailed(Exception):
    """The store's thread stopped; its own error is raised in its place."""


def put_written(
    store: ObjectStore,
    key: str,
    data_key: bytes,
    object_id: uuid.UUID,
    produce: Callable[[PipeSink], None],
    *,
    kind: str = "generated",
) -> Written:
    """Run ``produce(sink)`` and store what it writes under ``key``,
    encrypted with ``data_key`` for ``object_id`` (:mod:`evidence.crypto`);
    ``kind`` names it in the stored bytes' metric."""
    pieces: queue.Queue[bytes | None] = queue.Queue(maxsize=DEPTH)
    failed, aborted = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def drain() -> Iterator[bytes]:
        while True:
            if aborted.is_set():
                raise _Aborted()
            try:
                item = pieces.get(timeout=_WAIT)
            except queue.Empty:
                if aborted.is_set():
                    raise _Aborted() from None
                continue
            if item is None:
                return
            yield item

    def consume() -> None:
        try:
            outcome["stored"] = store.put(key, crypto.encrypt(data_key, object_id, drain()))
        except BaseException as exc:  # handed to the producer's thread below
            outcome["error"] = exc
            failed.set()

    worker = threading.Thread(target=consume, name=f"store-put-{object_id}", daemon=True)
    worker.start()
    sink = PipeSink(pieces, failed)
    try:
        produce(sink)
        sink.finish()
    except BaseException as exc:
        aborted.set()
        worker.join()
        error = outcome.get("error")
        if isinstance(exc, _StoreFailed) and isinstance(error, BaseException):
            raise error from None
        raise
    worker.join()
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    stored = outcome["stored"]
    assert isinstance(stored, int)
    metrics.EVIDENCE_BYTES.labels(kind).inc(stored)
    return Written(sink.size, sink.sha256.hexdigest(), stored)
