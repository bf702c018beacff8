"""Releasing results to candidates: when, by whom, and the record of it.

An exam's ``results_release`` setting says when a result reaches its
candidate without anyone acting (ADR 0035):

- ``immediately``: as soon as a result needs no more grading (at
  submission for an exam without essays);
- ``after_grading``: the result revision that completes grading;
- ``after_review``: grading complete AND the integrity review closed: the
  attempt's integrity is clear (nothing flagged), or a reviewer's final
  outcome is ``cleared``. A violation (failed review) never releases;
- ``manual``: only staff release (per attempt or in bulk).

A result that still needs grading is never released, automatically or by
hand: staff are told which attempts wait. Each release is one row of
``result_releases`` (append-only), audited as ``result.released`` in the
same transaction with the row's hash anchored (record kind ``release``,
:mod:`invigil.results.records`), and it queues the candidate's mail with a
new result link (:mod:`invigil.results.result_link`), sent by a job so
that a release inside the candidate's own submission needs no mail keys.

A regrade (a newer result revision) of a result already released is
released again, whatever the setting, and the mail says the result
changed: once shown, a candidate is never left looking at a stale score.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from invigil import audit
from invigil.audit.records import anchor
from invigil.content.settings import RESULT_FEEDBACKS, RESULTS_RELEASES
from invigil.db.uow import UnitOfWork
from invigil.delivery import voids
from invigil.delivery.attempts import version_of
from invigil.delivery.models import Attempt, AttemptResult
from invigil.delivery.results import latest_result
from invigil.errors import Conflict, Invalid, NotFound
from invigil.results import records
from invigil.results.models import ResultRelease

MAIL_TASK = "invigil:results.mail_release"
MAIL_QUEUE = "mail"
# What higher layers do when a result is released (the LTI gradebook post):
# called in the release's transaction, after its audit entry.
Listener = Callable[[UnitOfWork, ResultRelease, Attempt, AttemptResult], None]
_listeners: list[Listener] = []


def on_release(listener: Listener) -> None:
    """Call ``listener`` at every new release (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


MAX_BULK = 500  # attempts named in one bulk release
HOW = ("automatic", "manual", "bulk")
CLEARED = "cleared"


def mode_of(settings: dict[str, object]) -> str:
    """The exam's release mode; the old name ``never`` reads as ``manual``."""
    mode = str(settings.get("results_release", "after_review"))
    if mode == "never":
        return "manual"
    return mode if mode in RESULTS_RELEASES else "manual"


def feedback_of(settings: dict[str, object]) -> str:
    found = str(settings.get("result_feedback", "score"))
    return found if found in RESULT_FEEDBACKS else "score"


def review_closed(attempt: Attempt) -> bool:
    """Nothing was flagged, or a reviewer's final outcome cleared the attempt."""
    if attempt.review_outcome is None:
        return attempt.integrity == "clear"
    return attempt.review_outcome == CLEARED and attempt.review_final


def due(mode: str, attempt: Attempt, result: AttemptResult) -> bool:
    """Whether ``mode`` releases ``result`` without anyone acting."""
    if attempt.status != "submitted" or result.needs_grading:
        return False
    if mode in ("immediately", "after_grading"):
        return True
    if mode == "after_review":
        return review_closed(attempt)
    return False


def latest_release(uow: UnitOfWork, attempt_id: uuid.UUID) -> ResultRelease | None:
    return uow.scalar(
        select(ResultRelease)
        .where(ResultRelease.attempt_id == attempt_id)
        .order_by(ResultRelease.revision.desc(), ResultRelease.released_at.desc())
        .limit(1)
    )


def releases_of(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[ResultRelease]:
    """Every release of an attempt's results, oldest first."""
    return list(
        uow.scalars(
            select(ResultRelease)
            .where(ResultRelease.attempt_id == attempt_id)
            .order_by(ResultRelease.released_at, ResultRelease.revision)
        )
    )


def release(uow: UnitOfWork, attempt: Attempt, result: AttemptResult, how: str) -> ResultRelease:
    """Release ``result`` to its candidate (idempotent for one revision)."""
    assert how in HOW
    if result.attempt_id != attempt.id:
        raise Invalid("this result is not the attempt's")
    if result.needs_grading:
        raise Conflict(
            f"the result of attempt {attempt.id} still needs grading: release it once graded",
            pending=[str(attempt.id)],
        )
    earlier = latest_release(uow, attempt.id)
    if earlier is not None and earlier.revision >= result.revision:
        return earlier
    row = ResultRelease(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        result_id=result.id,
        revision=result.revision,
        how=how,
        released_by=uuid.UUID(uow.actor.id) if uow.actor.kind == "user" else None,
        released_at=datetime.now(UTC),
    )
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        "result.released",
        row,
        {
            "attempt_id": attempt.id,
            "result_id": result.id,
            "revision": result.revision,
            "how": how,
            "document_sha256": result.document_sha256,
            "again": earlier is not None,
            "previous_release": earlier.id if earlier is not None else None,
            "anchor": anchor("release", records.release(uow, row.id).sha256),
        },
    )
    uow.defer(MAIL_TASK, queue=MAIL_QUEUE, tenant_id=str(uow.tenant), release_id=str(row.id))
    for listener in _listeners:
        listener(uow, row, attempt, result)
    return row


def _settings(uow: UnitOfWork, attempt: Attempt) -> dict[str, object]:
    return dict(version_of(uow, attempt.exam_id, attempt.exam_version).settings)


def on_result(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> ResultRelease | None:
    """A result revision was just stored (the first at submission, or one
    issued by grading): release it if the exam's setting says so now, or if
    an earlier revision was released already (a regrade). A voided
    attempt's result is released to no one."""
    if result.needs_grading or attempt.status != "submitted":
        return None
    if voids.of(uow, attempt.id) is not None:
        return None
    earlier = latest_release(uow, attempt.id)
    if earlier is not None:
        return (
            release(uow, attempt, result, "automatic")
            if result.revision > earlier.revision
            else None
        )
    if due(mode_of(_settings(uow, attempt)), attempt, result):
        return release(uow, attempt, result, "automatic")
    return None


def on_submitted(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> None:
    """Delivery's submission hook (see :mod:`invigil.delivery.submission`).
    An attempt submitted by its void is released to no one."""
    if voids.of(uow, attempt.id) is not None:
        return
    on_result(uow, attempt, result)


def on_review(uow: UnitOfWork, attempt: Attempt) -> None:
    """Proctoring's outcome hook (:mod:`invigil.proctoring.outcomes`): a
    closed review releases a graded result waiting for it."""
    result = latest_result(uow, attempt.id)
    if result is not None:
        on_result(uow, attempt, result)


# --- by hand --------------------------------------------------------------------------


def require_attempt(uow: UnitOfWork, attempt_id: uuid.UUID) -> Attempt:
    found = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


def _releasable(uow: UnitOfWork, attempt: Attempt) -> AttemptResult:
    if voids.of(uow, attempt.id) is not None:
        raise Conflict(
            f"attempt {attempt.id} was voided: its result is released to no one",
            voided=[str(attempt.id)],
        )
    if attempt.status != "submitted":
        raise Conflict(
            f"attempt {attempt.id} is not submitted: there is no result to release",
            pending=[str(attempt.id)],
        )
    result = latest_result(uow, attempt.id)
    if result is None or result.needs_grading:
        raise Conflict(
            f"the result of attempt {attempt.id} still needs grading: release it once graded",
            pending=[str(attempt.id)],
        )
    return result


def release_one(uow: UnitOfWork, attempt_id: uuid.UUID) -> ResultRelease:
    """Staff release one attempt's latest result."""
    attempt = require_attempt(uow, attempt_id)
    return release(uow, attempt, _releasable(uow, attempt), "manual")


@dataclass(frozen=True)
class Bulk:
    released: list[ResultRelease]
    already: list[uuid.UUID]  # attempts whose latest result was released before


def release_many(
    uow: UnitOfWork,
    exam_id: uuid.UUID,
    attempt_ids: Sequence[uuid.UUID] | None,
) -> Bulk:
    """Staff release the named attempts of an exam (or, with ``None``, every
    attempt of the exam whose result is final). All or nothing: an attempt
    still waiting for grading refuses the whole request, named."""
    if attempt_ids is not None:
        if not attempt_ids:
            raise Invalid("choose at least one attempt to release", field="attempt_ids")
        if len(attempt_ids) > MAX_BULK:
            raise Invalid(f"release at most {MAX_BULK} attempts at a time", field="attempt_ids")
        if len(set(attempt_ids)) != len(attempt_ids):
            raise Invalid("each attempt may be named once", field="attempt_ids")
    stmt = select(Attempt).where(
        Attempt.exam_id == exam_id, Attempt.status == "submitted", voids.not_voided()
    )
    if attempt_ids is not None:
        stmt = select(Attempt).where(Attempt.exam_id == exam_id, Attempt.id.in_(attempt_ids))
    found = {a.id: a for a in uow.scalars(stmt.order_by(Attempt.id).with_for_update())}
    if attempt_ids is not None:
        unknown = [str(i) for i in attempt_ids if i not in found]
        if unknown:
            raise Invalid(
                f"not an attempt of this exam: {', '.join(unknown[:5])}"
                f"{' …' if len(unknown) > 5 else ''}",
                field="attempt_ids",
            )
        voided = [str(i) for i in voids.of_many(uow, found)]
        if voided:
            raise Conflict(
                f"voided attempts' results are released to no one: {', '.join(voided[:5])}"
                f"{' …' if len(voided) > 5 else ''}; nothing was released",
                voided=voided,
            )
    chosen: list[tuple[Attempt, AttemptResult]] = []
    pending: list[uuid.UUID] = []
    for attempt in found.values():
        result = latest_result(uow, attempt.id) if attempt.status == "submitted" else None
        if result is None or result.needs_grading:
            pending.append(attempt.id)
        else:
            chosen.append((attempt, result))
    if pending and attempt_ids is not None:
        names = ", ".join(str(i) for i in pending[:5])
        raise Conflict(
            f"{len(pending)} of the chosen attempts still need grading or are not submitted "
            f"({names}{' …' if len(pending) > 5 else ''}): leave them out or grade them first",
            pending=[str(i) for i in pending],
        )
    released, already = [], []
    for attempt, result in chosen:
        earlier = latest_release(uow, attempt.id)
        if earlier is not None and earlier.revision >= result.revision:
            already.append(attempt.id)
            continue
        released.append(release(uow, attempt, result, "bulk"))
    return Bulk(released, already)
