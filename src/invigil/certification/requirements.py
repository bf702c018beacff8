"""Does a holder meet a program version? Pure: no database.

The facts (:mod:`invigil.certification.facts` reads them) are, per exam of
the program, the holder's latest begun attempt (an earlier attempt of a
retake is not considered: the latest counts, as in shortlists) with its
latest result revision and integrity outcome, and the programs the holder
holds live (a certificate in state ``issued``; a suspended one does not
count as a prerequisite).

A requirement on an exam is met when that attempt's result is final
(submitted, scored, nothing awaiting a grader, no review pending), passed,
at least ``min_percent``, and its integrity outcome is accepted: ``clear``
accepts only an attempt never flagged, ``clear_or_cleared`` also one a
reviewer cleared. ``failed`` (a violation upheld) is never accepted. Mode
``all`` needs every exam, ``any`` at least one; every prerequisite must be
held. Each requirement carries the reason it is or is not met, which the
pages show; the basis (the results a certificate would rest on) is every
exam's result under ``all`` and the met exams' under ``any``, in the
program's exam order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from invigil.certification.definition import Definition

ACCEPTED = {"clear": ("clear",), "clear_or_cleared": ("clear", "cleared")}

# Reasons, as codes (the pages word them).
MET = "met"
NO_ATTEMPT = "no_attempt"
NOT_SUBMITTED = "not_submitted"
NO_RESULT = "no_result"
AWAITING_GRADING = "awaiting_grading"
AWAITING_REVIEW = "awaiting_review"
NOT_PASSED = "not_passed"
BELOW_MINIMUM = "below_minimum"
INTEGRITY_FAILED = "integrity_failed"
INTEGRITY_NOT_CLEAR = "integrity_not_clear"
NOT_HELD = "prerequisite_not_held"
REASONS = (MET, NO_ATTEMPT, NOT_SUBMITTED, NO_RESULT, AWAITING_GRADING, AWAITING_REVIEW,
           NOT_PASSED, BELOW_MINIMUM, INTEGRITY_FAILED, INTEGRITY_NOT_CLEAR, NOT_HELD)  # fmt: skip
NOT_FINAL = (NOT_SUBMITTED, NO_RESULT, AWAITING_GRADING, AWAITING_REVIEW)


@dataclass(frozen=True)
class ExamFacts:
    """The holder's latest begun attempt of one exam and its latest result."""

    attempt_id: uuid.UUID
    exam_id: uuid.UUID
    # None when final; else one of NOT_FINAL
    not_final: str | None
    revision: int | None = None
    document_sha256: str | None = None
    percent: Decimal | None = None
    passed: bool | None = None
    integrity: str = "clear"


@dataclass(frozen=True)
class HolderFacts:
    exams: Mapping[uuid.UUID, ExamFacts] = field(default_factory=dict)
    held: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class Check:
    """One requirement: an exam (``kind`` exam) or a prerequisite program."""

    kind: str
    subject: uuid.UUID
    met: bool
    reason: str
    attempt_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Evaluation:
    met: bool
    checks: tuple[Check, ...]
    basis: tuple[dict[str, Any], ...]

    @property
    def final(self) -> bool:
        """No exam requirement waits for a result to become final."""
        return not any(c.reason in NOT_FINAL for c in self.checks)


def basis_entry(f: ExamFacts) -> dict[str, Any]:
    """One result a certificate rests on (the ``certificates.basis`` shape);
    the percentage as a decimal string, exactly as the result says it."""
    return {
        "attempt_id": str(f.attempt_id),
        "exam_id": str(f.exam_id),
        "revision": f.revision,
        "document_sha256": f.document_sha256,
        "percent": None if f.percent is None else str(f.percent),
        "integrity": f.integrity,
    }


def exam_reason(definition: Definition, f: ExamFacts | None) -> str:
    if f is None:
        return NO_ATTEMPT
    if f.not_final is not None:
        return f.not_final
    if f.integrity == "failed":
        return INTEGRITY_FAILED
    if f.integrity not in ACCEPTED[definition.integrity]:
        return INTEGRITY_NOT_CLEAR if f.integrity == "cleared" else AWAITING_REVIEW
    if f.passed is not True:
        return NOT_PASSED
    if definition.min_percent is not None and (
        f.percent is None or f.percent < Decimal(str(definition.min_percent))
    ):
        return BELOW_MINIMUM
    return MET


def evaluate(definition: Definition, facts: HolderFacts) -> Evaluation:
    """Whether ``facts`` meet ``definition``, each requirement with its reason."""
    checks: list[Check] = []
    met_exams: list[ExamFacts] = []
    for exam_id in definition.exam_ids:
        f = facts.exams.get(exam_id)
        reason = exam_reason(definition, f)
        checks.append(Check("exam", exam_id, reason == MET, reason,
                            f.attempt_id if f is not None else None))  # fmt: skip
        if reason == MET and f is not None:
            met_exams.append(f)
    for program_id in definition.prerequisites:
        held = program_id in facts.held
        checks.append(Check("prerequisite", program_id, held, MET if held else NOT_HELD))
    exams_met = [c.met for c in checks if c.kind == "exam"]
    exams_ok = all(exams_met) if definition.mode == "all" else any(exams_met)
    prerequisites_ok = all(c.met for c in checks if c.kind == "prerequisite")
    met = exams_ok and prerequisites_ok
    basis = tuple(basis_entry(f) for f in met_exams) if met else ()
    return Evaluation(met=met, checks=tuple(checks), basis=basis)


def evaluate_recertification(definition: Definition, facts: HolderFacts) -> Evaluation:
    """The recertification route: a final result of the program's
    ``recert_exam_id`` that meets the same bar (passed, minimum, integrity),
    and the prerequisites. Only for a holder whose certificate may be
    renewed (the caller checks that); the basis is that one result."""
    if definition.recert_exam_id is None:
        return Evaluation(met=False, checks=(), basis=())
    f = facts.exams.get(definition.recert_exam_id)
    reason = exam_reason(definition, f)
    checks = [Check("exam", definition.recert_exam_id, reason == MET, reason,
                    f.attempt_id if f is not None else None)]  # fmt: skip
    for program_id in definition.prerequisites:
        held = program_id in facts.held
        checks.append(Check("prerequisite", program_id, held, MET if held else NOT_HELD))
    met = all(c.met for c in checks)
    basis = (basis_entry(f),) if met and f is not None else ()
    return Evaluation(met=met, checks=tuple(checks), basis=basis)
