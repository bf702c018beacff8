"""The key hierarchy: master key -> one key per tenant -> one data key per
subject (a candidate).

The master key never touches the database; it wraps tenant keys, which wrap
data keys, which encrypt objects. ``MasterKey`` is the interface a cloud KMS
can implement (wrap, unwrap, key id). Rotating the master key re-wraps the
tenant keys and touches no object. Destroying a subject's data key makes
every object of that subject unreadable (crypto-shredding).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from invigil import audit
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Gone, Unavailable
from invigil.evidence.master import LocalMasterKey, MasterKey, seal, unseal
from invigil.evidence.models import DataKey, TenantKey


def _tenant_context(tenant_id: uuid.UUID, key_id: uuid.UUID) -> bytes:
    return f"invigil/tenant-key/{tenant_id}/{key_id}".encode()


def _data_context(key: DataKey) -> bytes:
    return f"invigil/data-key/{key.tenant_id}/{key.id}/{key.subject_type}/{key.subject_id}".encode()


def _live_tenant_key(uow: UnitOfWork, master: MasterKey) -> TenantKey:
    stmt = select(TenantKey).where(TenantKey.retired_at.is_(None))
    found = uow.scalar(stmt)
    if found is None:
        key_id = uuid.uuid4()
        wrapped = master.wrap(os.urandom(32), _tenant_context(uow.tenant, key_id))
        uow.session.execute(
            insert(TenantKey)
            .values(
                tenant_id=uow.tenant, id=key_id, master_key_id=master.key_id, wrapped_key=wrapped
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id"], index_where=TenantKey.retired_at.is_(None)
            )
        )
        found = uow.scalar(stmt)
        assert found is not None
    return found


def _tenant_secret(uow: UnitOfWork, master: MasterKey, key_id: uuid.UUID) -> bytes:
    tenant_key = uow.get(TenantKey, key_id, label="tenant key")
    return master.unwrap(
        tenant_key.master_key_id, tenant_key.wrapped_key, _tenant_context(uow.tenant, key_id)
    )


@dataclass(frozen=True)
class OpenKey:
    """A data key, unwrapped for one operation (never stored)."""

    id: uuid.UUID
    tenant_key_id: uuid.UUID
    secret: bytes


def data_key_for(uow: UnitOfWork, master: MasterKey, subject_type: str, subject_id: str) -> OpenKey:
    """The subject's live data key, made on first use (one per subject, even under races)."""

    def live() -> DataKey | None:
        return uow.scalar(
            select(DataKey).where(
                DataKey.subject_type == subject_type,
                DataKey.subject_id == subject_id,
                DataKey.destroyed_at.is_(None),
            )
        )

    key = live()
    if key is None:
        tenant_key = _live_tenant_key(uow, master)
        fresh = DataKey(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            subject_type=subject_type,
            subject_id=subject_id,
            tenant_key_id=tenant_key.id,
        )
        tenant_secret = _tenant_secret(uow, master, tenant_key.id)
        wrapped = seal(tenant_secret, os.urandom(32), _data_context(fresh))
        uow.session.execute(
            insert(DataKey)
            .values(
                tenant_id=uow.tenant,
                id=fresh.id,
                subject_type=subject_type,
                subject_id=subject_id,
                tenant_key_id=tenant_key.id,
                wrapped_key=wrapped,
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "subject_type", "subject_id"],
                index_where=DataKey.destroyed_at.is_(None),
            )
        )
        key = live()
        assert key is not None
    return open_data_key(uow, master, key.id)


def open_data_key(uow: UnitOfWork, master: MasterKey, key_id: uuid.UUID) -> OpenKey:
    """Unwrap a data key; a destroyed one raises Gone with the date of erasure."""
    key = uow.get(DataKey, key_id, label="data key")
    if key.wrapped_key is None:
        erased = key.destroyed_at or datetime.now(UTC)
        raise Gone(
            f"this evidence was erased on {erased.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            "(its encryption key was destroyed); it cannot be recovered",
            erased_at=erased.astimezone(UTC).isoformat(),
        )
    tenant_secret = _tenant_secret(uow, master, key.tenant_key_id)
    try:
        secret = unseal(tenant_secret, key.wrapped_key, _data_context(key))
    except InvalidTag:
        raise Unavailable(f"data key {key.id} cannot be unwrapped with its tenant key") from None
    return OpenKey(key.id, key.tenant_key_id, secret)


def destroy_subject_keys(uow: UnitOfWork, subject_type: str, subject_id: str, reason: str) -> int:
    """Crypto-shred a subject: overwrite and drop its data keys, audited. Returns
    how many keys were destroyed (0 when already erased)."""
    rows = uow.session.execute(
        update(DataKey)
        .where(
            DataKey.subject_type == subject_type,
            DataKey.subject_id == subject_id,
            DataKey.destroyed_at.is_(None),
        )
        .values(wrapped_key=None, destroyed_at=datetime.now(UTC))
        .returning(DataKey.id)
    ).all()
    uow.session.expire_all()
    for (key_id,) in rows:
        audit.record(
            uow,
            "evidence.key_destroyed",
            ("evidence_data_key", key_id),
            {"subject": {"type": subject_type, "id": subject_id}, "reason": reason},
        )
    return len(rows)


def rewrap_tenant_keys(uow: UnitOfWork, master: MasterKey) -> int:
    """After a master-key rotation: re-wrap this tenant's keys under the current
    master key. Objects and data keys are not touched."""
    count = 0
    for tenant_key in uow.scalars(select(TenantKey)):
        if tenant_key.master_key_id == master.key_id:
            continue
        context = _tenant_context(uow.tenant, tenant_key.id)
        secret = master.unwrap(tenant_key.master_key_id, tenant_key.wrapped_key, context)
        old_id = tenant_key.master_key_id
        tenant_key.wrapped_key = master.wrap(secret, context)
        tenant_key.master_key_id = master.key_id
        tenant_key.rewrapped_at = datetime.now(UTC)
        audit.record(
            uow, "evidence.tenant_key_rewrapped", tenant_key, {"from": old_id, "to": master.key_id}
        )
        count += 1
    uow.flush()
    return count


def rotate_master(db: Database, master: LocalMasterKey) -> dict[str, int]:
    """Operator path: a new master key, then every tenant's keys re-wrapped
    (one transaction per tenant; a crash midway leaves old wrappings that the
    retired key still opens, and running this again finishes the job)."""
    master.rotate()
    return rewrap_everywhere(db, master)


def rewrap_everywhere(db: Database, master: MasterKey) -> dict[str, int]:
    """Re-wrap every tenant's keys under the current master key: {slug: count}."""
    done: dict[str, int] = {}
    failed: list[str] = []
    for tenant in platform.all_tenants(db):
        try:
            with db.operator_unit_of_work(tenant.id, Actor.operator("keys rotate-master")) as uow:
                done[tenant.slug] = rewrap_tenant_keys(uow, master)
        except Unavailable as exc:  # go on with the others, then say which failed
            failed.append(f"{tenant.slug} ({exc.detail})")
    if failed:
        raise Unavailable(
            f"re-wrapped {sum(done.values())} tenant key(s); could not re-wrap: "
            + "; ".join(failed)
        )
    return done
