"""The LTI domain's background jobs (registered by :mod:`invigil.lti.hooks`)."""

from __future__ import annotations

import asyncio

import procrastinate

from invigil.lti.ags import MAX_TRIES


async def post_score(context: procrastinate.JobContext, tenant_id: str, post_id: str) -> None:
    """Send a released score to the platform's gradebook (:mod:`invigil.lti.ags`)."""
    from invigil.lti.ags import post

    attempts = context.job.attempts  # earlier runs of this job (0 the first time)
    await asyncio.to_thread(
        post,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        post_id,
        last_try=attempts + 1 >= MAX_TRIES,
    )


async def sync_roster(
    context: procrastinate.JobContext, tenant_id: str, link_id: str, send_mail: bool
) -> None:
    """Invite a course's learners new to a resource link (:mod:`invigil.lti.roster`)."""
    from invigil.lti.roster import sync

    await asyncio.to_thread(
        sync,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        link_id,
        send_mail=send_mail,
    )


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(
        name="lti.post_score",
        queue="lti",
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=MAX_TRIES - 1, wait=60),
    )(post_score)
    blueprint.task(name="lti.sync_roster", queue="lti", pass_context=True)(sync_roster)
