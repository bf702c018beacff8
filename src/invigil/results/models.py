"""Results tables (0026: the analytics cache)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, Integer, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class AnalyticsCache(TenantScoped, Base):
    """An exam's result figures (summary and item analysis) as last computed,
    with the results they cover: ``results`` rows, the newest recorded at
    ``newest_result_at``. A new result changes either, and the next reader
    computes again (invigil.results.analytics). Derived data: losing a row
    costs one computation, never a figure."""

    __tablename__ = "analytics_cache"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "exam_id"], ["exams.tenant_id", "exams.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "exam_id"),
    )

    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    format: Mapped[int] = mapped_column(Integer)
    results: Mapped[int] = mapped_column(Integer)
    newest_result_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(TS)
