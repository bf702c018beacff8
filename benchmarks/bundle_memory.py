"""The memory of building an evidence bundle of a long attempt (ADR 0041).

Builds, in this process, a bundle the size of 60 minutes of screen
recording (by default 360 members of 1.5 MB, about 540 MB, written by a
generator through ``zipfile`` onto the job's sink) through the real path
below the database: :func:`invigil.evidence.streaming.put_written`
(bounded pipe, streaming AES-256-GCM) into the folder store, then reads
it back and checks its SHA-256. Prints JSON: the resident set before, the
peak during (``getrusage`` and a sampler), the growth, the time.

Run it in a process of its own (the peak is per process):
``python -m benchmarks.bundle_memory [--members N] [--member-size BYTES] [--folder DIR]``;
``tests/evidence/test_bundle_memory.py`` does, and asserts growth < 100 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil

from invigil.evidence import crypto
from invigil.evidence.stores.local import LocalStore
from invigil.evidence.streaming import PipeSink, put_written

MB = 1024 * 1024
PIECE = 64 * 1024


def _member(index: int, size: int) -> Iterator[bytes]:
    seed = hashlib.sha256(f"chunk-{index}".encode()).digest()
    block = (seed * (PIECE // len(seed) + 1))[:PIECE]
    left = size
    while left > 0:
        yield block[: min(PIECE, left)]
        left -= PIECE


class _Peak:
    """Samples the resident set every 20 ms (getrusage's peak is the check;
    this one shows that the peak is during the build, not after)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _high_water() -> int:
    """This process's peak resident set: VmHWM (getrusage's ru_maxrss would
    carry the peak of the process that forked us across exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(members: int, member_size: int, folder: Path) -> dict[str, float]:
    store = LocalStore(folder)
    data_key, bundle_id = os.urandom(32), uuid.uuid4()
    key = f"{uuid.uuid4()}/bundle/{bundle_id}"
    written_members: list[int] = []

    def build(sink: PipeSink) -> None:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
            archive.writestr("manifest.json", json.dumps({"members": members}))
            for i in range(members):
                name = f"evidence/recording/{i:04d}.webm"
                with archive.open(name, "w", force_zip64=True) as out:
                    for piece in _member(i, member_size):
                        out.write(piece)
                written_members.append(i)

    before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    with _Peak() as sampler:
        written = put_written(store, key, data_key, bundle_id, build)
    seconds = time.perf_counter() - started
    peak = max(_high_water(), sampler.peak)
    check = hashlib.sha256()
    for piece in crypto.decrypt(data_key, bundle_id, store.get(key)):
        check.update(piece)
    store.delete(key)
    if check.hexdigest() != written.sha256 or len(written_members) != members:
        raise SystemExit("the stored bundle does not read back as written")
    return {
        "members": members,
        "bundle_mb": round(written.size / MB, 1),
        "stored_mb": round(written.stored_size / MB, 1),
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_growth_mb": round((peak - before) / MB, 1),
        "seconds": round(seconds, 2),
        "mb_s": round(written.size / MB / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=360)
    parser.add_argument("--member-size", type=int, default=1_500_000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bundle-memory-", dir=args.folder) as folder:
        print(json.dumps(run(args.members, args.member_size, Path(folder))))


if __name__ == "__main__":
    main()
