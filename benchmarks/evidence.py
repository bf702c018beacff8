"""The evidence scenario: what encryption costs on the local store, and
that a 1 GB object streams through in bounded memory.

``figures(tmp_dir)`` needs no database: it measures the hot path of
``evidence.service.store`` / ``open_object`` (streaming AES-256-GCM and the
local store) next to copying the same bytes as a plain file. Files are
deleted as soon as they are measured (at most about 0.8 GB on disk at once,
then 1 GB for the large object).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

from invigil.evidence import crypto
from invigil.evidence.stores.local import LocalStore

MB = 1024 * 1024
SIZE = 256 * MB
LARGE = 1024 * MB
PIECE = MB
ROUNDS = 3


def _pieces(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(PIECE):
            yield block


def _timed_mb_s(size: int, work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return size / MB / (time.perf_counter() - start)


def _drain(stream: Iterator[bytes]) -> int:
    return sum(len(piece) for piece in stream)


def _durable_copy(source: Path, target: Path) -> None:
    """A plain copy that, like the store, is on disk when it returns."""
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak_rss() -> int | None:
    """Reset the kernel's peak-RSS mark (Linux) and return the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status("VmRSS")
    except OSError:
        return None


def _peak_rss() -> int:
    return _status("VmHWM")


def figures(tmp_dir: Path | str) -> dict[str, float]:
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    source = tmp_dir / "source.bin"
    with open(source, "wb") as handle:
        for _ in range(SIZE // PIECE):
            handle.write(os.urandom(PIECE))
    store = LocalStore(tmp_dir / "objects")
    key, oid = os.urandom(32), uuid.uuid4()

    copy = tmp_dir / "copy.bin"
    runs: dict[str, list[float]] = {}

    def run(name: str, work: object) -> None:
        runs.setdefault(name, []).append(_timed_mb_s(SIZE, work))

    for _ in range(ROUNDS):  # interleaved rounds, medians: the disk and cache are noisy
        run("evidence_plain_copy_mb_s", lambda: shutil.copyfile(source, copy))
        copy.unlink()
        run("evidence_plain_copy_fsync_mb_s", lambda: _durable_copy(source, copy))
        copy.unlink()
        run("evidence_plain_store_write_mb_s", lambda: store.put("plain", _pieces(source)))
        store.delete("plain")
        run(
            "evidence_encrypted_write_mb_s",
            lambda: store.put("sealed", crypto.encrypt(key, oid, _pieces(source))),
        )
        run(
            "evidence_encrypted_read_mb_s",
            lambda: _drain(crypto.decrypt(key, oid, store.get("sealed"))),
        )
        store.delete("sealed")
    out = {name: statistics.median(values) for name, values in runs.items()}
    source.unlink()

    block = os.urandom(PIECE)

    def generator() -> Iterator[bytes]:
        for _ in range(LARGE // PIECE):
            yield block

    big = uuid.uuid4()
    idle_rss = _reset_peak_rss()
    tracemalloc.start()
    start = time.perf_counter()
    written = store.put("large", crypto.encrypt(key, big, generator()))
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.delete("large")
    out["evidence_1gb_encrypted_write_mb_s"] = LARGE / MB / elapsed
    out["evidence_1gb_peak_python_memory_mb"] = peak / MB
    if idle_rss is not None:
        out["evidence_1gb_peak_rss_above_idle_mb"] = (_peak_rss() - idle_rss) / MB
    out["evidence_1gb_stored_overhead_pct"] = (written - LARGE) / LARGE * 100
    return out


LABELS = {
    "evidence_plain_copy_mb_s": ("Plain file copy, 256 MB (shutil.copyfile, no fsync)", "MB/s"),
    "evidence_plain_copy_fsync_mb_s": ("Plain file copy + fsync, 256 MB (durable)", "MB/s"),
    "evidence_plain_store_write_mb_s": ("Local store write, no encryption (fsync), 256 MB", "MB/s"),
    "evidence_encrypted_write_mb_s": ("Encrypted write to the local store (fsync), 256 MB", "MB/s"),
    "evidence_encrypted_read_mb_s": ("Encrypted read (decrypt) from the local store", "MB/s"),
    "evidence_1gb_encrypted_write_mb_s": ("Encrypted write of a 1 GB generator stream", "MB/s"),
    "evidence_1gb_peak_python_memory_mb": ("Peak Python memory while storing 1 GB", "MB"),
    "evidence_1gb_peak_rss_above_idle_mb": (
        "Peak resident memory above idle while storing 1 GB (target < 100)",
        "MB",
    ),
    "evidence_1gb_stored_overhead_pct": ("Stored size overhead (header, GCM tags)", "%"),
}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for name, value in figures(Path(folder)).items():
            print(f"{name:40s} {value:10.2f}")
