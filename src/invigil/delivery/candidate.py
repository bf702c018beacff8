"""The candidate's session: a guest link plus this browser's binding cookie.

:func:`taking` authenticates a candidate: it resolves the link (revoked,
replaced and unknown links answer the same neutral 404), finds the
invitation's attempt, and checks the binding cookie against the keyed hash
stored on the attempt. The unit of work it opens is bound to the link's
tenant and acts as the candidate. Every candidate route declares the
permission ``candidate:attempt`` through one of two dependencies: the
``candidate()`` family (Reading, Writing, Viewing: sync routes get a
:class:`Taking`) or ``Guesting`` (async routes get a :class:`Guest` and do
their work in one trip to the thread pool). Nothing else authenticates a
candidate, and this credential is accepted nowhere else: staff routes read
only staff tokens and sessions.

Saves and heartbeats of a running attempt -- nearly every request during an
exam -- first try :func:`heard`, one statement that authenticates exactly as
:func:`taking` does and touches the attempt; anything else goes the general
way, which gives the exact answer (refusals included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from invigil import admission
from invigil.content.models import ExamVersion
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, links
from invigil.delivery.gathering import Gathering, Write
from invigil.delivery.landing import BackToLanding, neutral_error
from invigil.delivery.links import LinkKey, LinkState
from invigil.delivery.models import Attempt, Invitation
from invigil.errors import Unauthorized
from invigil.web.access import CANDIDATE

T = TypeVar("T")
R = TypeVar("R")


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


@contextmanager
def taking(
    request: Request, token: str, *, lock: bool = False, page: bool = False
) -> Iterator[Taking]:
    """Authenticate the candidate in a unit of work that stays open (and
    commits) around the caller's work. ``lock`` takes the attempt row FOR
    UPDATE (every write does, so a save and a submit never interleave). On a
    ``page``, a browser without the binding is sent to the landing page,
    which says why (not started, in progress elsewhere, released)."""
    services, db = request.app.state.services, request.app.state.db
    tenant_id = links.tenant_of(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = links.resolve(uow if tenant_id else None, services.links, token)
        if found.neutral or found.invitation is None:
            raise neutral_error()
        invitation = found.invitation
        attempt = attempts.latest(uow, invitation.id, lock=lock)
        cookie = request.cookies.get(attempts.cookie_name(invitation.id))
        if page and (attempt is None or not attempts.is_bound_to(services.links, attempt, cookie)):
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


def candidate(*, lock: bool = False, page: bool = False) -> Any:
    """The dependency form of :func:`taking` (see there for ``lock`` and ``page``)."""

    def dependency(request: Request, token: str) -> Iterator[Taking]:
        with taking(request, token, lock=lock, page=page) as t:
            yield t

    dependency.__permission__ = CANDIDATE  # type: ignore[attr-defined]
    dependency.__name__ = "candidate" + ("_lock" if lock else "") + ("_page" if page else "")
    return Depends(dependency, scope="function")


Reading: Any = candidate()
Writing: Any = candidate(lock=True)
Viewing: Any = candidate(page=True)


# taking(lock=True) and pipeline.touch in one statement, for a running
# attempt with no silence open (anything else is left to them): the live link
# of a live invitation, its latest attempt, bound to one of this browser's
# cookies (the caller checks it is the one named for the invitation).
LIVE_ATTEMPT = """
    l.ended_at IS NULL AND i.status <> 'revoked'
      AND a.tenant_id = i.tenant_id AND a.invitation_id = i.id
      AND a.number = (SELECT max(b.number) FROM attempts AS b
                      WHERE b.tenant_id = i.tenant_id AND b.invitation_id = i.id)
      AND a.status = 'in_progress' AND a.silent_seq IS NULL AND a.paused_at IS NULL"""
# A save or a heartbeat: the paper's length and the slots the items name.
# Not under linear navigation (``furthest`` set): those take the general
# way, where the rule lives (attempts.require_forward and attempts.move).
_HEARD = text(
    f"""
    UPDATE attempts AS a SET
        last_seen_at = :now,
        last_seq = GREATEST(a.last_seq, :top),
        position = CASE
            WHEN CAST(:position AS integer) BETWEEN 0 AND jsonb_array_length(a.paper) - 1
            THEN CAST(:position AS integer) ELSE a.position END
    FROM guest_links AS l
    JOIN invitations AS i ON i.tenant_id = l.tenant_id AND i.id = l.invitation_id
    WHERE l.token_hash = :link AND a.binding_hash = ANY(CAST(:bindings AS bytea[]))
      AND {LIVE_ATTEMPT}
      AND a.furthest IS NULL
    RETURNING a.id, a.invitation_id, a.binding_hash, a.candidate_id, a.deadline,
        a.grace_seconds, a.last_seq, a.events_last_seq, jsonb_array_length(a.paper),
        ARRAY(SELECT a.paper -> s.slot
              FROM unnest(CAST(:slots AS integer[])) WITH ORDINALITY AS s(slot, n)
              ORDER BY s.n),
        a.live_seq, a.client_address, a.client_agent"""
)


# A browser holds one binding cookie per exam it started; more than this many
# is no plain case (the general path hashes only the one it needs).
MAX_BINDINGS = 8


class Stray(Exception):
    """The binding matched a cookie not named for this invitation."""


def heard(
    uow: UnitOfWork,
    request: Request,
    token: str,
    *,
    now: datetime,
    top: int = 0,
    position: int | None = None,
    slots: Sequence[int] = (),
) -> attempts.Heard | None:
    """The plain case of a save or a heartbeat in one statement: authenticate
    as :func:`taking` with ``lock`` does, touch the attempt as
    :func:`invigil.proctoring.pipeline.touch` does when no silence is open,
    raise ``last_seq`` to ``top`` and keep ``position``; return the paper's
    ``slots``. None when it is not that case (not running, a silence open,
    linear navigation, or any refusal), having changed nothing: the caller then takes the general
    path, which gives the exact answer. When the binding matched a cookie
    not named for the invitation it raises :class:`Stray`, so that
    :class:`Guest` rolls the touch back and goes the general way (a 401).
    ``uow`` is bound to the token's tenant."""
    wanted = sorted(set(slots))
    mine = browser_bindings(request)
    if not mine:
        return None
    params = {"now": now, "top": top, "position": position, "slots": wanted,
              "link": link_hash_of(request, token), "bindings": list(mine.values())}  # fmt: skip
    row = uow.session.execute(_HEARD, params).one_or_none()
    if row is None:
        return None
    uow.actor = bound_actor(request, mine, row)
    return attempts.Heard(
        id=row[0],
        deadline=row[4],
        grace_seconds=row[5],
        last_seq=row[6],
        events_last_seq=row[7],
        questions=row[8],
        slots=dict(zip(wanted, row[9], strict=True)),
        live_seq=row[10],
        client=(row[11], row[12]),
    )


def browser_bindings(request: Request) -> dict[str, bytes]:
    """This browser's binding cookies and their keyed hashes; none when it
    holds more than a plain case does (the general path sorts that out)."""
    key: LinkKey = request.app.state.services.links
    mine = {
        value: key.hash(value)
        for name, value in request.cookies.items()
        if name.startswith(attempts.COOKIE_PREFIX) and value
    }
    return mine if len(mine) <= MAX_BINDINGS else {}


def link_hash_of(request: Request, token: str) -> bytes:
    key: LinkKey = request.app.state.services.links
    return key.hash(token)


def bound_actor(request: Request, mine: dict[str, bytes], row: Any) -> Actor:
    """The candidate acting, once the attempt a statement above found
    (id, invitation_id, binding_hash, candidate_id, ...) is bound to the
    cookie named for its invitation; else :class:`Stray`."""
    cookie = request.cookies.get(attempts.cookie_name(row[1]))
    if cookie is None or mine.get(cookie) != row[2]:
        raise Stray  # rolls the unit of work back
    return Actor("candidate", str(row[3]))


@dataclass(frozen=True)
class Guest:
    """A candidate's request before anything is looked up.

    A sync route with the dependency above costs three trips through the
    thread pool (enter the dependency, run the route, leave the dependency);
    at a few hundred requests a second those trips are a large share of a
    core. ``run`` does the whole request -- authenticate, the work, commit --
    in one trip. The candidate is checked before ``work`` runs, so an
    unauthenticated browser learns nothing from it.

    ``fast``, when given, is tried first in its own unit of work bound to the
    token's tenant: it returns None, having changed nothing, when the request
    is not its plain case (see :func:`heard`), and ``work`` then runs as usual.
    """

    request: Request
    token: str

    async def run(
        self,
        work: Callable[[Taking], T],
        *,
        lock: bool = False,
        fast: Callable[[UnitOfWork], T | None] | None = None,
    ) -> T:
        async with _lane(self.request):
            return await run_in_threadpool(self._run, work, lock, fast)

    async def gathered(self, write: Write[Any, R], item: Any) -> R | None:
        """``item``'s result from ``write``, run with other browsers' items of
        this token's tenant in one transaction (:mod:`invigil.delivery.gathering`);
        None when it is not the plain case (the caller goes the general way).
        Nothing is looked up before: ``write`` authenticates each item."""
        tenant_id = links.tenant_of(self.token)
        if tenant_id is None:
            return None
        state = self.request.app.state
        gatherings: dict[Any, Gathering[Any, Any]] | None = getattr(state, "gatherings", None)
        if gatherings is None:
            gatherings = state.gatherings = {}
        gathering = gatherings.get(write)
        if gathering is None:
            gathering = gatherings[write] = Gathering(write, _lane(self.request))
        admission.leave(self.request.scope)  # it waits with no connection; the group takes one
        return await gathering(tenant_id, item)

    def _run(
        self,
        work: Callable[[Taking], T],
        lock: bool,
        fast: Callable[[UnitOfWork], T | None] | None,
    ) -> T:
        tenant_id = links.tenant_of(self.token)
        if fast is not None and tenant_id is not None:
            db = self.request.app.state.db
            try:
                with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
                    done = fast(uow)
            except Stray:
                done = None
            if done is not None:
                return done
        with taking(self.request, self.token, lock=lock) as t:
            return work(t)


def _lane(request: Request) -> anyio.Semaphore:
    """How many candidates' requests run at once in this process
    (``candidate_concurrency``). Their work is short and holds the GIL: past
    a few threads, more at once only adds switching, and stretches the time
    an acting batch holds its tenant's audit head until its thread gets the
    GIL back to commit, so the others queue on that lock (measured in
    docs/adr/0010-events-hot-path.md). Waiting here costs no thread; staff
    routes do not take this lane (but share admission control's limit)."""
    state = request.app.state
    lane: anyio.Semaphore | None = getattr(state, "candidate_lane", None)
    if lane is None:
        lane = state.candidate_lane = anyio.Semaphore(state.settings.candidate_concurrency)
    return lane


async def _guest(request: Request, token: str) -> Guest:
    return Guest(request, token)


_guest.__permission__ = CANDIDATE  # type: ignore[attr-defined]

# For ``async def`` routes that do their work with ``Guest.run``.
Guesting: Any = Depends(_guest)
