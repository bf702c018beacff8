"""Storing what a producer writes (an evidence bundle's ZIP writer) through a
bounded pipe, encrypted: into a folder and into S3 (multipart), and nothing
left behind when either side fails."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from invigil.evidence import crypto
from invigil.evidence.stores import StoreUnavailable
from invigil.evidence.stores.local import LocalStore
from invigil.evidence.stores.s3 import S3Store
from invigil.evidence.streaming import DEPTH, PIECE, PipeSink, put_written
from tests.evidence.conftest import new_bucket

ROOT = Path(__file__).resolve().parents[2]


def writer(members: int, size: int, fail_at: int | None = None) -> Any:
    def produce(sink: PipeSink) -> None:
        with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[arg-type]
            for i in range(members):
                if i == fail_at:
                    raise RuntimeError("the builder broke")
                with archive.open(f"m{i}.bin", "w", force_zip64=True) as out:
                    out.write(os.urandom(size))

    return produce


def read_back(store: Any, key: str, data_key: bytes, object_id: uuid.UUID) -> bytes:
    return b"".join(crypto.decrypt(data_key, object_id, store.get(key)))


def test_a_written_zip_lands_encrypted_in_a_folder_and_reads_back(tmp_path: Path) -> None:
    store, data_key, object_id = LocalStore(tmp_path), os.urandom(32), uuid.uuid4()
    written = put_written(store, "t/bundle/a", data_key, object_id, writer(5, 700_000))
    assert written.stored_size == crypto.encrypted_size(written.size)
    plain = read_back(store, "t/bundle/a", data_key, object_id)
    assert len(plain) == written.size
    assert hashlib.sha256(plain).hexdigest() == written.sha256
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        assert len(archive.namelist()) == 5
    assert (tmp_path / "t/bundle/a").read_bytes()[:4] == b"IVEV"


def test_a_failing_producer_leaves_no_object_and_no_part_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(RuntimeError, match="the builder broke"):
        put_written(store, "t/bundle/b", os.urandom(32), uuid.uuid4(), writer(6, 800_000, 4))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


class _BrokenStore(LocalStore):
    """Fails after reading a little of the stream (a full disk, a lost bucket)."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        for n, _ in enumerate(chunks):
            if n == 3:
                raise StoreUnavailable("cannot write to the test store (disk full)")
        return 0


def test_a_failing_store_stops_the_producer_with_the_stores_error(tmp_path: Path) -> None:
    writes = 0

    def endless(sink: PipeSink) -> None:
        nonlocal writes
        while True:  # stops only because the store failed
            sink.write(b"x" * PIECE)
            writes += 1

    with pytest.raises(StoreUnavailable, match="disk full"):
        put_written(_BrokenStore(tmp_path), "t/bundle/c", os.urandom(32), uuid.uuid4(), endless)
    # the pipe is bounded: the producer got only a few pieces ahead of the store
    assert writes <= 3 + DEPTH + 4
    assert threading.active_count() < 50


def test_s3_receives_a_large_bundle_as_a_multipart_upload(s3: Any) -> None:
    bucket = new_bucket(s3)
    store = S3Store(bucket, client=s3, part_size=5 * 1024 * 1024)
    data_key, object_id = os.urandom(32), uuid.uuid4()
    written = put_written(store, "t/bundle/d", data_key, object_id, writer(4, 3_000_000))
    head = s3.head_object(Bucket=bucket, Key="t/bundle/d")
    assert "-" in head["ETag"]  # a multipart upload's ETag counts its parts
    assert len(read_back(store, "t/bundle/d", data_key, object_id)) == written.size


def test_s3_keeps_nothing_of_a_bundle_whose_producer_failed(s3: Any) -> None:
    bucket = new_bucket(s3)
    store = S3Store(bucket, client=s3, part_size=5 * 1024 * 1024)
    with pytest.raises(RuntimeError):
        put_written(store, "t/bundle/e", os.urandom(32), uuid.uuid4(), writer(6, 3_000_000, 5))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_sixty_minutes_of_screen_recording_build_within_100_mb_of_memory(
    tmp_path: Path,
) -> None:
    """360 chunks of 1.5 MB (about 515 MiB) through the pipe, the cipher and
    the folder store, in a process of its own so that its peak is its own."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bundle_memory", "--folder", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(out.stdout)
    assert figures["members"] == 360 and figures["bundle_mb"] > 500
    assert figures["rss_growth_mb"] < 100, figures
