"""What delivery provides to the layers below it (docs/adr/0019-layers.md).

Installed when the delivery package is imported (its ``__init__``); the
shell imports every domain at start-up.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import Select, String, and_, cast, select

from invigil.audit import names
from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import home as home_widgets
from invigil.delivery import jobs
from invigil.delivery.models import Attempt, Candidate, Invitation
from invigil.errors import NotFound
from invigil.evidence import service as evidence
from invigil.jobs import queue


def attempt_owner(uow: UnitOfWork, attempt_id: str) -> str:
    """An attempt's evidence is under its candidate's data key."""
    try:
        key = uuid.UUID(attempt_id)
    except ValueError:
        raise NotFound(f"attempt {attempt_id} was not found") from None
    return str(uow.get(Attempt, key, label="attempt").candidate_id)


def attempts_of(candidate_id: str) -> Select[str]:
    """A candidate's attempts (their ids as strings): erased with the candidate."""
    return select(cast(Attempt.id, String)).where(
        cast(Attempt.candidate_id, String) == candidate_id
    )


def candidate_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(
        select(Candidate.id, Candidate.name, Candidate.email).where(Candidate.id.in_(ids))
    )
    return {i: f"{name} <{email}>" for i, name, email in rows}


def invitation_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    rows = uow.session.execute(
        select(Invitation.id, Candidate.name)
        .join(Candidate, Candidate.id == Invitation.candidate_id)
        .where(Invitation.id.in_(ids))
    )
    return {i: f"invitation of {name}" for i, name in rows}


def attempt_names(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> Mapping[uuid.UUID, str]:
    """An attempt as "Ada Lovelace, Backend screening (attempt 1)"."""
    rows = uow.session.execute(
        select(Attempt.id, Candidate.name, ExamVersion.title, Attempt.number)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(
            ExamVersion,
            and_(
                ExamVersion.exam_id == Attempt.exam_id,
                ExamVersion.version == Attempt.exam_version,
            ),
        )
        .where(Attempt.id.in_(ids))
    )
    return {i: f"{name}, {title} (attempt {n})" for i, name, title, n in rows}


def install() -> None:
    names.register("candidate", candidate_names)
    names.register("invitation", invitation_names)
    names.register("attempt", attempt_names)
    evidence.share_key(
        evidence.ATTEMPT, evidence.SharedKey(evidence.CANDIDATE, attempt_owner, attempts_of)
    )
    queue.register(jobs.add_tasks)
    home_widgets.install()
