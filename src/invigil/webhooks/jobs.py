"""The send job (registered with :mod:`invigil.jobs.queue` when
:mod:`invigil.webhooks` is imported). One job is one attempt; a failed
attempt defers the next one itself (:mod:`invigil.webhooks.sending`)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import procrastinate

from invigil.db.uow import Actor


async def deliver(
    context: procrastinate.JobContext,
    tenant_id: str,
    delivery_id: str,
    ticket: int,
    manual: bool = False,
) -> None:
    await asyncio.to_thread(
        run,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        delivery_id,
        ticket,
        manual,
    )


def run(
    db: Any, services: Any, tenant_id: str, delivery_id: str, ticket: int, manual: bool = False
) -> None:
    """Claim, send, settle: the database is not held while the receiver answers."""
    from invigil.webhooks import sending

    tenant, delivery = uuid.UUID(tenant_id), uuid.UUID(delivery_id)
    actor = Actor.system("webhooks.deliver")
    with db.unit_of_work(tenant, actor) as uow:
        plan = sending.claim(uow, services.box, delivery, int(ticket), manual=manual)
    if plan is None:
        return
    outcome = sending.post(plan, services.settings)
    with db.unit_of_work(tenant, actor) as uow:
        sending.settle(uow, plan, outcome)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name="webhooks.deliver", queue="webhooks", pass_context=True)(deliver)
