"""The scored result of an attempt: an immutable, audited record.

On submit, objective questions are scored by :mod:`invigil.content.scoring`
against the pinned question versions; essays are recorded as waiting for a
human (``needs_grading``). The result is one canonical JSON document (per
question: the answer as given on the paper, the same answer in canonical
positions, points, time spent, flagged, late sync; per category: totals;
for the paper: points awarded, maximum, percentage and passed, which
compares the percentage with the exam's ``pass_mark_percent``) with its
SHA-256. A question in a section scaled to a fixed number of points counts
for its share of them (:mod:`invigil.content.worth`): its ``max`` is that
share and ``question_points`` its own points. The row can never be updated or deleted (a trigger);
grading adds revision 2, 3, ... Each revision's hash goes into the audit
log, so one proof of inclusion shows a result is the one recorded.

A graded revision (:func:`record_graded`) is the same computation with the
final human marks of the questions that needed one folded in (their
``awarded`` is the mark, ``needs_grading`` false); the document also says
who scored it (``scored_by``), the marks it rests on (``mark_ids``) and,
for a regrade, why (``reason``). The results domain decides which marks are
final (:mod:`invigil.results.grading`).

Each question of the latest revision is also kept as a row of
``result_cells`` (derived data, docs/adr/0036-result-cells.md): :func:`_store`
replaces the attempt's cells in the transaction that stores the revision, so
the cohort's figures read narrow rows instead of expanding documents.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text

from invigil import audit
from invigil.audit.canonical import canonical_json
from invigil.audit.records import anchor
from invigil.content import translations, worth
from invigil.content.bodies import parse_body
from invigil.content.models import QuestionVersion
from invigil.content.scoring import CENT, Score, max_points, score
from invigil.db.uow import UnitOfWork
from invigil.delivery import answers as shapes
from invigil.delivery.attempts import answers_of, version_of
from invigil.delivery.models import Attempt, AttemptResult


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _percent(awarded: Decimal, top: Decimal) -> Decimal:
    if top <= 0:
        return Decimal("0.00")
    return (awarded * 100 / top).quantize(CENT, rounding=ROUND_HALF_UP)


def compute(
    uow: UnitOfWork, attempt: Attempt, marks: Mapping[int, Decimal] | None = None
) -> dict[str, Any]:
    """The result document of ``attempt`` from what is stored now (pure read).
    ``marks``: the final human mark of each slot (by index) that needs one."""
    marks = marks or {}
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    ids = [uuid.UUID(s["version_id"]) for s in attempt.paper]
    versions = {
        v.id: v for v in uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    }
    given = {a.slot: a for a in answers_of(uow, attempt.id)}
    frozen = translations.entries(version.sections)
    questions: list[dict[str, Any]] = []
    cats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"awarded": Decimal(0), "max": Decimal(0), "questions": 0, "pending": 0}
    )
    total = top = Decimal(0)
    pending = 0
    # What each question counts for on this paper: its own points, or its
    # share of a section scaled to a fixed number of points.
    worth_of = worth.slot_points(
        version.sections,
        [int(slot["section"]) for slot in attempt.paper],
        [versions[uuid.UUID(slot["version_id"])].points for slot in attempt.paper],
    )
    for index, slot in enumerate(attempt.paper):
        qv = versions[uuid.UUID(slot["version_id"])]
        answer = given.get(index)
        response = answer.response if answer else None
        stored = shapes.to_stored(slot, response) if shapes.check(slot, response) is None else None
        # Shared keys in every language; a short-text translation may add
        # accepted answers of its language (content/translations.py).
        text = translations.text_in(frozen.get(slot["version_id"]), attempt.language)
        s = score(translations.for_scoring(parse_body(qv.body), text), worth_of[index], stored)
        if s.needs_human and index in marks:
            s = Score(min(marks[index], s.max).quantize(CENT), s.max)
        cat = cats[qv.category]
        cat["max"] += s.max
        cat["questions"] += 1
        top += s.max
        if s.needs_human:
            pending += 1
            cat["pending"] += 1
        else:
            cat["awarded"] += s.awarded
            total += s.awarded
        questions.append(
            {
                "index": index,
                "question_id": slot["question_id"],
                "version_id": slot["version_id"],
                "type": slot["type"],
                "category": qv.category,
                "language": attempt.language if text is not None else qv.language,
                "answered": answer is not None and response is not None,
                "response": response,
                "canonical_response": stored,
                "awarded": None if s.needs_human else str(s.awarded),
                "max": str(s.max),
                "question_points": str(max_points(qv.points)),
                "needs_grading": s.needs_human,
                "time_ms": answer.time_ms if answer else 0,
                "flagged": bool(answer.flagged) if answer else False,
                "late": bool(answer.late) if answer else False,
                "seq": answer.seq if answer else None,
            }
        )
    settings = version.settings
    pass_mark = settings.get("pass_mark_percent")
    percent = _percent(total, top)
    passed = None
    if pass_mark is not None and pending == 0:
        passed = percent >= Decimal(str(pass_mark))
    category_marks = settings.get("category_pass_marks") or {}
    categories = {}
    for name, c in sorted(cats.items()):
        cp = _percent(c["awarded"], c["max"])
        mark = category_marks.get(name)
        categories[name] = {
            "awarded": str(c["awarded"].quantize(CENT)),
            "max": str(c["max"].quantize(CENT)),
            "percent": str(cp),
            "questions": c["questions"],
            "pending_grading": c["pending"],
            "passed": None if mark is None or c["pending"] else cp >= Decimal(str(mark)),
        }
        if categories[name]["passed"] is False and passed:
            passed = False
    started = attempt.started_at
    ended = attempt.submitted_at
    return {
        "attempt_id": str(attempt.id),
        "candidate_id": str(attempt.candidate_id),
        "invitation_id": str(attempt.invitation_id),
        "exam_id": str(attempt.exam_id),
        "exam_version": attempt.exam_version,
        "content_hash": version.content_hash,
        "attempt_number": attempt.number,
        "seed": str(attempt.seed),
        "language": attempt.language,
        "started_at": _iso(started),
        "deadline": _iso(attempt.deadline),
        "submitted_at": _iso(ended),
        "submit_reason": attempt.submit_reason,
        "duration_ms": int((ended - started).total_seconds() * 1000) if started and ended else None,
        "time_on_questions_ms": sum(q["time_ms"] for q in questions),
        "awarded": str(total.quantize(CENT)),
        "max": str(top.quantize(CENT)),
        "percent": str(percent),
        "pass_mark_percent": None if pass_mark is None else str(pass_mark),
        "passed": passed,
        "needs_grading": pending > 0,
        "pending_questions": pending,
        "answered": sum(1 for q in questions if q["answered"]),
        "late_answers": sum(1 for q in questions if q["late"]),
        "categories": categories,
        "questions": questions,
    }


def record_automatic(uow: UnitOfWork, attempt: Attempt) -> AttemptResult:
    """Revision 1: the automatic scoring at submission."""
    document = {"revision": 1, "scored_by": "automatic", **compute(uow, attempt)}
    return _store(uow, attempt, 1, document)


def record_graded(
    uow: UnitOfWork,
    attempt: Attempt,
    marks: Mapping[int, Decimal],
    *,
    mark_ids: Sequence[uuid.UUID],
    reason: str | None = None,
) -> AttemptResult:
    """The next revision, with the final human ``marks`` (slot -> points) in
    it; ``mark_ids``: the grading marks they rest on; ``reason``: a regrade's."""
    previous = latest_result(uow, attempt.id)
    revision = (previous.revision if previous is not None else 0) + 1
    document: dict[str, Any] = {
        "revision": revision,
        "scored_by": "human",
        "mark_ids": sorted(str(m) for m in mark_ids),
        **compute(uow, attempt, marks),
    }
    if reason is not None:
        document["reason"] = reason
    return _store(uow, attempt, revision, document)


def _store(
    uow: UnitOfWork, attempt: Attempt, revision: int, document: dict[str, Any]
) -> AttemptResult:
    digest = hashlib.sha256(canonical_json(document)).hexdigest()
    result = AttemptResult(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        revision=revision,
        awarded=Decimal(document["awarded"]),
        max_points=Decimal(document["max"]),
        percent=Decimal(document["percent"]),
        passed=document["passed"],
        needs_grading=document["needs_grading"],
        document=document,
        document_sha256=digest,
    )
    uow.add(result)
    uow.flush()
    _replace_cells(uow, result)
    audit.record(
        uow,
        "result.recorded",
        result,
        {
            "attempt_id": attempt.id,
            "revision": revision,
            "awarded": document["awarded"],
            "max": document["max"],
            "passed": document["passed"],
            "needs_grading": document["needs_grading"],
            "document_sha256": digest,
            "anchor": anchor("result", digest),
        },
    )
    return result


# Each question of a result revision's document, in paper order, as the row of
# ``result_cells`` the cohort's figures read (the migration 0028 backfill
# selects the same; a test compares the two). The section is the paper's at
# the question's position.
_CELLS = """
INSERT INTO result_cells (
    tenant_id, attempt_id, slot, result_id, revision, exam_id, exam_version,
    section, question_id, version_id, category, type, awarded, max,
    needs_grading, time_ms, canonical_response)
SELECT r.tenant_id, r.attempt_id, (e.n - 1)::int, r.id, r.revision,
       a.exam_id, a.exam_version,
       (a.paper -> (e.n - 1)::int ->> 'section')::int,
       (e.q ->> 'question_id')::uuid, (e.q ->> 'version_id')::uuid,
       e.q ->> 'category', e.q ->> 'type',
       (e.q ->> 'awarded')::numeric, (e.q ->> 'max')::numeric,
       (e.q ->> 'needs_grading')::boolean, (e.q ->> 'time_ms')::bigint,
       e.q -> 'canonical_response'
  FROM attempt_results r
  JOIN attempts a ON a.tenant_id = r.tenant_id AND a.id = r.attempt_id
 CROSS JOIN LATERAL jsonb_array_elements(r.document -> 'questions') WITH ORDINALITY AS e(q, n)
"""

_CELLS_OF_RESULT = text(_CELLS + " WHERE r.id = :result")

_FORGET_CELLS = text("DELETE FROM result_cells WHERE attempt_id = :attempt")

# Every attempt's latest revision, for the tenant in the unit of work.
_CELLS_OF_LATEST = text(
    _CELLS
    + """ WHERE NOT EXISTS (SELECT 1 FROM attempt_results later
                        WHERE later.tenant_id = r.tenant_id
                          AND later.attempt_id = r.attempt_id
                          AND later.revision > r.revision)"""
)


def _replace_cells(uow: UnitOfWork, result: AttemptResult) -> None:
    """The attempt's cells become those of ``result``, its newest revision."""
    uow.session.execute(_FORGET_CELLS, {"attempt": result.attempt_id})
    uow.session.execute(_CELLS_OF_RESULT, {"result": result.id})


def refill_cells(uow: UnitOfWork) -> None:
    """The tenant's cells, all taken again from each attempt's latest revision
    (for results written in bulk by SQL, as the benchmarks seed them)."""
    uow.session.execute(text("DELETE FROM result_cells"))
    uow.session.execute(_CELLS_OF_LATEST)


def latest_result(uow: UnitOfWork, attempt_id: uuid.UUID) -> AttemptResult | None:
    return uow.scalar(
        select(AttemptResult)
        .where(AttemptResult.attempt_id == attempt_id)
        .order_by(AttemptResult.revision.desc())
        .limit(1)
    )
