"""Grading by people: marks, double marking, moderation, regrades, and the
result revision each final mark issues.

A *response* is one slot of a submitted attempt whose automatic result
(revision 1) says it needs a human: an essay, or a short-text answer that
matched nothing when the question allows manual credit. Every mark is an
immutable ``grading_marks`` row, audited in the same transaction with the
sha256 of its canonical JSON anchored (record kind ``mark``, see
:mod:`invigil.results.records`). The rules (docs/adr/0031-grading-marks.md):

- one grader marks a response once (``first``); with double marking a
  different grader adds an independent ``second`` mark;
- two marks within the tolerance (``marking_tolerance_percent`` of the
  question's worth on the paper) settle at their mean, rounded half-up to
  cents; further apart, the response awaits a moderator (``grade:moderate``),
  whose decision (``moderation``, with a reason) is final;
- a ``regrade`` (with a reason) replaces the final mark, also after results
  are released; the latest regrade counts.

When every response of an attempt has a final mark, :func:`issue_revision`
records the next revision of the result document: the one place a graded
revision is issued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, text

from invigil import audit
from invigil.audit.records import anchor
from invigil.content import bodies as b
from invigil.content.models import ExamVersion, QuestionVersion
from invigil.content.scoring import CENT
from invigil.db.uow import UnitOfWork
from invigil.delivery import results
from invigil.delivery.models import Attempt, AttemptResult
from invigil.errors import Conflict, Forbidden, Invalid, NotFound
from invigil.i18n import N_
from invigil.results import graded, records, release, suggestions
from invigil.results.models import GradingMark
from invigil.results.schemas import MarkIn, ModerationIn, RegradeIn

HUNDRED = Decimal(100)
MARKED = ("first", "second")
ACTIONS = {
    "first": "grading.marked",
    "second": "grading.marked",
    "moderation": "grading.moderated",
    "regrade": "grading.regraded",
}


@dataclass(frozen=True)
class Rules:
    """An exam version's grading settings (frozen at publish)."""

    blind: bool
    double: bool
    tolerance_percent: Decimal

    @classmethod
    def of(cls, settings: dict[str, Any]) -> Rules:
        return cls(
            blind=bool(settings.get("blind_grading", True)),
            double=bool(settings.get("double_marking", False)),
            tolerance_percent=Decimal(str(settings.get("marking_tolerance_percent", 10))),
        )

    def tolerance(self, worth: Decimal) -> Decimal:
        return worth * self.tolerance_percent / HUNDRED


@dataclass(frozen=True)
class State:
    """Where a response stands. ``status``: unmarked, awaiting_second,
    awaiting_moderation or final; ``final``: its points when final;
    ``rests_on``: the marks the final points come from."""

    status: str
    final: Decimal | None
    rests_on: tuple[uuid.UUID, ...]


# How a mark's kind reads on pages and reports.
KIND_LABELS = {
    "first": N_("first mark"),
    "second": N_("second mark"),
    "moderation": N_("moderation"),
    "regrade": N_("regrade"),
}


def mean(a: Decimal, b: Decimal) -> Decimal:
    """Two marks within tolerance settle here: half-up to cents."""
    return ((a + b) / 2).quantize(CENT, rounding=ROUND_HALF_UP)


def state_of(rules: Rules, worth: Decimal, marks: list[GradingMark]) -> State:
    regrades = [m for m in marks if m.kind == "regrade"]
    if regrades:
        last = max(regrades, key=lambda m: (m.created_at, m.id))
        return State("final", last.total, (last.id,))
    moderation = next((m for m in marks if m.kind == "moderation"), None)
    if moderation is not None:
        return State("final", moderation.total, (moderation.id,))
    given = {m.kind: m for m in marks if m.kind in MARKED}
    first, second = given.get("first"), given.get("second")
    if first is None:
        return State("unmarked", None, ())
    if not rules.double:
        return State("final", first.total, (first.id,))
    if second is None:
        return State("awaiting_second", None, (first.id,))
    if abs(first.total - second.total) > rules.tolerance(worth):
        return State("awaiting_moderation", None, (first.id, second.id))
    return State("final", mean(first.total, second.total), (first.id, second.id))


@dataclass(frozen=True)
class Response:
    """One response that needs a human, with everything a mark is checked against."""

    attempt: Attempt
    slot: int
    question: dict[str, Any]  # its entry in the automatic result (revision 1)
    wanted: dict[int, dict[str, Any]]  # every slot of the attempt that needs a human
    body: b.Body
    worth: Decimal
    rules: Rules
    marks: list[GradingMark]

    @property
    def state(self) -> State:
        return state_of(self.rules, self.worth, self.marks)


def slot_of(value: str) -> int:
    """A slot as a URL gives it; anything but a small number is no response (404)."""
    if not value.isdigit() or len(value) > 4:
        raise NotFound(f"there is no question {value[:40]!r} on the paper")
    return int(value)


def _attempt(uow: UnitOfWork, attempt_id: uuid.UUID, *, lock: bool) -> Attempt:
    stmt = select(Attempt).where(Attempt.id == attempt_id)
    found = uow.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


_NEEDING = text("""
    SELECT q.value FROM attempt_results AS r
    CROSS JOIN LATERAL jsonb_array_elements(r.document->'questions') AS q(value)
    WHERE r.attempt_id = :attempt AND r.revision = 1 AND (q.value->>'needs_grading')::boolean
""")


def needing(uow: UnitOfWork, attempt: Attempt) -> dict[int, dict[str, Any]]:
    """The slots of ``attempt`` that need a human, by index, as its automatic
    result (revision 1) says (none before submission)."""
    rows = uow.session.execute(_NEEDING, {"attempt": attempt.id}).scalars()
    return {int(q["index"]): q for q in rows}


def marks_of(uow: UnitOfWork, attempt_id: uuid.UUID, slot: int | None = None) -> list[GradingMark]:
    stmt = select(GradingMark).where(GradingMark.attempt_id == attempt_id)
    if slot is not None:
        stmt = stmt.where(GradingMark.slot == slot)
    return uow.scalars(stmt.order_by(GradingMark.created_at, GradingMark.id))


def response(
    uow: UnitOfWork, attempt_id: uuid.UUID, slot: int | str, *, lock: bool = False
) -> Response:
    """The response at ``slot``: 404 for a missing attempt or slot (the
    attempt is looked up first, so a missing one answers alike whatever the
    slot), 409 when the attempt is not submitted or the answer needs no human."""
    attempt = _attempt(uow, attempt_id, lock=lock)
    slot = slot_of(slot) if isinstance(slot, str) else slot
    if not 0 <= slot < len(attempt.paper):
        raise NotFound(f"attempt {attempt_id} has no question {slot}")
    if attempt.status != "submitted":
        raise Conflict(
            f"attempt {attempt_id} is {attempt.status}: only submitted answers are marked"
        )
    wanted = needing(uow, attempt)
    question = wanted.get(slot)
    if question is None:
        raise Conflict(
            f"question {slot} of attempt {attempt_id} was scored automatically: "
            "it needs no human mark"
        )
    version = uow.get(QuestionVersion, uuid.UUID(attempt.paper[slot]["version_id"]))
    exam = uow.scalar(
        select(ExamVersion).where(
            ExamVersion.exam_id == attempt.exam_id, ExamVersion.version == attempt.exam_version
        )
    )
    assert exam is not None  # an attempt's version is kept (foreign key)
    return Response(
        attempt=attempt,
        slot=slot,
        question=question,
        wanted=wanted,
        body=b.parse_body(version.body),
        worth=Decimal(question["max"]),
        rules=Rules.of(exam.settings),
        marks=marks_of(uow, attempt_id, slot),
    )


def _problem(detail: str, *location: str | int) -> Invalid:
    field = ["body", *(str(p) for p in location)]
    return Invalid(detail, errors=[{"location": field, "message": detail}])


def _scored(found: Response, mark: MarkIn) -> tuple[list[dict[str, Any]], Decimal]:
    """The stored per-criterion marks and the total, checked against the
    frozen question: essays by rubric level, short text by points."""
    body = found.body
    if isinstance(body, b.Essay):
        if mark.points is not None:
            raise _problem("an essay is marked by rubric levels, not points", "points")
        given = {c.criterion: (i, c) for i, c in enumerate(mark.criteria)}
        if len(given) != len(mark.criteria):
            raise _problem("each rubric criterion is marked once", "criteria")
        names = [c.name for c in body.rubric]
        for i, c in enumerate(mark.criteria):
            if c.criterion not in names:
                raise _problem(
                    f"the rubric has no criterion {c.criterion!r}; it has {', '.join(names)}",
                    "criteria",
                    i,
                    "criterion",
                )
        rows: list[dict[str, Any]] = []
        raw = Decimal(0)
        for criterion in body.rubric:
            if criterion.name not in given:
                raise _problem(f"choose a level for {criterion.name!r}", "criteria")
            i, chosen = given[criterion.name]
            level = next((lv for lv in criterion.levels if lv.label == chosen.level), None)
            if level is None:
                labels = ", ".join(lv.label for lv in criterion.levels)
                raise _problem(
                    f"{criterion.name!r} has no level {chosen.level!r}; choose one of {labels}",
                    "criteria",
                    i,
                    "level",
                )
            points = Decimal(str(level.points)).quantize(CENT)
            raw += points
            rows.append(
                {
                    "criterion": criterion.name,
                    "level": level.label,
                    "points": str(points),
                    "comment": chosen.comment.strip(),
                }
            )
        # The rubric's best levels add up to the question's points; a scaled
        # section makes the question worth its share, so the levels scale too.
        top = Decimal(str(body.rubric_points()))
        total = raw if top == found.worth or top <= 0 else raw * found.worth / top
        return rows, min(total.quantize(CENT, rounding=ROUND_HALF_UP), found.worth)
    if mark.criteria:
        raise _problem("this answer is marked with points and a comment, not rubric levels",
                       "criteria")  # fmt: skip
    if mark.points is None:
        raise _problem("give the points for this answer", "points")
    if mark.points > found.worth:
        raise _problem(f"the question is worth {found.worth} points on this paper", "points")
    total = mark.points.quantize(CENT)
    row = {"criterion": None, "level": None, "points": str(total), "comment": mark.comment.strip()}
    return [row], total


def _grader(uow: UnitOfWork) -> uuid.UUID:
    if uow.actor.kind != "user":
        raise Forbidden("marks are given by a signed-in person")
    return uuid.UUID(uow.actor.id)


def _write(
    uow: UnitOfWork,
    found: Response,
    kind: str,
    marks: list[dict[str, Any]],
    total: Decimal,
    reason: str | None = None,
    ai: tuple[uuid.UUID | None, str | None] = (None, None),
) -> GradingMark:
    row = GradingMark(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=found.attempt.id,
        slot=found.slot,
        kind=kind,
        grader_id=_grader(uow),
        marks=marks,
        total=total,
        max_points=found.worth,
        reason=reason,
        ai_suggestion_id=ai[0],
        ai_influence=ai[1],
        created_at=datetime.now(UTC),
    )
    uow.add(row)
    uow.flush()
    settled = state_of(found.rules, found.worth, [*found.marks, row])
    payload: dict[str, Any] = {
        "attempt": found.attempt.id,
        "slot": found.slot,
        "question": found.question["question_id"],
        "kind": kind,
        "total": str(total),
        "max": str(found.worth),
        "state": settled.status,
    }
    # A moderation's or regrade's reason stays in the row the anchor covers,
    # not in the log: staff's words about a person go with that person's
    # identity under the retention policy (ADR 0063); the log forgets nothing.
    if ai[0] is not None:  # a suggestion was shown: what the grader made of it
        payload["ai_suggestion"], payload["ai_influence"] = ai
    payload["anchor"] = anchor("mark", records.mark(uow, row.id).sha256)
    audit.record(uow, ACTIONS[kind], row, payload)
    return row


def submit_mark(
    uow: UnitOfWork, attempt_id: uuid.UUID, slot: int | str, mark: MarkIn
) -> GradingMark:
    """A first mark, or (double marking) the second, independent one: the
    grader's own, also when an AI suggestion was shown to them (the mark
    records which, and whether its levels were taken, edited or ignored)."""
    found = response(uow, attempt_id, slot, lock=True)
    grader = _grader(uow)
    if any(m.grader_id == grader and m.kind in MARKED for m in found.marks):
        raise Conflict("you have already marked this answer; a moderator can regrade it")
    status = found.state.status
    if status == "unmarked":
        kind = "first"
    elif status == "awaiting_second":
        kind = "second"
    elif status == "awaiting_moderation":
        raise Conflict("this answer has two marks too far apart: it awaits a moderator")
    else:
        raise Conflict("this answer is already marked; a moderator can regrade it")
    rows, total = _scored(found, mark)
    shown = suggestions.latest(uow, found.attempt.id, found.slot, grader)
    ai = suggestions.influence(shown, rows, mark.used_suggestion)
    written = _write(uow, found, kind, rows, total, ai=ai)
    if state_of(found.rules, found.worth, [*found.marks, written]).final is not None:
        _issue(uow, found.attempt, found.wanted, found.rules)
    return written


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise _problem("say why: the reason goes into the audit log", "reason")
    return reason


def moderate(
    uow: UnitOfWork, attempt_id: uuid.UUID, slot: int | str, decision: ModerationIn
) -> GradingMark:
    """The moderator's final points between two marks too far apart."""
    found = response(uow, attempt_id, slot, lock=True)
    if found.state.status != "awaiting_moderation":
        raise Conflict("only an answer whose two marks are too far apart awaits moderation")
    if any(m.grader_id == _grader(uow) for m in found.marks):
        raise Conflict("you marked this answer yourself; another moderator decides")
    if decision.total > found.worth:
        raise _problem(f"the question is worth {found.worth} points on this paper", "total")
    reason = _reason(decision.reason)
    written = _write(uow, found, "moderation", [], decision.total.quantize(CENT), reason)
    _issue(uow, found.attempt, found.wanted, found.rules)
    return written


def regrade(
    uow: UnitOfWork, attempt_id: uuid.UUID, slot: int | str, mark: RegradeIn
) -> GradingMark:
    """A new final mark for an answer already marked (also after release)."""
    found = response(uow, attempt_id, slot, lock=True)
    if found.state.status != "final":
        raise Conflict("only an answer with a final mark is regraded; mark or moderate it first")
    reason = _reason(mark.reason)
    rows, total = _scored(found, mark)
    written = _write(uow, found, "regrade", rows, total, reason)
    _issue(uow, found.attempt, found.wanted, found.rules, reason)
    return written


def issue_revision(
    uow: UnitOfWork, attempt: Attempt, reason: str | None = None
) -> AttemptResult | None:
    """The next result revision, when every response of ``attempt`` has a
    final mark (None while one still waits). ``reason``: a regrade's. The
    one function that issues a graded revision: whatever must follow a new
    result (releasing it) hooks in here."""
    exam = uow.scalar(
        select(ExamVersion).where(
            ExamVersion.exam_id == attempt.exam_id, ExamVersion.version == attempt.exam_version
        )
    )
    assert exam is not None  # an attempt's version is kept (foreign key)
    return _issue(uow, attempt, needing(uow, attempt), Rules.of(exam.settings), reason)


def _issue(
    uow: UnitOfWork,
    attempt: Attempt,
    wanted: dict[int, dict[str, Any]],
    rules: Rules,
    reason: str | None = None,
) -> AttemptResult | None:
    if not wanted:
        return None
    by_slot: dict[int, list[GradingMark]] = {}
    for m in marks_of(uow, attempt.id):
        by_slot.setdefault(m.slot, []).append(m)
    finals: dict[int, Decimal] = {}
    rests_on: list[uuid.UUID] = []
    for slot, question in wanted.items():
        settled = state_of(rules, Decimal(question["max"]), by_slot.get(slot, []))
        if settled.final is None:
            return None
        finals[slot] = settled.final
        rests_on.extend(settled.rests_on)
    result = results.record_graded(uow, attempt, finals, mark_ids=rests_on, reason=reason)
    # Released now if the exam's setting says so, or again if an earlier
    # revision was (a regrade after release).
    release.on_result(uow, attempt, result)
    graded.issued(uow, attempt, result)  # e.g. certification evaluates the holder
    return result


def visible_marks(
    found: Response, viewer: uuid.UUID | None, *, moderator: bool
) -> list[GradingMark]:
    """The marks of a response a viewer may see: with blind grading, a grader
    sees only their own until they have marked it; a moderator sees all once
    the marking is over (awaiting moderation, or final), never while a
    second independent mark is still to be given (they may give it)."""
    if not found.rules.blind:
        return list(found.marks)
    if moderator and found.state.status in ("awaiting_moderation", "final"):
        return list(found.marks)
    mine = [m for m in found.marks if m.grader_id == viewer]
    if any(m.kind in MARKED for m in mine):
        return list(found.marks)
    return mine
