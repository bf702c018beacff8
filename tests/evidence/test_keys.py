"""The master key: its sources, rotation across processes and tenants."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import pytest

from invigil.db import platform
from invigil.db.engine import Database
from invigil.errors import Unavailable
from invigil.evidence import service
from invigil.evidence.keys import rotate_master
from invigil.evidence.master import LocalMasterKey
from invigil.tenants import service as tenants
from tests.evidence.factories import REGIONS, jpeg, make_evidence


def test_the_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    master = LocalMasterKey(tmp_path / "keys")
    wrapped = master.wrap(b"k" * 32, b"ctx")
    path = tmp_path / "keys" / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_bytes()) == 32
    again = LocalMasterKey(tmp_path / "keys")
    assert again.key_id == master.key_id
    assert again.unwrap(master.key_id, wrapped, b"ctx") == b"k" * 32
    with pytest.raises(Unavailable):
        again.unwrap(master.key_id, wrapped, b"another context")


def test_the_key_can_come_from_the_environment(tmp_path: Path) -> None:
    raw = os.urandom(32)
    master = LocalMasterKey(tmp_path / "keys", base64.b64encode(raw).decode())
    assert master.unwrap(master.key_id, master.wrap(b"x" * 32, b"c"), b"c") == b"x" * 32
    assert not (tmp_path / "keys" / "master.key").exists()
    with pytest.raises(Unavailable, match="INVIGIL_MASTER_KEY"):
        master.rotate()
    with pytest.raises(Unavailable, match="32 bytes"):
        _ = LocalMasterKey(tmp_path, base64.b64encode(b"short").decode()).key_id


def test_another_process_follows_a_rotation(tmp_path: Path) -> None:
    rotating, other = LocalMasterKey(tmp_path), LocalMasterKey(tmp_path)
    old = other.wrap(b"a" * 32, b"c")  # other caches the old key
    rotating.rotate()
    new = rotating.wrap(b"b" * 32, b"c")
    assert other.unwrap(rotating.key_id, new, b"c") == b"b" * 32
    assert other.unwrap(master_id_of(tmp_path, exclude=rotating.key_id), old, b"c") == b"a" * 32


def master_id_of(folder: Path, exclude: str) -> str:
    return next(p.stem for p in (folder / "master-retired").glob("*.key") if p.stem != exclude)


def test_rotate_master_rewraps_every_tenant(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = make_evidence(tmp_path)
    slugs = [f"r-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    made = [
        tenants.create_tenant(database, slug=s, name=s, region=REGIONS[0], regions=REGIONS)
        for s in slugs
    ]
    # "Every tenant" here is this test's: the shared test database also holds
    # other tests' tenants, whose keys are wrapped by other master keys.
    monkeypatch.setattr(
        platform,
        "all_tenants",
        lambda db: [platform.TenantRef(t.id, t.slug, t.name, t.region) for t in made],
    )
    ids = []
    for tenant in made:
        with database.unit_of_work(tenant.id) as uow:
            ids.append(
                service.store(
                    uow,
                    ev,
                    subject_type="candidate",
                    subject_id="c",
                    kind_name="snapshot",
                    data=[jpeg()],
                ).id
            )
    old = ev.master.key_id
    done = rotate_master(database, ev.master)  # type: ignore[arg-type]
    assert {done[s] for s in slugs} == {1}
    (tmp_path / "keys" / "master-retired" / f"{old}.key").unlink()
    for tenant, object_id in zip(made, ids, strict=True):
        with database.unit_of_work(tenant.id) as uow:
            assert service.read_all(uow, ev, object_id)[:3] == b"\xff\xd8\xff"
