"""The candidate's session: a guest link plus this browser's binding cookie.

``candidate()`` is the one dependency of every candidate route (permission
``candidate:attempt``). It resolves the link (revoked, replaced and unknown
links answer the same neutral 404), finds the invitation's attempt, and
checks the binding cookie against the keyed hash stored on the attempt. The
unit of work it yields is bound to the link's tenant and acts as the
candidate. Nothing else authenticates a candidate, and this credential is
accepted nowhere else: staff routes read only staff tokens and sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fastapi import Depends, Request

from invigil.content.models import ExamVersion
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, links
from invigil.delivery.landing import BackToLanding, neutral_error
from invigil.delivery.links import LinkState
from invigil.delivery.models import Attempt, Invitation
from invigil.errors import Unauthorized
from invigil.security.access import CANDIDATE


@dataclass
class Taking:
    """One request of a candidate on their own attempt."""

    uow: UnitOfWork
    token: str
    state: LinkState
    invitation: Invitation
    attempt: Attempt

    @cached_property
    def version(self) -> ExamVersion:
        inv = self.invitation
        return attempts.version_of(self.uow, inv.exam_id, inv.exam_version)

    @property
    def base(self) -> str:
        return f"/take/{self.token}"


def candidate(*, lock: bool = False, page: bool = False) -> Any:
    """Authenticate the candidate; ``lock`` takes the attempt row FOR UPDATE
    (every write does, so a save and a submit never interleave). On a
    ``page``, a browser without the binding is sent to the landing page,
    which says why (not started, in progress elsewhere, released)."""

    def dependency(request: Request, token: str) -> Iterator[Taking]:
        services, db = request.app.state.services, request.app.state.db
        tenant_id = links.tenant_of(token) if len(token) <= 200 else None
        with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
            found = links.resolve(uow if tenant_id else None, services.links, token)
            if found.neutral or found.invitation is None:
                raise neutral_error()
            invitation = found.invitation
            attempt = attempts.latest(uow, invitation.id, lock=lock)
            cookie = request.cookies.get(attempts.cookie_name(invitation.id))
            if page and (
                attempt is None or not attempts.is_bound_to(services.links, attempt, cookie)
            ):
                raise BackToLanding(token)
            if attempt is None:
                raise attempts.NotStarted(
                    "this exam has not been started: open your link and choose Start exam"
                )
            if not cookie:
                raise Unauthorized(
                    "this browser has not started this exam: open your link and choose Start exam"
                )
            if not attempts.is_bound_to(services.links, attempt, cookie):
                raise attempts.Elsewhere(
                    "this exam is in progress in another browser; continue it there, or ask "
                    "the organiser to release it"
                )
            uow.actor = Actor("candidate", str(attempt.candidate_id))
            yield Taking(uow, token, found.state, invitation, attempt)

    dependency.__permission__ = CANDIDATE  # type: ignore[attr-defined]
    dependency.__name__ = "candidate" + ("_lock" if lock else "") + ("_page" if page else "")
    return Depends(dependency, scope="function")


Reading: Any = candidate()
Writing: Any = candidate(lock=True)
Viewing: Any = candidate(page=True)
