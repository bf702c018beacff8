"""What results provides to the layers below it (docs/adr/0019-layers.md).

Installed when the results package is imported (its ``__init__``); the
shell imports every domain at start-up. The audit log names marks (never
by the candidate's name: it follows the blind rule). Delivery tells results
that an attempt was submitted, proctoring that a review outcome was
recorded: each may release a result (:mod:`invigil.results.release`).
The audit platform builds an attempt's evidence bundle with results'
builder (:mod:`invigil.results.bundle`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from invigil.audit import bundle, bundle_registry, names
from invigil.db.uow import UnitOfWork
from invigil.delivery import submission
from invigil.delivery.models import Attempt
from invigil.jobs import queue
from invigil.proctoring import outcomes
from invigil.results import jobs, release
from invigil.results.models import GradingMark
from invigil.results.pseudonyms import pseudonym


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


def build_attempt_bundle(
    uow: UnitOfWork, attempt_id: uuid.UUID, writer: bundle.BundleWriter, options: bundle.Options
) -> None:
    """The attempt's evidence bundle (:mod:`invigil.results.bundle`, imported
    here on first use: it renders a PDF, which start-up need not load)."""
    from invigil.results.bundle import build_attempt

    build_attempt(uow, attempt_id, writer, options)


def attempt_subject(uow: UnitOfWork, attempt_id: uuid.UUID) -> str:
    """An attempt as the subject of an evidence bundle: every viewer of
    results in the tenant may see it (the bundle routes need result:view);
    named by pseudonym, as the audit log names it."""
    attempt = uow.get(Attempt, attempt_id, label="attempt")
    return pseudonym(attempt.id)


def install() -> None:
    names.register("grading_mark", mark_names)
    bundle.register("attempt", build_attempt_bundle)
    submission.register("results.release", release.on_submitted)
    outcomes.register("results.release", release.on_review)
    queue.register(jobs.add_tasks)
    bundle_registry.register_subject("attempt", attempt_subject)
