"""A folder as an object store: one file per key, written atomically."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from invigil.evidence.stores import ObjectMissing, StoreUnavailable, check_key

READ_SIZE = 1024 * 1024


# Encrypted streams arrive in 64 KiB chunks: writing them in 1 MiB runs
# halves the syscalls and keeps the disk busy.
WRITE_BUFFER = 1024 * 1024


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return f"local:{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.part"
        written = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb", buffering=WRITE_BUFFER) as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(path)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot write to {self.location} ({exc.strerror or exc})"
            ) from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return written

    def get(self, key: str) -> Iterator[bytes]:
        try:
            handle = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key} in {self.location}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self.location} ({exc.strerror})") from exc
        return _read(handle)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectMissing(f"no object {key} in {self.location}") from None

    def probe(self) -> None:
        key = f"probe/{uuid.uuid4().hex}"
        self.put(key, [b"ok"])
        if b"".join(self.get(key)) != b"ok":
            raise StoreUnavailable(f"{self.location} returned other bytes than written")
        self.delete(key)


def _read(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while block := handle.read(READ_SIZE):
            yield block
