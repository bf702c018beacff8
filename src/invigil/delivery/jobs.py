"""Delivery's background jobs (registered with :mod:`invigil.jobs.queue` by
:mod:`invigil.delivery.hooks`)."""

from __future__ import annotations

import asyncio
from typing import Any

import procrastinate


async def send_mail(context: procrastinate.JobContext, tenant_id: str, mail_id: str) -> None:
    """Send one outbox mail through SMTP (see ``invigil.delivery.mail``)."""
    await asyncio.to_thread(
        _send_mail,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        mail_id,
    )


def _send_mail(db: Any, services: Any, tenant_id: str, mail_id: str) -> None:
    import uuid

    from invigil.db.uow import Actor
    from invigil.delivery import mail

    with db.unit_of_work(uuid.UUID(tenant_id), Actor.system("delivery.send_mail")) as uow:
        mail.send(uow, services.settings, services.box, uuid.UUID(mail_id))


async def close_due_attempts(context: procrastinate.JobContext, timestamp: int) -> None:
    """Submit attempts whose deadline and grace passed, browser or not; record
    client.silent for running attempts whose browser stopped reporting."""
    from invigil.delivery.attempts import close_due
    from invigil.delivery.proctor import proctor

    db = context.additional_context["db"]
    await asyncio.to_thread(close_due, db)
    await asyncio.to_thread(proctor().swept, db)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name="delivery.send_mail", queue="mail", pass_context=True)(send_mail)
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(name="delivery.close_due", queue="attempts", pass_context=True)(
            close_due_attempts
        )
    )
