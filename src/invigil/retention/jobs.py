"""Retention's background jobs (registered with :mod:`invigil.jobs.queue` by
:mod:`invigil.retention.hooks`)."""

from __future__ import annotations

import asyncio

import procrastinate


async def portal_request(context: procrastinate.JobContext, tenant_id: str, sealed: str) -> None:
    """A "See my data" request: look the address up, send a link if known
    (:func:`invigil.retention.portal_links.run_request`)."""
    from invigil.retention.portal_links import run_request

    extra = context.additional_context
    await asyncio.to_thread(run_request, extra["db"], extra["services"], tenant_id, sealed)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name="retention.portal_request", queue="mail", pass_context=True)(portal_request)
