"""What results provides to the layers below it (docs/adr/0019-layers.md):
the audit log's names for marks. Installed when the package is imported."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from invigil.audit import names
from invigil.db.uow import UnitOfWork
from invigil.results.models import GradingMark
from invigil.results.queue import pseudonym


def mark_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """A mark as "first mark, question 4 of Candidate 7F3A2C" (never the
    candidate's name: the audit log follows the blind rule)."""
    rows = uow.session.execute(
        select(GradingMark.id, GradingMark.kind, GradingMark.slot, GradingMark.attempt_id).where(
            GradingMark.id.in_(ids)
        )
    )
    return {
        i: f"{kind} mark, question {slot + 1} of {pseudonym(attempt)}"
        for i, kind, slot, attempt in rows
    }


def install() -> None:
    names.register("grading_mark", mark_names)
