from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped


class User(TenantScoped, Base):
    """A staff account of one tenant. Email is unique per tenant, case-folded."""

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_tenant_id_email", "tenant_id", func.lower(text("email")), unique=True),
        CheckConstraint("position('@' in email) > 1", name="email_format"),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), server_default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    role: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
