"""What retention provides to the layers below it (docs/adr/0019-layers.md):
its background tasks (the portal link requests), and the contest window of
an attempt, from the retention policy version it froze
(``attempts.retention_version``; NULL, for attempts started before versions
were frozen: the version in force now)."""

from __future__ import annotations

from datetime import datetime, timedelta

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.jobs import queue
from invigil.proctoring import contests
from invigil.retention import jobs, policy


def contest_window_days(uow: UnitOfWork, attempt: Attempt) -> int:
    """The days the attempt's candidate has to contest, after submission."""
    found = None
    if attempt.retention_version is not None:
        found = policy.by_version(uow, attempt.retention_version)
    version = found if found is not None else policy.current(uow)
    return version.document.contest_window_days


def contest_window_ends(uow: UnitOfWork, attempt: Attempt) -> datetime | None:
    if attempt.submitted_at is None:
        return None
    days = contest_window_days(uow, attempt)
    return attempt.submitted_at + timedelta(days=days) if days > 0 else None


def install() -> None:
    contests.register_window(contest_window_ends)
    queue.register(jobs.add_tasks)
