"""An attempt's result for people: one structure that the result page and
the PDF report both render, so the two can never tell different stories.

It gathers who sat the attempt (name and email only for viewers holding
``candidate:view``; everyone else reads a pseudonym made from the attempt
id, :mod:`invigil.results.pseudonyms`), the exam version it was sat on
(with its content hash), the latest result, the time spent on each
question and each section against the cohort's median, the integrity
summary with the reviewers' decisions, the marks people gave, and every
version of the result document with its SHA-256 and the audit entry that
anchors it, with that entry's inclusion proof in the latest signed
checkpoint and the verdict of checking it (:mod:`invigil.audit.merkle`).

The cohort is every submitted attempt of the same exam version; a question
drawn from a pool was sat by part of it only, so each median names the
number of attempts behind it. Medians are computed by the database
(``percentile_cont`` over the cells of each attempt's latest result,
``result_cells``), never by loading the cohort's documents. Reads only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, text

from invigil.audit import service as audit_log
from invigil.audit.merkle import leaf_hash, verify_inclusion
from invigil.audit.models import AuditEvent
from invigil.audit.records import anchor_in, document_sha256
from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import voids
from invigil.delivery.attempts import version_of
from invigil.delivery.models import Attempt, AttemptResult, Candidate
from invigil.delivery.voids import NOT_VOIDED
from invigil.errors import Gone, NotFound
from invigil.i18n import N_
from invigil.proctoring import reviews, summary
from invigil.proctoring.summary import IntegritySummary
from invigil.results import grading
from invigil.results.models import GradingMark
from invigil.results.proof import Step, steps
from invigil.results.pseudonyms import Shown, candidate_shown

NOT_SEALED = N_("not sealed yet: the next checkpoint will cover this entry")
NO_ENTRY = N_("no audit entry records this hash")


@dataclass(frozen=True)
class Timed:
    """Time on one question (or one section) against the cohort's median."""

    key: str  # the question's id, or the section's number
    label: str  # the section's title, or the question's number
    time_ms: int
    median_ms: float | None
    cohort: int  # submitted attempts of this exam version that had it

    @property
    def ratio(self) -> float | None:
        """This attempt's time over the median (1.0: as long as the median)."""
        if self.median_ms is None or self.median_ms <= 0:
            return None
        return self.time_ms / self.median_ms


@dataclass(frozen=True)
class Question:
    number: int
    question_id: str
    section: int
    type: str
    category: str
    awarded: str | None  # None while it waits for a grader
    max: str
    needs_grading: bool
    time: Timed


@dataclass(frozen=True)
class GivenMark:
    """One person's mark of the question (a row of ``grading_marks``): its
    kind (first, second, moderation, regrade), who and when, the total, each
    rubric criterion's level, points and comment (short text: points and a
    comment), and the reason a moderation or regrade gives."""

    kind: str
    grader: str
    at: datetime
    total: str
    criteria: list[dict[str, Any]]
    reason: str | None

    @property
    def label(self) -> str:
        """The kind in words (marked for translation; pages translate it)."""
        return grading.KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Mark:
    """Points people gave a question the automatic scoring left open, as
    the result documents record them (open in revision 1, awarded in the
    latest), with the marks they rest on. Marks are shown once the question
    is settled (the latest document no longer waits for it), so that the
    page never shows a blind grader another grader's mark first."""

    number: int
    question_id: str
    awarded: str
    max: str
    revision: int
    issued_by: str
    given: list[GivenMark] = field(default_factory=list)


@dataclass(frozen=True)
class Marks:
    """The ``marks`` section of the report: what people marked, and what
    still waits for them (``needs_grading`` in the latest document)."""

    given: list[Mark]
    waiting: list[Question]


@dataclass(frozen=True)
class Inclusion:
    """The audit entry that anchors a document's hash, and its proof."""

    event_id: uuid.UUID
    seq: int
    occurred_at: datetime
    leaf_hash: str
    leaf_matches: bool  # SHA-256(0x00 || entry) is the stored leaf hash
    anchored_sha256: str
    tree_size: int | None = None
    root_hash: str | None = None
    sealed_at: datetime | None = None
    key_id: str | None = None
    proof: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    verified: bool = False
    reason: str | None = None  # marked N_: why there is no proof yet


@dataclass(frozen=True)
class Version:
    revision: int
    created_at: datetime
    sha256: str
    hash_matches: bool  # the stored document still hashes to ``sha256``
    scored_by: str
    issued_by: str  # who or what, in words (from the audit entry's actor)
    awarded: str
    max: str
    percent: str
    passed: bool | None
    needs_grading: bool
    inclusion: Inclusion | None


@dataclass(frozen=True)
class Decision:
    """One reviewer's decision on the attempt or on one of its flags."""

    scope: str
    decision: str
    reason: str
    reviewer: str
    at: datetime


@dataclass(frozen=True)
class AttemptResultView:
    attempt: Attempt
    candidate: Shown
    version: ExamVersion
    result: AttemptResult
    document: dict[str, Any]
    questions: list[Question]
    sections: list[Timed]
    marks: Marks
    integrity: IntegritySummary
    decisions: list[Decision]
    versions: list[Version]
    cohort: int  # submitted attempts of this exam version with a result
    voided: bool = False  # staff voided the attempt: this result counts nowhere

    @property
    def categories(self) -> dict[str, Any]:
        return dict(sorted(self.document.get("categories", {}).items()))

    @property
    def latest(self) -> Version:
        return self.versions[-1]


def build(uow: UnitOfWork, attempt_id: uuid.UUID, *, with_identity: bool) -> AttemptResultView:
    """The result of ``attempt_id``; NotFound when there is none (or it is
    another tenant's: row-level security hides it)."""
    attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id))
    rows = (
        uow.scalars(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == attempt_id)
            .order_by(AttemptResult.revision)
        )
        if attempt is not None
        else []
    )
    if attempt is not None and not rows and attempt.results_deleted_at is not None:
        raise Gone(f"attempt {attempt_id}'s result was deleted under the retention policy")
    if attempt is None or not rows:
        raise NotFound(f"attempt {attempt_id} has no result")
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    latest = rows[-1]
    document = latest.document
    timing = medians(uow, attempt)
    questions = _questions(attempt, document, timing.questions)
    review = reviews.load(uow, attempt)
    versions = _versions(uow, rows)
    return AttemptResultView(
        attempt=attempt,
        candidate=candidate_shown(uow.get(Candidate, attempt.candidate_id), attempt, with_identity),
        version=version,
        result=latest,
        document=document,
        questions=questions,
        sections=_sections(timing.sections, version, questions),
        marks=_marks(uow, attempt, rows, questions, versions),
        integrity=summary.summarize(uow, attempt, review=review),
        decisions=_decisions(review),
        versions=versions,
        cohort=timing.cohort,
        voided=voids.of(uow, attempt.id) is not None,
    )


# Time on each question and in each section, medians over the latest result
# of every submitted attempt of one exam version, in one pass over its cells
# (``result_cells``: each question of the latest revision with the section
# of its place on the paper), so no document is read.
_TIMES = text(
    f"""
    WITH answered AS MATERIALIZED (
      SELECT c.attempt_id, c.question_id::text AS question_id, c.section, c.time_ms
      FROM result_cells c
      JOIN attempts a ON a.tenant_id = c.tenant_id AND a.id = c.attempt_id
      WHERE c.exam_id = :exam AND c.exam_version = :version AND a.status = 'submitted'
        AND {NOT_VOIDED}
    ), per_section AS (
      SELECT attempt_id, section, sum(time_ms) AS time_ms FROM answered
      GROUP BY attempt_id, section
    )
    SELECT 'question', question_id, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY time_ms)
    FROM answered GROUP BY question_id
    UNION ALL
    SELECT 'section', section::text, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY time_ms)
    FROM per_section WHERE section IS NOT NULL GROUP BY section
    UNION ALL
    SELECT 'cohort', '', count(*), NULL
    FROM attempts a
    WHERE a.exam_id = :exam AND a.exam_version = :version AND a.status = 'submitted'
      AND {NOT_VOIDED} AND EXISTS (SELECT 1 FROM attempt_results r
                  WHERE r.tenant_id = a.tenant_id AND r.attempt_id = a.id)
    """
)


@dataclass(frozen=True)
class Medians:
    cohort: int  # submitted attempts of the exam version with a result
    questions: dict[str, tuple[int, float]]  # question id -> (attempts, median ms)
    sections: dict[int, tuple[int, float]]  # section number -> (attempts, median of totals)


def medians(uow: UnitOfWork, attempt: Attempt) -> Medians:
    """The cohort of ``attempt`` and its medians, computed by the database."""
    params = {"exam": attempt.exam_id, "version": attempt.exam_version}
    # A large cohort's cells are sorted per question; in memory, not on disk
    # (this transaction only).
    uow.session.execute(text("SELECT set_config('work_mem', '64MB', true)"))
    questions: dict[str, tuple[int, float]] = {}
    sections: dict[int, tuple[int, float]] = {}
    cohort = 0
    for kind, key, n, median in uow.session.execute(_TIMES, params).all():
        if kind == "cohort":
            cohort = int(n)
        elif kind == "question":
            questions[str(key)] = (int(n), float(median))
        else:
            sections[int(key)] = (int(n), float(median))
    return Medians(cohort, questions, sections)


def _questions(
    attempt: Attempt, document: dict[str, Any], by_question: dict[str, tuple[int, float]]
) -> list[Question]:
    out = []
    for q in document.get("questions", []):
        index = int(q["index"])
        slot = attempt.paper[index] if index < len(attempt.paper) else {}
        cohort, median = by_question.get(str(q["question_id"]), (0, None))
        out.append(
            Question(
                number=index + 1,
                question_id=str(q["question_id"]),
                section=int(slot.get("section", 0)),
                type=str(q.get("type", "")),
                category=str(q.get("category", "")),
                awarded=q.get("awarded"),
                max=str(q.get("max", "0")),
                needs_grading=bool(q.get("needs_grading")),
                time=Timed(
                    str(q["question_id"]),
                    str(index + 1),
                    int(q.get("time_ms") or 0),
                    median,
                    cohort,
                ),
            )
        )
    return out


def _sections(
    medians: dict[int, tuple[int, float]], version: ExamVersion, questions: list[Question]
) -> list[Timed]:
    titles = [str(s.get("title") or "") for s in version.sections]
    spent: dict[int, int] = {}
    for q in questions:
        spent[q.section] = spent.get(q.section, 0) + q.time.time_ms
    out = []
    for number, ms in sorted(spent.items()):
        cohort, median = medians.get(number, (0, None))
        title = titles[number] if 0 <= number < len(titles) else ""
        out.append(Timed(str(number + 1), title, ms, median, cohort))
    return out


def _marks(
    uow: UnitOfWork,
    attempt: Attempt,
    rows: list[AttemptResult],
    questions: list[Question],
    versions: list[Version],
) -> Marks:
    first = {int(q["index"]): q for q in rows[0].document.get("questions", [])}
    latest = versions[-1]
    settled = [
        q
        for q in questions
        if q.awarded is not None and first.get(q.number - 1, {}).get("needs_grading")
    ]
    by_slot: dict[int, list[GradingMark]] = {}
    if settled:
        for m in uow.scalars(
            select(GradingMark)
            .where(GradingMark.attempt_id == attempt.id)
            .order_by(GradingMark.slot, GradingMark.created_at, GradingMark.id)
        ):
            by_slot.setdefault(m.slot, []).append(m)
    names = reviews.people(uow, {m.grader_id for ms in by_slot.values() for m in ms})
    given = [
        Mark(
            q.number,
            q.question_id,
            str(q.awarded),  # settled: awarded
            q.max,
            latest.revision,
            latest.issued_by,
            [
                GivenMark(
                    m.kind,
                    names.get(m.grader_id, str(m.grader_id)),
                    m.created_at,
                    str(m.total),
                    list(m.marks),
                    m.reason,
                )
                for m in by_slot.get(q.number - 1, [])
            ],
        )
        for q in settled
    ]
    return Marks(given=given, waiting=[q for q in questions if q.needs_grading])


def _decisions(review: reviews.Review) -> list[Decision]:
    out = []
    for flag in review.flags:
        for d in flag.chain:
            out.append(
                Decision(
                    flag.action.message or flag.action.kind,
                    d.decision,
                    d.reason,
                    review.who(d.reviewer_id),
                    d.created_at,
                )
            )
    for d in review.outcome.chain:
        out.append(
            Decision("attempt", d.decision, d.reason, review.who(d.reviewer_id), d.created_at)
        )
    return sorted(out, key=lambda d: d.at)


def _versions(uow: UnitOfWork, rows: list[AttemptResult]) -> list[Version]:
    events = uow.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "result.recorded",
            AuditEvent.subject_type == "attempt_result",
            AuditEvent.subject_id.in_([str(r.id) for r in rows]),
        )
        .order_by(AuditEvent.seq)
    )
    by_subject: dict[str, AuditEvent] = {}
    for e in events:
        by_subject.setdefault(e.subject_id, e)
    names = reviews.people(uow, {uid for e in events if (uid := _user_id(e)) is not None})
    out = []
    for r in rows:
        event = by_subject.get(str(r.id))
        out.append(
            Version(
                revision=r.revision,
                created_at=r.created_at,
                sha256=r.document_sha256,
                hash_matches=document_sha256(r.document) == r.document_sha256,
                scored_by=str(r.document.get("scored_by", "automatic")),
                issued_by=_issuer(event, names),
                awarded=str(r.awarded),
                max=str(r.max_points),
                percent=str(r.percent),
                passed=r.passed,
                needs_grading=r.needs_grading,
                inclusion=None if event is None else inclusion(uow, event, r.document_sha256),
            )
        )
    return out


def _user_id(event: AuditEvent) -> uuid.UUID | None:
    if event.actor_kind != "user":
        return None
    try:
        return uuid.UUID(event.actor_id)
    except ValueError:
        return None


ISSUERS = {"candidate": N_("the candidate's submission"), "system": N_("Invigil (automatic)")}


def _issuer(event: AuditEvent | None, names: dict[uuid.UUID, str]) -> str:
    """Who or what issued a version (a person's name, or words marked N_)."""
    if event is None:
        return N_("unknown: no audit entry")
    uid = _user_id(event)
    if uid is not None:
        return names.get(uid, N_("a former user"))
    return ISSUERS.get(event.actor_kind, f"{event.actor_kind} {event.actor_id}")


def inclusion(uow: UnitOfWork, event: AuditEvent, sha256: str) -> Inclusion:
    """``event``'s proof of inclusion in the latest checkpoint, checked."""
    found = anchor_in(event.action, event.subject_id, event.payload, event.seq)
    anchored = found.sha256 if found is not None else ""
    base = Inclusion(
        event_id=event.id,
        seq=event.seq,
        occurred_at=event.occurred_at,
        leaf_hash=event.leaf_hash.hex(),
        leaf_matches=leaf_hash(event.entry.encode()) == event.leaf_hash,
        anchored_sha256=anchored,
    )
    if anchored != sha256:
        return _with(base, reason=NO_ENTRY)
    proven = audit_log.inclusion(uow, event)
    checkpoint = proven.get("checkpoint")
    if checkpoint is None:
        return _with(base, reason=NOT_SEALED)
    proof = [str(h) for h in proven["proof"]]
    size = int(checkpoint["tree_size"])
    root = str(checkpoint["root_hash"])
    verified = verify_inclusion(
        event.leaf_hash, event.seq, size, [bytes.fromhex(h) for h in proof], bytes.fromhex(root)
    )
    return _with(
        base,
        tree_size=size,
        root_hash=root,
        sealed_at=checkpoint["sealed_at"],
        key_id=str(checkpoint["key_id"]),
        proof=proof,
        steps=steps(event.leaf_hash.hex(), event.seq, size, proof),
        verified=verified and base.leaf_matches,
    )


def _with(base: Inclusion, **changes: Any) -> Inclusion:
    return replace(base, **changes)
