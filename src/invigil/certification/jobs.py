"""Certification's background job: evaluate one holder after one of their
results became final (deferred by :mod:`invigil.certification.hooks` in the
transaction that made it final). A failure here fails the job (retried,
visible in the worker's log), never the grading or review that asked for it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import procrastinate

NAME = "certification.evaluate"
TASK = f"invigil:{NAME}"  # as deferred: the app adds the blueprint under "invigil"
QUEUE = "certification"


def run_evaluation(db: Any, tenant_id: str, candidate_id: str,
                   now: datetime | None = None) -> int:  # fmt: skip
    """Evaluate the holder in their tenant; how many certificates or
    approval requests it made. ``now``: the clock (tests pass one)."""
    from invigil.certification import issuance
    from invigil.db.uow import Actor

    with db.unit_of_work(uuid.UUID(tenant_id), Actor.system(NAME)) as uow:
        done = issuance.evaluate(uow, uuid.UUID(candidate_id), now=now or datetime.now(UTC))
        return len(done)


async def evaluate(context: procrastinate.JobContext, tenant_id: str, candidate_id: str) -> None:
    await asyncio.to_thread(run_evaluation, context.additional_context["db"], tenant_id,
                            candidate_id)  # fmt: skip


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name=NAME, queue=QUEUE, pass_context=True)(evaluate)
