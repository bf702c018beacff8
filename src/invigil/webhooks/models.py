"""Webhook tables: endpoints, deliveries (the frozen body per endpoint),
the people each event is about, and every attempt to send one. Tenant
tables like all others (RLS, ``tenant_id`` first in every key); deleting an
endpoint deletes its deliveries and their attempts (the deletion itself is
audited)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)
STATES = ("pending", "delivered", "failed")


class WebhookEndpoint(TenantScoped, Base):
    """Where a tenant wants events sent; its secret only sealed (SecretBox)."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(300), default="")
    events: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    secret_rotated_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class WebhookDelivery(TenantScoped, Base):
    """One event for one endpoint: the exact bytes to POST, frozen when the
    event was emitted, and where its sending stands. ``ticket`` names the one
    job allowed to send next (a stale or duplicate job finds it changed)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="state"),
        Index("ix_webhook_deliveries_newest", "tenant_id", "created_at", "id"),
        Index("ix_webhook_deliveries_endpoint", "tenant_id", "endpoint_id", "created_at"),
        Index("ix_webhook_deliveries_event", "tenant_id", "event_id"),
        CheckConstraint("body_sha256 ~ '^[0-9a-f]{64}$'", name="body_sha256"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The hash of the body as first frozen: kept when an erasure rewrites
    # the body (``erased_at``), so the history still says what was sent.
    body_sha256: Mapped[str] = mapped_column(String(64))
    erased_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ticket: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class WebhookEventPerson(TenantScoped, Base):
    """A person an event's body is about (migration 0053): how an erasure
    finds the deliveries that name them without reading every body."""

    __tablename__ = "webhook_event_people"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "event_id", "person_id", name="uq_webhook_event_people_person"
        ),
        Index("ix_webhook_event_people_person", "tenant_id", "person_id"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class WebhookAttempt(TenantScoped, Base):
    """One POST (or the reason none could be made): written once."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_attempts_delivery", "tenant_id", "delivery_id", "number"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[int] = mapped_column(Integer)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str] = mapped_column(String(2000))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
