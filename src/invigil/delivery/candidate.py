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

from invigil.content.models import ExamVersion
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, links
from invigil.delivery.landing import BackToLanding, neutral_error
from invigil.delivery.links import LinkKey, LinkState
from invigil.delivery.models import Attempt, Invitation
from invigil.errors import Unauthorized
from invigil.proctoring import pipeline
from invigil.security.access import CANDIDATE

T = TypeVar("T")


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
    tenant_id = links.tenant_of(token) if len(token) <= 200 else None
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
_HEARD_SQL = """
    UPDATE attempts AS a SET
        last_seen_at = :now,
        last_seq = GREATEST(a.last_seq, :top),
        position = CASE
            WHEN CAST(:position AS integer) BETWEEN 0 AND jsonb_array_length(a.paper) - 1
            THEN CAST(:position AS integer) ELSE a.position END{set}
    FROM guest_links AS l
    JOIN invitations AS i ON i.tenant_id = l.tenant_id AND i.id = l.invitation_id
    WHERE l.token_hash = :link AND l.ended_at IS NULL AND i.status <> 'revoked'
      AND a.tenant_id = i.tenant_id AND a.invitation_id = i.id
      AND a.number = (SELECT max(b.number) FROM attempts AS b
                      WHERE b.tenant_id = i.tenant_id AND b.invitation_id = i.id)
      AND a.binding_hash = ANY(CAST(:bindings AS bytea[]))
      AND a.status = 'in_progress' AND a.silent_seq IS NULL
    RETURNING a.id, a.invitation_id, a.binding_hash, a.candidate_id, a.deadline,
        a.grace_seconds, a.last_seq, a.events_last_seq, {more}
"""
# A save or a heartbeat: the paper's length and the slots the items name.
_HEARD = text(
    _HEARD_SQL.format(
        set="",
        more="""jsonb_array_length(a.paper),
        ARRAY(SELECT a.paper -> s.slot
              FROM unnest(CAST(:slots AS integer[])) WITH ORDINALITY AS s(slot, n)
              ORDER BY s.n)""",
    )
)
# A batch of proctoring events: the chain's head moves to the batch's top
# passing message when it is above the stored one (pipeline.Screened.top);
# returned: what the pipeline and the policy need, with the stored hashes of
# the seqs the batch names (pipeline.Screened.wanted).
_HEARD_EVENTS = text(
    _HEARD_SQL.format(
        set=""",
        events_last_seq = GREATEST(a.events_last_seq, :etop),
        events_head = CASE WHEN :etop > a.events_last_seq THEN CAST(:ehead AS text)
                           ELSE a.events_head END""",
        more="""a.events_head, a.integrity, a.exam_id, a.exam_version, a.policy,
        (SELECT jsonb_object_agg(e.seq, e.hash) FROM proctoring_events AS e
         WHERE e.tenant_id = a.tenant_id AND e.attempt_id = a.id
           AND e.seq = ANY(CAST(:wanted AS bigint[])))""",
    )
)


# A browser holds one binding cookie per exam it started; more than this many
# is no plain case (the general path hashes only the one it needs).
MAX_BINDINGS = 8


class _Stray(Exception):
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
    ``slots``. None when it is not that case (not running, a silence open, or
    any refusal), having changed nothing: the caller then takes the general
    path, which gives the exact answer. When the binding matched a cookie
    not named for the invitation it raises :class:`_Stray`, so that
    :class:`Guest` rolls the touch back and goes the general way (a 401).
    ``uow`` is bound to the token's tenant."""
    wanted = sorted(set(slots))
    row = _touch(uow, request, token, _HEARD, {"now": now, "top": top, "position": position,
                                                "slots": wanted})  # fmt: skip
    if row is None:
        return None
    return attempts.Heard(
        id=row[0],
        deadline=row[4],
        grace_seconds=row[5],
        last_seq=row[6],
        events_last_seq=row[7],
        questions=row[8],
        slots=dict(zip(wanted, row[9], strict=True)),
    )


def heard_events(
    uow: UnitOfWork, request: Request, token: str, batch: pipeline.Screened, *, now: datetime
) -> pipeline.Running | None:
    """:func:`heard` for a batch of proctoring events: the same one
    statement (authenticate, lock and touch a running attempt with no
    silence open) also moves the chain's head for ``batch`` and reads the
    stored hashes it needs, and returns what the pipeline needs instead of
    the paper."""
    top = batch.top
    params = {
        "now": now,
        "top": 0,
        "position": None,
        "etop": top.seq if top else 0,
        "ehead": top.hash if top else None,
        "wanted": batch.wanted,
    }
    row = _touch(uow, request, token, _HEARD_EVENTS, params)
    if row is None:
        return None
    return pipeline.Running(
        tenant_id=uow.tenant,
        id=row[0],
        deadline=row[4],
        last_seq=row[6],
        events_last_seq=row[7],
        events_head=row[8],
        integrity=row[9],
        exam_id=row[10],
        exam_version=row[11],
        policy=row[12],
        known={int(seq): hashed for seq, hashed in (row[13] or {}).items()},
        last_seen_at=now,
    )


def _touch(
    uow: UnitOfWork, request: Request, token: str, statement: Any, params: dict[str, Any]
) -> Any:
    """Run one of the statements above with this browser's bindings; the row,
    or None (no binding cookie, too many, or no running attempt matched)."""
    key: LinkKey = request.app.state.services.links
    mine = {
        value: key.hash(value)
        for name, value in request.cookies.items()
        if name.startswith(attempts.COOKIE_PREFIX) and value
    }
    if not mine or len(mine) > MAX_BINDINGS:
        return None
    params = params | {"link": key.hash(token), "bindings": list(mine.values())}
    row = uow.session.execute(statement, params).one_or_none()
    if row is None:
        return None
    cookie = request.cookies.get(attempts.cookie_name(row[1]))
    if cookie is None or mine.get(cookie) != row[2]:
        raise _Stray  # rolls the unit of work back
    uow.actor = Actor("candidate", str(row[3]))
    return row


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

    def _run(
        self,
        work: Callable[[Taking], T],
        lock: bool,
        fast: Callable[[UnitOfWork], T | None] | None,
    ) -> T:
        tenant_id = links.tenant_of(self.token) if len(self.token) <= 200 else None
        if fast is not None and tenant_id is not None:
            db = self.request.app.state.db
            try:
                with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
                    done = fast(uow)
            except _Stray:
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
