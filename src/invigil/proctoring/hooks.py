"""What proctoring provides to the layers below it (docs/adr/0019-layers.md).

Installed when the proctoring package is imported (its ``__init__``); the
shell imports every domain at start-up.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork
from invigil.delivery import proctor
from invigil.delivery.models import Attempt
from invigil.jobs import queue
from invigil.proctoring import disclosure, jobs, pipeline
from invigil.proctoring import home as home_widgets
from invigil.proctoring.policy import Policy


class Proctoring:
    """Delivery's :class:`invigil.delivery.proctor.Proctor`: the pipeline."""

    def policy_of(self, attempt: Attempt) -> Policy:
        return pipeline.policy_of(attempt)

    def genesis(self, attempt_id: uuid.UUID) -> str:
        return pipeline.genesis(attempt_id)

    def captures(self, attempt: Attempt) -> tuple[str, ...]:
        return disclosure.captures(pipeline.policy_of(attempt))

    def heard(self, uow: UnitOfWork, attempt: Attempt, now: datetime) -> None:
        pipeline.touch(uow, attempt, now)

    def evaluate(self, uow: UnitOfWork, attempt: Attempt, now: datetime) -> list[Any]:
        return pipeline.evaluate(uow, attempt, now)

    def submitted(self, uow: UnitOfWork, attempt: Attempt) -> None:
        pipeline.seal(uow, attempt)

    def swept(self, db: Database) -> None:
        pipeline.notice_silence(db)


def install() -> None:
    proctor.register(Proctoring())
    queue.register(jobs.add_tasks)
    home_widgets.install()
