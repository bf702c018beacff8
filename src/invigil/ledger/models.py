"""The ledger's tables (migration 0037): accounts with their balances,
transfers and their entries (written once; the database checks at commit
that each transfer's entries sum to zero and are at least two)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class Account(TenantScoped, Base):
    """One account of a tenant; ``balance`` always equals the sum of its
    entries (kept in the transaction that writes them)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("code ~ '^[a-z][a-z0-9_]{0,39}$'", name="code"),
        CheckConstraint("kind IN ('credits', 'usage', 'refund', 'funding')", name="kind"),
        CheckConstraint("may_go_negative OR balance >= 0", name="not_negative"),
    )

    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    may_go_negative: Mapped[bool] = mapped_column(Boolean)
    balance: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class Transfer(TenantScoped, Base):
    """One movement between two or more accounts, written once."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        UniqueConstraint("tenant_id", "reverses_id"),
        ForeignKeyConstraint(
            ["tenant_id", "reverses_id"],
            ["ledger_transfers.tenant_id", "ledger_transfers.id"],
            ondelete="RESTRICT",
            name="fk_ledger_transfers_reverses",
        ),
        CheckConstraint("kind ~ '^[a-z][a-z0-9_]{0,31}$'", name="kind"),
        CheckConstraint("reverses_id IS NULL OR reverses_id <> id", name="not_self"),
        CheckConstraint("jsonb_typeof(meta) = 'object'", name="meta"),
        Index("ix_ledger_transfers_created", "tenant_id", "created_at", "id"),
    )

    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))


class Entry(TenantScoped, Base):
    """One leg of a transfer: a non-zero amount of whole units on one account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "transfer_id", "account_id"),
        ForeignKeyConstraint(
            ["tenant_id", "transfer_id"],
            ["ledger_transfers.tenant_id", "ledger_transfers.id"],
            ondelete="RESTRICT",
            name="fk_ledger_entries_transfer",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["ledger_accounts.tenant_id", "ledger_accounts.id"],
            ondelete="RESTRICT",
            name="fk_ledger_entries_account",
        ),
        CheckConstraint("amount <> 0", name="amount"),
        Index("ix_ledger_entries_account", "tenant_id", "account_id"),
    )

    transfer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    amount: Mapped[int] = mapped_column(BigInteger)


class PriceList(TenantScoped, Base):
    """One version of a tenant's price list (migration 0038), written once."""

    __tablename__ = "ledger_price_lists"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("jsonb_typeof(document) = 'object'", name="document"),
        Index("ix_ledger_price_lists_effective", "tenant_id", "effective_from"),
    )

    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(TS)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))


class StorageDay(TenantScoped, Base):
    """One UTC day of a tenant's evidence storage (migration 0040), written
    once: what was kept when the day ended, what the month owes so far and
    what was charged with it (``invigil.ledger.storage``)."""

    __tablename__ = "ledger_storage_days"
    __table_args__ = (
        UniqueConstraint("tenant_id", "day"),
        ForeignKeyConstraint(
            ["tenant_id", "transfer_id"],
            ["ledger_transfers.tenant_id", "ledger_transfers.id"],
            ondelete="RESTRICT",
            name="fk_ledger_storage_days_transfer",
        ),
        CheckConstraint("bytes >= 0 AND objects >= 0", name="measured"),
        CheckConstraint(
            "(price_list IS NULL) = (rate IS NULL) AND (rate IS NULL OR rate >= 0)", name="priced"
        ),
        CheckConstraint(
            "owed_month >= 0 AND owed_total >= owed_month AND charged >= 0", name="owed"
        ),
        CheckConstraint("(charged = 0) = (transfer_id IS NULL)", name="charged"),
    )

    day: Mapped[date] = mapped_column(Date)
    bytes: Mapped[int] = mapped_column(BigInteger)
    objects: Mapped[int] = mapped_column(BigInteger)
    price_list: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owed_month: Mapped[int] = mapped_column(BigInteger)
    owed_total: Mapped[int] = mapped_column(BigInteger)
    charged: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
