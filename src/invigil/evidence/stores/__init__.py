"""Object stores: one small interface, a local folder and an S3-compatible back end.

Stores hold opaque bytes under keys (``<tenant>/<kind>/<object id>``); they
never see plaintext (the service encrypts before ``put``). Which store a
tenant writes to is decided by :class:`RegionStores` from the tenant's
region, inside the evidence service: callers never pass a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from invigil.errors import DomainError, NotFound, Unavailable

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectMissing(NotFound):
    """The store has no object under this key."""


class StoreUnavailable(Unavailable):
    """The store cannot be reached, or refuses (bucket missing, no rights)."""


class StoreMisconfigured(DomainError):
    status = 500
    slug = "store-misconfigured"


def check_key(key: str) -> str:
    if len(key) > 300 or ".." in key or not _KEY.match(key):
        raise ValueError(f"not a valid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    """Bytes under keys. ``put`` consumes an iterator (any size, bounded memory)."""

    @property
    def location(self) -> str:
        """Where the bytes go, for logs and errors (no secrets)."""
        ...

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the stream under ``key`` (replacing it); return the bytes written."""
        ...

    def get(self, key: str) -> Iterator[bytes]:
        """The stored bytes as a stream; ObjectMissing raised at the call, not on iteration."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def probe(self) -> None:
        """Write, read and delete a small object, or raise StoreUnavailable."""
        ...


def open_store(url: str, region: str, objects_dir: Path) -> ObjectStore:
    """``local`` (``<objects>/<region>``), ``file:///abs/path``, ``s3://bucket[/prefix]``."""
    if url == "local":
        from invigil.evidence.stores.local import LocalStore

        return LocalStore(objects_dir / region)
    if url.startswith("file://"):
        from invigil.evidence.stores.local import LocalStore

        return LocalStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from invigil.evidence.stores.s3 import S3Store

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3Store(bucket, prefix=prefix)
    raise StoreMisconfigured(
        f"object store {url!r} for region {region} is not understood: use 'local', "
        "'file:///path' or 's3://bucket[/prefix]'"
    )


def store_url(region: str, default: str, per_region: dict[str, str] | None = None) -> str:
    """The store URL of ``region``: an explicit per-region URL, else derived
    from the default (``local``, or ``s3://prefix`` -> bucket ``prefix-<region>``)."""
    if per_region and region in per_region:
        return per_region[region]
    if default == "local":
        return "local"
    if default.startswith("s3://"):
        prefix = default.removeprefix("s3://").strip("/")
        if "/" in prefix or not prefix:
            raise StoreMisconfigured(
                f"INVIGIL_OBJECT_STORE={default!r}: give a bucket-name prefix (s3://name), "
                "each region uses bucket <name>-<region>"
            )
        return f"s3://{prefix}-{region}"
    raise StoreMisconfigured(
        f"INVIGIL_OBJECT_STORE={default!r} is not understood: use 'local' or 's3://prefix'"
    )


class RegionStores:
    """One store per configured region, opened lazily and kept for the process."""

    def __init__(
        self,
        regions: Iterable[str],
        default: str,
        objects_dir: Path,
        per_region: dict[str, str] | None = None,
    ) -> None:
        self.regions = tuple(regions)
        self.default = default
        self.objects_dir = objects_dir
        self.per_region = dict(per_region or {})
        self._open: dict[str, ObjectStore] = {}

    def url(self, region: str) -> str:
        return store_url(region, self.default, self.per_region)

    def for_region(self, region: str) -> ObjectStore:
        if region not in self.regions:
            raise StoreMisconfigured(f"region {region!r} is not configured")
        if region not in self._open:
            self._open[region] = open_store(self.url(region), region, self.objects_dir)
        return self._open[region]
