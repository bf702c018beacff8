"""Exams: draft -> published -> retired, frozen versions, pools, preview."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import ProgrammingError

from invigil.audit.models import AuditEvent
from invigil.content import exams, questions
from invigil.content.models import ExamVersion
from invigil.content.schemas import ExamIn, ExamPatchIn, QuestionPatchIn
from invigil.errors import Conflict, Invalid
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import SAMPLES, make_bank, make_exam, make_question


def last_event(db: BoundDatabase, tenant: Tenant) -> AuditEvent:
    with db.unit_of_work(tenant.id) as uow:
        ev = uow.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert ev is not None
        return ev


def pool_bank(db: BoundDatabase, tenant: Tenant) -> uuid.UUID:
    """Eight questions, one per type, difficulties as in SAMPLES."""
    bank = make_bank(db, tenant.id)
    for kind in SAMPLES:
        make_question(db, tenant.id, bank, kind)
    return bank


def test_publish_pins_versions_and_is_audited(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    exam_id = make_exam(db, tenant_a.id, [{"kind": "fixed", "question_ids": [str(qid)]}])
    with db.unit_of_work(tenant_a.id) as uow:
        v1 = exams.publish_exam(uow, exam_id)
        pinned = v1.sections[0]["questions"][0]["version_id"]
        assert pinned == str(questions.current(uow, questions.require_question(uow, qid)).id)
        questions.update_question(uow, qid, QuestionPatchIn(points=4))
    ev = last_event(db, tenant_a)
    assert ev.action == "question.updated"
    with db.unit_of_work(tenant_a.id) as uow:
        again = uow.get(ExamVersion, v1.id)
        assert again.sections[0]["questions"][0]["version_id"] == pinned  # still the old one
        published = uow.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "exam.published")
            .order_by(AuditEvent.seq.desc())
        )
    assert published is not None
    assert (
        published.payload["version"] == 1 and published.payload["content_hash"] == v1.content_hash
    )
    assert len(v1.content_hash) == 64


def test_republishing_makes_a_new_version_only_when_something_changed(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    exam_id = make_exam(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        v1 = exams.publish_exam(uow, exam_id)
        with pytest.raises(Conflict, match="nothing changed since version 1"):
            exams.publish_exam(uow, exam_id)
        exam = exams.update_exam(uow, exam_id, ExamPatchIn(title="A better title"))
        assert exam.status == "published" and exam.has_draft_changes
        assert exam.published_version == 1
        v2 = exams.publish_exam(uow, exam_id)
        assert (v2.version, v2.title) == (2, "A better title")
        assert v2.content_hash != v1.content_hash
        assert [v.version for v in exams.versions(uow, exam)] == [1, 2]


def test_the_app_role_cannot_change_an_exam_version(db: BoundDatabase, tenant_a: Tenant) -> None:
    exam_id = make_exam(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        exams.publish_exam(uow, exam_id)
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        db.unit_of_work(tenant_a.id) as uow,
    ):
        uow.session.execute(
            text("UPDATE exam_versions SET title = 'x' WHERE exam_id = :e"), {"e": exam_id}
        )


def test_retire(db: BoundDatabase, tenant_a: Tenant) -> None:
    exam_id = make_exam(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        with pytest.raises(Conflict, match="only a published exam"):
            exams.retire_exam(uow, exam_id)
        exams.publish_exam(uow, exam_id)
        assert exams.retire_exam(uow, exam_id).status == "retired"
        with pytest.raises(Conflict):
            exams.update_exam(uow, exam_id, ExamPatchIn(title="x"))
        with pytest.raises(Conflict):
            exams.publish_exam(uow, exam_id)
    ev = last_event(db, tenant_a)
    assert ev.action == "exam.retired" and ev.payload == {"version": 1}


def pool(bank: uuid.UUID, **draw: Any) -> dict[str, Any]:
    return {"kind": "pool", "bank_id": str(bank)} | draw


@pytest.mark.parametrize(
    "draw,message",
    [
        ({"count": 9}, "draws 9 questions but only 8 match"),
        ({"difficulty_mix": {"easy": 3}}, "draws 3 easy questions but only 2 match"),
        ({"count": 2, "tags": ["nothing-has-this"]}, "only 0 match"),
    ],
)
def test_a_pool_that_cannot_be_filled_is_refused_at_publish(
    db: BoundDatabase, tenant_a: Tenant, draw: dict[str, Any], message: str
) -> None:
    exam_id = make_exam(db, tenant_a.id, [pool(pool_bank(db, tenant_a), **draw)])
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Invalid, match=message):
        exams.publish_exam(uow, exam_id)


def test_pools_never_overlap_fixed_sections_or_each_other(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    bank = pool_bank(db, tenant_a)
    with db.unit_of_work(tenant_a.id) as uow:
        rows, _ = questions.search(uow, questions.Search(bank_id=bank, type="essay"))
    essay = str(rows[0].question.id)
    sections = [
        {"kind": "fixed", "question_ids": [essay]},
        pool(bank, categories=["Geography", "Science"], count=2, scale_to_points="4"),
        pool(bank, count=2, scale_to_points="4"),
    ]
    exam_id = make_exam(db, tenant_a.id, sections, settings={"shuffle_questions": True})
    with db.unit_of_work(tenant_a.id) as uow:
        v = exams.publish_exam(uow, exam_id)
        first = {e["question_id"] for e in v.sections[1]["pool"]}
        second = {e["question_id"] for e in v.sections[2]["pool"]}
        assert len(first) == 5 and len(second) == 2  # Maths, History (the essay is fixed)
        assert not first & second and essay not in first | second
        exams.update_exam(
            uow,
            exam_id,
            ExamPatchIn(sections=[*sections[:2], pool(bank, count=3, scale_to_points="3")]),
        )
        with pytest.raises(Invalid, match="section 3 draws 3 questions but only 2"):
            exams.publish_exam(uow, exam_id)


def test_an_archived_question_cannot_be_published(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    exam_id = make_exam(db, tenant_a.id, [{"kind": "fixed", "question_ids": [str(qid)]}])
    with db.unit_of_work(tenant_a.id) as uow:
        questions.archive_question(uow, qid)
        with pytest.raises(Invalid, match="is archived"):
            exams.publish_exam(uow, exam_id)


def test_preview_creates_nothing_and_is_reproducible(db: BoundDatabase, tenant_a: Tenant) -> None:
    bank = pool_bank(db, tenant_a)
    exam_id = make_exam(db, tenant_a.id, [pool(bank, count=4, scale_to_points="8")])

    def counts() -> tuple[int, int]:
        with db.unit_of_work(tenant_a.id) as uow:
            return (
                uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                uow.session.scalar(select(func.count()).select_from(ExamVersion)) or 0,
            )

    before = counts()
    with db.unit_of_work(tenant_a.id) as uow:
        _, version, seed, paper = exams.preview(uow, exam_id, 99)
        _, _, _, again = exams.preview(uow, exam_id, 99)
    assert (version, seed, len(paper)) == (None, 99, 4) and paper == again
    assert counts() == before


def test_settings_are_validated(db: BoundDatabase, tenant_a: Tenant) -> None:
    exam_id = make_exam(db, tenant_a.id)
    bad = [
        (
            {"proctoring_overrides": {"face.none": {"severity": "huge", "action": "log"}}},
            "severity",
        ),
        ({"proctoring_overrides": {"sneeze": {"severity": "low", "action": "log"}}}, "sneeze"),
        ({"opens_at": "2027-01-02T00:00:00Z", "closes_at": "2027-01-01T00:00:00Z"}, "close after"),
        ({"pass_mark_percent": 120}, "pass_mark_percent: must be at most 100"),
        ({"navigation": "sideways"}, "'free' or 'linear'"),
    ]
    with db.unit_of_work(tenant_a.id) as uow:
        for settings, message in bad:
            with pytest.raises(Invalid, match=message):
                exams.update_exam(uow, exam_id, ExamPatchIn(settings=settings))
        with pytest.raises(Invalid, match="either count or difficulty_mix"):
            exams.update_exam(uow, exam_id, ExamPatchIn(sections=[{"kind": "pool"}]))
        other = exams.require_exam(uow, make_exam(db, tenant_a.id))
        with pytest.raises(Conflict, match="slug"):
            exams.update_exam(uow, exam_id, ExamPatchIn(slug=other.slug))
        with pytest.raises(Conflict, match="slug"):
            exams.create_exam(uow, ExamIn(slug=other.slug, title="t"))
