"""Two to four candidates side by side, for a person choosing between them.

Each column is one attempt's result exactly as its own result page tells it
(:func:`invigil.results.attempt_result.build`, one structure per attempt, so
the comparison can never tell a different story from the page it links to):
the exam, the score, pass or fail, the score per category, the time taken
against the cohort's medians, the integrity outcome with its counts of
flags, and the rubric marks people gave with the moderations. The only
extra read is the integrity outcome, computed by the same SQL expression as
the results list (:func:`invigil.results.listing.integrity_outcome`).

Attempts may come from different exams (of one position, say): each exam
keeps its own categories, and only a category every column's document has
lines up in one row; the rest are grouped under their exam.

What a viewer sees follows the rules of the result page: names and emails
only with ``candidate:view`` (else the attempt's pseudonym), never who gave
a mark (blind grading: only the kind of mark, its levels and points, and a
moderation's or regrade's reason), and no evidence: links to the attempt's
review (where the evidence is) only for viewers who may open it. Reads only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Invalid
from invigil.i18n import N_
from invigil.results import attempt_result, listing
from invigil.results.attempt_result import AttemptResultView

PARAMETER = "attempt"
FEWEST, MOST = 2, 4
LONGEST_ID = 45  # a UUID in any form uuid.UUID reads ("urn:uuid:…" is the longest)
COUNT = N_("give two to four attempts to compare, as attempt=<id> once for each")
MALFORMED = N_("every attempt must be an attempt id (a UUID)")
TWICE = N_("each attempt may be given only once")


def attempt_ids(values: Sequence[str]) -> list[uuid.UUID]:
    """The ids asked for, in their order; Invalid naming ``attempt`` when
    there are fewer than two or more than four, one is not a UUID, or one is
    given twice."""
    if not FEWEST <= len(values) <= MOST:
        raise Invalid(COUNT, parameter=PARAMETER)
    ids = []
    for value in values:
        try:
            if len(value) > LONGEST_ID:
                raise ValueError(value)
            ids.append(uuid.UUID(value))
        except ValueError:
            raise Invalid(MALFORMED, parameter=PARAMETER) from None
    if len(set(ids)) != len(ids):
        raise Invalid(TWICE, parameter=PARAMETER)
    return ids


@dataclass(frozen=True)
class Column:
    """One candidate: the attempt's result view and its integrity outcome."""

    view: AttemptResultView
    outcome: str  # clear, flagged, under_review, cleared, failed (listing.INTEGRITY)

    @property
    def attempt_id(self) -> uuid.UUID:
        return self.view.attempt.id

    @property
    def seconds(self) -> int | None:
        """Wall-clock time from the start to the submission (as the results list)."""
        a = self.view.attempt
        if a.started_at is None or a.submitted_at is None:
            return None
        return int((a.submitted_at - a.started_at).total_seconds())

    @property
    def on_questions_ms(self) -> int:
        return sum(s.time_ms for s in self.view.sections)

    @property
    def flags(self) -> int:
        return len(self.view.integrity.flags)

    @property
    def confirmed_flags(self) -> int:
        return sum(1 for f in self.view.integrity.flags if f.decision == "confirmed")


@dataclass(frozen=True)
class CategoryRow:
    """One category across the columns: a cell per column (None where that
    column's result has no such category). ``exam`` is None for a category
    every column has (it lines up); else the title of the exam it belongs to."""

    name: str
    exam: str | None
    cells: list[dict[str, Any] | None]


@dataclass(frozen=True)
class Comparison:
    columns: list[Column]
    categories: list[CategoryRow]

    @property
    def one_exam(self) -> bool:
        return len({c.view.attempt.exam_id for c in self.columns}) == 1


def compare(uow: UnitOfWork, ids: Sequence[uuid.UUID], *, with_identity: bool) -> Comparison:
    """The comparison of ``ids`` (from :func:`attempt_ids`), in their order.
    NotFound names the first attempt without a result (another tenant's
    answers exactly like a missing one: row-level security hides it)."""
    views = [attempt_result.build(uow, i, with_identity=with_identity) for i in ids]
    outcomes = dict(
        uow.session.execute(
            select(Attempt.id, listing.integrity_outcome(listing.flag_decided())).where(
                Attempt.id.in_(list(ids))
            )
        ).all()
    )
    columns = [Column(v, str(outcomes[v.attempt.id])) for v in views]
    return Comparison(columns, _categories(views))


def _categories(views: list[AttemptResultView]) -> list[CategoryRow]:
    """The categories every column has first (they line up), then each
    exam's own, under its title, in the order the exams first appear."""
    per_column = [v.categories for v in views]
    shared = set.intersection(*(set(c) for c in per_column))
    rows = [CategoryRow(n, None, [c[n] for c in per_column]) for n in sorted(shared)]
    exams = list(dict.fromkeys(v.attempt.exam_id for v in views))
    for exam in exams:
        mine = [v.attempt.exam_id == exam for v in views]
        title = next(v.version.title for v in views if v.attempt.exam_id == exam)
        names = {n for c, m in zip(per_column, mine, strict=True) if m for n in c} - shared
        for name in sorted(names):
            cells = [c.get(name) if m else None for c, m in zip(per_column, mine, strict=True)]
            rows.append(CategoryRow(name, title, cells))
    return rows
