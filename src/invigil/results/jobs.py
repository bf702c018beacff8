"""The results domain's background jobs (registered with
:mod:`invigil.jobs.queue` by :mod:`invigil.results.hooks`)."""

from __future__ import annotations

import asyncio

import procrastinate


async def mail_release(context: procrastinate.JobContext, tenant_id: str, release_id: str) -> None:
    """Issue the result link of a release and write its mail (see
    :mod:`invigil.results.result_link`)."""
    from invigil.results.result_link import run_mail_release

    await asyncio.to_thread(
        run_mail_release,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        release_id,
    )


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name="results.mail_release", queue="mail", pass_context=True)(mail_release)
