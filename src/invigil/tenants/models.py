from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, String, false, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"


class Tenant(Base):
    """A platform table (no ``tenant_id``): the row *is* the tenant.

    RLS still applies: the app role sees only the row of the tenant its
    transaction is bound to. Finding a tenant by slug before that (sign-in)
    goes through :mod:`invigil.db.platform`.
    """

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_format"),
        CheckConstraint("length(name) BETWEEN 1 AND 200", name="name_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    require_mfa_for_admins: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The languages its candidates may read, and the one they get when their
    # invitation names none (None: their browser decides among these).
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{en}")
    default_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
