"""One contract, two stores: a local folder and an S3 bucket on moto's server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invigil.evidence.stores import (
    ObjectMissing,
    ObjectStore,
    RegionStores,
    StoreMisconfigured,
    StoreUnavailable,
    store_url,
)
from invigil.evidence.stores.local import LocalStore
from invigil.evidence.stores.s3 import S3Store, make_client
from tests.evidence.conftest import new_bucket


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalStore(tmp_path / "objects")
    s3 = request.getfixturevalue("s3")
    return S3Store(new_bucket(s3), prefix="evidence")


def test_put_get_size_exists_delete(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    assert not store.exists("t/snapshot/a")
    assert store.put("t/snapshot/a", [data[:1000], data[1000:], b""]) == len(data)
    assert store.exists("t/snapshot/a")
    assert store.size("t/snapshot/a") == len(data)
    assert b"".join(store.get("t/snapshot/a")) == data
    store.delete("t/snapshot/a")
    assert not store.exists("t/snapshot/a")
    store.delete("t/snapshot/a")  # deleting twice is fine


def test_put_replaces(store: ObjectStore) -> None:
    store.put("k", [b"one"])
    store.put("k", [b"two"])
    assert b"".join(store.get("k")) == b"two"


def test_empty_object(store: ObjectStore) -> None:
    assert store.put("empty", iter(())) == 0
    assert store.size("empty") == 0
    assert b"".join(store.get("empty")) == b""


def test_missing_objects_raise_at_the_call(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing):
        store.get("nope")
    with pytest.raises(ObjectMissing):
        store.size("nope")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a b", "x/" + "y" * 300])
def test_keys_are_checked(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, [b"x"])


def test_a_large_object_streams_in_bounded_pieces(store: ObjectStore) -> None:
    """20 MiB from a generator: multipart on S3 (three parts), a temp file locally."""
    block = os.urandom(1024 * 1024)

    def source() -> Iterator[bytes]:
        for i in range(20):
            yield bytes([i]) + block[1:]

    assert store.put("big", source()) == 20 * len(block)
    assert store.size("big") == 20 * len(block)
    seen = 0
    for piece in store.get("big"):
        assert len(piece) <= 8 * 1024 * 1024
        seen += len(piece)
    assert seen == 20 * len(block)


def test_a_failed_stream_leaves_no_object(store: ObjectStore) -> None:
    def broken() -> Iterator[bytes]:
        yield os.urandom(9 * 1024 * 1024)  # past one S3 part
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        store.put("half", broken())
    assert not store.exists("half")


def test_probe(store: ObjectStore) -> None:
    store.probe()


def test_s3_multipart_is_used_and_completed(s3: Any) -> None:
    bucket = new_bucket(s3)
    store = S3Store(bucket)
    store.put("big", [os.urandom(9 * 1024 * 1024)])
    etag = s3.head_object(Bucket=bucket, Key="big")["ETag"]
    assert etag.strip('"').endswith("-2")  # a multipart ETag: two parts
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_s3_missing_bucket_is_a_clear_error(s3: Any) -> None:
    store = S3Store("no-such-bucket-here")
    with pytest.raises(StoreUnavailable, match="bucket no-such-bucket-here does not exist"):
        store.put("k", [b"x"])


def test_s3_unreachable_endpoint_is_a_clear_error(s3_endpoint: str) -> None:
    client = make_client("http://127.0.0.1:9")  # discard port: nothing listens
    client.meta.config.retries = {"max_attempts": 1}
    store = S3Store("b", client=client)
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        store.probe()


def test_store_urls_per_region() -> None:
    assert store_url("eu-central", "local") == "local"
    assert store_url("eu-central", "s3://invigil") == "s3://invigil-eu-central"
    assert store_url("us-east", "s3://invigil", {"us-east": "s3://x/y"}) == "s3://x/y"
    with pytest.raises(StoreMisconfigured):
        store_url("eu-central", "ftp://x")
    with pytest.raises(StoreMisconfigured):
        store_url("eu-central", "s3://a/b")


def test_region_stores_open_one_store_per_region(tmp_path: Path, s3_endpoint: str) -> None:
    stores = RegionStores(("eu-central", "us-east"), "s3://inv", tmp_path, {"eu-central": "local"})
    eu, us = stores.for_region("eu-central"), stores.for_region("us-east")
    assert isinstance(eu, LocalStore) and eu.root == tmp_path / "eu-central"
    assert isinstance(us, S3Store) and us.bucket == "inv-us-east"
    assert stores.for_region("us-east") is us
    with pytest.raises(StoreMisconfigured):
        stores.for_region("mars")


def test_readiness_reports_a_missing_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    from invigil.health import readiness
    from invigil.settings import Settings

    settings = Settings(home=tmp_path, object_store="s3://absent", regions=("eu-central",))
    check = readiness(None, settings)["checks"]["object_store"]
    assert not check["ok"]
    assert "region eu-central: bucket absent-eu-central does not exist" in check["detail"]


def test_readiness_passes_on_existing_buckets(tmp_path: Path, s3: Any) -> None:
    from invigil.health import readiness
    from invigil.settings import Settings

    prefix = f"ok{uuid.uuid4().hex[:8]}"
    new_bucket(s3, f"{prefix}-eu-central")
    settings = Settings(home=tmp_path, object_store=f"s3://{prefix}", regions=("eu-central",))
    check = readiness(None, settings)["checks"]["object_store"]
    assert check["ok"], check
