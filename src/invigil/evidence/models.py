"""Evidence tables (migration 0006): envelope keys, objects, resumable uploads.

``evidence_objects`` rows are written once (the app role may only INSERT and
SELECT them). Erasure never touches an object row: it destroys the subject's
data key, and every object under it becomes unreadable (crypto-shredding).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class TenantKey(TenantScoped, Base):
    __tablename__ = "evidence_tenant_keys"
    __table_args__ = (
        Index(
            "uq_evidence_tenant_keys_live",
            "tenant_id",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    master_key_id: Mapped[str] = mapped_column(String(100))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    rewrapped_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class DataKey(TenantScoped, Base):
    __tablename__ = "evidence_data_keys"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "tenant_key_id"],
            ["evidence_tenant_keys.tenant_id", "evidence_tenant_keys.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("(wrapped_key IS NULL) = (destroyed_at IS NOT NULL)", name="destroyed"),
        Index(
            "uq_evidence_data_keys_live",
            "tenant_id",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text("destroyed_at IS NULL"),
        ),
    )

    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    tenant_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    destroyed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class EvidenceObject(TenantScoped, Base):
    __tablename__ = "evidence_objects"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "data_key_id"],
            ["evidence_data_keys.tenant_id", "evidence_data_keys.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("plaintext_size >= 0 AND stored_size >= 0", name="sizes"),
        CheckConstraint("plaintext_sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        Index(
            "ix_evidence_objects_subject", "tenant_id", "subject_type", "subject_id", "created_at"
        ),
    )

    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    tenant_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    content_type: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(40))
    store_key: Mapped[str] = mapped_column(String(300))
    format: Mapped[int] = mapped_column(SmallInteger)
    plaintext_size: Mapped[int] = mapped_column(BigInteger)
    plaintext_sha256: Mapped[str] = mapped_column(String(64))
    stored_size: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(80))


class Upload(TenantScoped, Base):
    __tablename__ = "evidence_uploads"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "object_id"],
            ["evidence_objects.tenant_id", "evidence_objects.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("status IN ('open', 'completed', 'aborted')", name="status"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    object_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))


class UploadChunk(TenantScoped, Base):
    __tablename__ = "evidence_upload_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "upload_id"],
            ["evidence_uploads.tenant_id", "evidence_uploads.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint(
            "tenant_id",
            "upload_id",
            "chunk_index",
            name="uq_evidence_upload_chunks_tenant_id_upload_id_chunk_index",
        ),
        CheckConstraint("chunk_index >= 0", name="chunk_index"),
        CheckConstraint("size > 0", name="size"),
    )

    upload_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    chunk_index: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    store_key: Mapped[str] = mapped_column(String(300))
