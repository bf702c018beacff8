"""What delivery provides to the layers below it (docs/adr/0019-layers.md).

Installed when the delivery package is imported (its ``__init__``); the
shell imports every domain at start-up.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, String, cast, select

from invigil.db.uow import UnitOfWork
from invigil.delivery import home as home_widgets
from invigil.delivery import jobs
from invigil.delivery.models import Attempt
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


def install() -> None:
    evidence.share_key(
        evidence.ATTEMPT, evidence.SharedKey(evidence.CANDIDATE, attempt_owner, attempts_of)
    )
    queue.register(jobs.add_tasks)
    home_widgets.install()
