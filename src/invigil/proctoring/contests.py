"""A candidate's contest: their explanation against a flag, or against the
attempt's integrity outcome, before it becomes final (ADR 0059).

The candidate writes it from their portal (``invigil.retention.portal``)
within the *contest window*: from the attempt's submission, for the
number of days its frozen retention policy version allows. Proctoring sits
below retention, so it does not read the policy: retention registers the
window with :func:`register_window` from its ``hooks.py``; with no window
registered (or a window of 0 days) nothing can be contested.

A contest is a row written once (``proctoring_contests``, append-only):
the text (1-4000 characters; '' once the retention purge has removed it
with its attempt's proctoring events, :func:`removed`), the language it was written in, and at
most one attachment (an image or a PDF, sniffed, at most 5 MiB) stored as
evidence under the candidate's key. Its canonical document is hashed and
anchored by the ``proctoring.contested`` audit entry (ids and hashes only:
the text stays in the row). One contest per flag and one on the outcome.

The review decision that follows on the same flag (or outcome) answers it
(``review_decisions.answers``, one decision per contest). A violation
outcome is not final while the window is open or a contest is unanswered
(:func:`held`): ``attempts.review_final`` stays false, and
:func:`invigil.proctoring.reviews.finalise` makes it final once neither
holds (the periodic job ``proctoring.finalise_reviews``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from invigil import audit
from invigil.audit.records import anchor, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import service as evidence_service
from invigil.evidence.kinds import check_size, kind
from invigil.evidence.service import ATTEMPT, Evidence
from invigil.proctoring.models import Contest, ReviewDecision

ACTION = "proctoring.contested"
SUBJECT = "proctoring_contest"
ATTACHMENT = "contest_attachment"
MAX_TEXT = 4000
VIOLATIONS = frozenset({"violation_fail", "violation_invalidate"})

# (uow, attempt) -> when the attempt's contest window closes (None: it has none).
Window = Callable[[UnitOfWork, Attempt], datetime | None]
_window: list[Window] = []


def register_window(window: Window) -> None:
    """Set (replace) how an attempt's contest window is found; retention's hooks call it."""
    _window[:] = [window]


def window_ends(uow: UnitOfWork, attempt: Attempt) -> datetime | None:
    """When ``attempt``'s contest window closes; None before submission or
    when there is no window at all."""
    if attempt.submitted_at is None or not _window:
        return None
    ends = _window[0](uow, attempt)
    if ends is None or ends <= attempt.submitted_at:
        return None
    return ends


def window_open(uow: UnitOfWork, attempt: Attempt, now: datetime | None = None) -> bool:
    ends = window_ends(uow, attempt)
    return ends is not None and (now or datetime.now(UTC)) < ends


def contest_document(row: Contest | Mapping[str, Any]) -> dict[str, Any]:
    """A contest as its anchored document (the verifier rebuilds it from the row)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    def text(value: Any) -> str | None:
        return str(value) if value is not None else None

    return {
        "id": str(get("id")),
        "attempt_id": str(get("attempt_id")),
        "action_id": text(get("action_id")),
        "text": get("text"),
        "attachment_id": text(get("attachment_id")),
        "attachment_sha256": get("attachment_sha256"),
        "language": get("language"),
    }


def removed(contest: Contest) -> bool:
    """Whether the retention purge removed the contest's text (it is then
    '', which a candidate cannot send; migration 0050)."""
    return contest.text == ""


def of_attempt(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[Contest]:
    """The attempt's contests, oldest first."""
    return list(
        uow.scalars(
            select(Contest)
            .where(Contest.attempt_id == attempt_id)
            .order_by(Contest.created_at, Contest.id)
        )
    )


def answers_of(uow: UnitOfWork, attempt_id: uuid.UUID) -> dict[uuid.UUID, ReviewDecision]:
    """contest id -> the decision that answered it."""
    rows = uow.scalars(
        select(ReviewDecision).where(
            ReviewDecision.attempt_id == attempt_id, ReviewDecision.answers.is_not(None)
        )
    )
    return {r.answers: r for r in rows if r.answers is not None}


def unanswered(
    uow: UnitOfWork, attempt_id: uuid.UUID, action_id: uuid.UUID | None
) -> Contest | None:
    """The contest on this flag (``action_id``) or on the outcome (None)
    that no decision answered."""
    target = Contest.action_id == action_id if action_id else Contest.action_id.is_(None)
    answered = select(ReviewDecision.answers).where(ReviewDecision.answers.is_not(None))
    return uow.scalar(
        select(Contest).where(Contest.attempt_id == attempt_id, target, Contest.id.not_in(answered))
    )


def held(
    uow: UnitOfWork, attempt: Attempt, decision: str | None, now: datetime | None = None
) -> bool:
    """Whether an outcome ``decision`` on ``attempt`` must wait before it is
    final: a violation while the contest window is open or while any of the
    attempt's contests is unanswered."""
    if decision not in VIOLATIONS:
        return False
    if window_open(uow, attempt, now):
        return True
    answered = answers_of(uow, attempt.id)
    return any(c.id not in answered for c in of_attempt(uow, attempt.id))


def _text(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid("write your explanation", field="text", reason="empty")
    if len(text) > MAX_TEXT:
        raise Invalid(
            f"the explanation has at most {MAX_TEXT} characters", field="text", reason="long"
        )
    return text


def _is_flag(uow: UnitOfWork, attempt_id: uuid.UUID, flag_id: uuid.UUID) -> bool:
    from invigil.proctoring.models import ProctoringAction
    from invigil.proctoring.reviews import REVIEWABLE

    found = uow.scalar(
        select(ProctoringAction).where(
            ProctoringAction.id == flag_id,
            ProctoringAction.attempt_id == attempt_id,
            ProctoringAction.action.in_(REVIEWABLE),
        )
    )
    return found is not None and found.flag_key == flag_id


def _has_flags(uow: UnitOfWork, attempt_id: uuid.UUID) -> bool:
    from invigil.proctoring.models import ProctoringAction
    from invigil.proctoring.reviews import REVIEWABLE

    return (
        uow.scalar(
            select(ProctoringAction.id)
            .where(
                ProctoringAction.attempt_id == attempt_id,
                ProctoringAction.action.in_(REVIEWABLE),
            )
            .limit(1)
        )
        is not None
    )


def submit(
    uow: UnitOfWork,
    evidence: Evidence,
    attempt_id: uuid.UUID,
    *,
    flag_id: uuid.UUID | None,
    text: object,
    language: str,
    attachment: bytes | None = None,
    now: datetime | None = None,
) -> Contest:
    """Record the candidate's contest against a flag (``flag_id``) or the
    outcome (None), with an optional attachment; audited and anchored.
    The caller has checked that the attempt is the candidate's."""
    locked = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
    if locked is None:
        raise NotFound("attempt was not found")
    attempt = locked
    body = _text(text)
    if flag_id is not None and not _is_flag(uow, attempt.id, flag_id):
        raise NotFound("flag was not found")
    if flag_id is None and not _has_flags(uow, attempt.id):
        raise Conflict(
            "nothing was flagged on this attempt: there is nothing to contest", reason="nothing"
        )
    if not window_open(uow, attempt, now):
        raise Conflict(
            "the contest window of this attempt is closed", field="text", reason="closed"
        )
    target = Contest.action_id == flag_id if flag_id else Contest.action_id.is_(None)
    if uow.scalar(select(Contest.id).where(Contest.attempt_id == attempt.id, target)) is not None:
        raise Conflict(
            "this was contested already: a contest is written once", field="text", reason="twice"
        )
    row = Contest(
        id=uuid.uuid4(), tenant_id=uow.tenant, attempt_id=attempt.id, action_id=flag_id,
        text=body, language=language[:16], sha256="",
    )  # fmt: skip
    if attachment:
        check_size(kind(ATTACHMENT), len(attachment))
        stored = evidence_service.store(
            uow,
            evidence,
            subject_type=ATTEMPT,
            subject_id=str(attempt.id),
            kind_name=ATTACHMENT,
            data=[attachment],
        )
        row.attachment_id = stored.id
        row.attachment_sha256 = stored.plaintext_sha256
    row.sha256 = document_sha256(contest_document(row))
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        ACTION,
        (SUBJECT, row.id),
        {
            "attempt_id": attempt.id,
            "action_id": flag_id,
            "attachment_id": row.attachment_id,
            "attachment_sha256": row.attachment_sha256,
            "anchor": anchor(SUBJECT, row.sha256),
        },
    )
    return row
