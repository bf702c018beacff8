"""Requirements against a holder's facts (pure): properties over generated
definitions and facts, and the reasons the pages show."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.certification import requirements as r
from invigil.certification.definition import Definition

EXAMS = [uuid.UUID(int=i + 1) for i in range(4)]
PROGRAMS = [uuid.UUID(int=100 + i) for i in range(3)]
INTEGRITY = ("clear", "cleared", "flagged", "under_review", "failed")


@st.composite
def exam_facts(draw: st.DrawFn, exam_id: uuid.UUID) -> r.ExamFacts | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    integrity = draw(st.sampled_from(INTEGRITY))
    not_final = draw(st.sampled_from([None, None, None, *r.NOT_FINAL]))
    if not_final is None and integrity in ("flagged", "under_review"):
        not_final = r.AWAITING_REVIEW
    percent = draw(st.decimals(min_value=0, max_value=100, places=2))
    return r.ExamFacts(
        attempt_id=uuid.uuid4(), exam_id=exam_id, not_final=not_final, revision=1,
        document_sha256="0" * 64, percent=percent, passed=draw(st.booleans()),
        integrity=integrity,
    )  # fmt: skip


@st.composite
def cases(draw: st.DrawFn) -> tuple[Definition, r.HolderFacts]:
    exams = draw(st.lists(st.sampled_from(EXAMS), min_size=1, max_size=4, unique=True))
    definition = Definition(
        exam_ids=exams,
        mode=draw(st.sampled_from(["all", "any"])),
        min_percent=draw(st.none() | st.integers(0, 100).map(float)),
        integrity=draw(st.sampled_from(["clear", "clear_or_cleared"])),
        prerequisites=draw(st.lists(st.sampled_from(PROGRAMS), max_size=3, unique=True)),
    )
    found = {e: f for e in EXAMS if (f := draw(exam_facts(e))) is not None}
    held = frozenset(draw(st.lists(st.sampled_from(PROGRAMS), max_size=3)))
    return definition, r.HolderFacts(exams=found, held=held)


def _meets(d: Definition, f: r.ExamFacts | None) -> bool:
    """The rule, restated independently of the code under test."""
    if f is None or f.not_final is not None or f.passed is not True:
        return False
    if f.integrity not in (("clear",) if d.integrity == "clear" else ("clear", "cleared")):
        return False
    return d.min_percent is None or (f.percent is not None and f.percent >= Decimal(d.min_percent))


@settings(max_examples=400, deadline=None)
@given(cases())
def test_met_follows_mode_minimum_integrity_and_prerequisites(
    case: tuple[Definition, r.HolderFacts],
) -> None:
    d, facts = case
    result = r.evaluate(d, facts)
    per_exam = [_meets(d, facts.exams.get(e)) for e in d.exam_ids]
    exams_ok = all(per_exam) if d.mode == "all" else any(per_exam)
    assert result.met == (exams_ok and set(d.prerequisites) <= facts.held)
    # one check per requirement, in order, met exactly when its reason is "met"
    assert [c.subject for c in result.checks] == [*d.exam_ids, *d.prerequisites]
    assert all(c.met == (c.reason == r.MET) for c in result.checks)
    assert all(c.reason in r.REASONS for c in result.checks)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_the_basis_is_the_met_results_in_exam_order(case: tuple[Definition, r.HolderFacts]) -> None:
    d, facts = case
    result = r.evaluate(d, facts)
    if not result.met:
        assert result.basis == ()
        return
    expected = [e for e in d.exam_ids if _meets(d, facts.exams.get(e))]
    assert [uuid.UUID(b["exam_id"]) for b in result.basis] == expected
    for b in result.basis:
        f = facts.exams[uuid.UUID(b["exam_id"])]
        assert b["attempt_id"] == str(f.attempt_id)
        assert b["percent"] == str(f.percent) and b["integrity"] in ("clear", "cleared")
    if d.mode == "all":
        assert len(result.basis) == len(d.exam_ids)


@settings(max_examples=200, deadline=None)
@given(cases(), st.sampled_from(PROGRAMS))
def test_holding_more_never_unmeets(
    case: tuple[Definition, r.HolderFacts], extra: uuid.UUID
) -> None:
    d, facts = case
    more = r.HolderFacts(exams=facts.exams, held=facts.held | {extra})
    assert r.evaluate(d, more).met >= r.evaluate(d, facts).met


def _facts(**kw: object) -> r.ExamFacts:
    base: dict[str, object] = dict(attempt_id=uuid.uuid4(), exam_id=EXAMS[0], not_final=None,
                                   revision=2, document_sha256="a" * 64,
                                   percent=Decimal("75.00"), passed=True, integrity="clear")  # fmt: skip
    return r.ExamFacts(**(base | kw))  # type: ignore[arg-type]


def test_reasons_name_what_is_missing() -> None:
    d = Definition(exam_ids=[EXAMS[0]], min_percent=80, integrity="clear")
    assert r.exam_reason(d, None) == r.NO_ATTEMPT
    assert r.exam_reason(d, _facts(not_final=r.AWAITING_GRADING)) == r.AWAITING_GRADING
    assert r.exam_reason(d, _facts()) == r.BELOW_MINIMUM
    assert r.exam_reason(d, _facts(percent=Decimal("80.00"))) == r.MET
    assert r.exam_reason(d, _facts(percent=Decimal("90"), passed=False)) == r.NOT_PASSED
    assert r.exam_reason(d, _facts(percent=Decimal("90"), integrity="cleared")) == (
        r.INTEGRITY_NOT_CLEAR
    )
    assert r.exam_reason(d, _facts(percent=Decimal("90"), integrity="failed")) == (
        r.INTEGRITY_FAILED
    )
    lenient = Definition(exam_ids=[EXAMS[0]], integrity="clear_or_cleared")
    assert r.exam_reason(lenient, _facts(integrity="cleared")) == r.MET


def test_prerequisite_not_held_is_its_own_reason() -> None:
    d = Definition(exam_ids=[EXAMS[0]], prerequisites=[PROGRAMS[0]])
    facts = r.HolderFacts(exams={EXAMS[0]: _facts()})
    result = r.evaluate(d, facts)
    assert not result.met and result.checks[-1].reason == r.NOT_HELD
    assert r.evaluate(d, r.HolderFacts(exams=facts.exams, held=frozenset(PROGRAMS[:1]))).met


@settings(max_examples=300, deadline=None)
@given(cases(), st.sampled_from(EXAMS))
def test_the_recertification_route_is_the_recert_exam_alone(
    case: tuple[Definition, r.HolderFacts], recert: uuid.UUID
) -> None:
    d, facts = case
    d = d.model_copy(update={"recert_exam_id": recert})
    result = r.evaluate_recertification(d, facts)
    f = facts.exams.get(recert)
    assert result.met == (_meets(d, f) and set(d.prerequisites) <= facts.held)
    if result.met:
        assert f is not None and [b["attempt_id"] for b in result.basis] == [str(f.attempt_id)]
    else:
        assert result.basis == ()
    no_exam = d.model_copy(update={"recert_exam_id": None})
    assert not r.evaluate_recertification(no_exam, facts).met
