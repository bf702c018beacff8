"""Results of papers drawn from a scaled pool: each drawn question counts for
its share of the section's points, the result carries points, maximum and
percentage, pass/fail compares the percentage with the pass mark, and the
demo's candidates sit papers of equal worth."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from invigil.audit import service
from invigil.content import exams
from invigil.content.demo import seed_content
from invigil.db.uow import Actor
from invigil.delivery import attempts, results
from invigil.delivery.demo import seed_attempts, seed_invitations
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, AttemptResult
from invigil.delivery.records import SOURCES
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import kit_for, make_invitation, published_exam, token_of
from tests.delivery.test_attempts import begun, item


def scaled_exam(db: BoundDatabase, tenant_id: uuid.UUID, pass_mark: float) -> uuid.UUID:
    """A fixed 1-point question, then two drawn of true/false questions worth
    1, 2 and 5 points, the section scaled to 3 (1.50 each): every paper is worth 4."""
    bank = make_bank(db, tenant_id)
    fixed = make_question(db, tenant_id, bank, "single_choice")
    for p in (1, 2, 5):
        make_question(db, tenant_id, bank, "true_false", points=p)
    return published_exam(
        db,
        tenant_id,
        sections=[
            {"kind": "fixed", "question_ids": [str(fixed)]},
            {"kind": "pool", "bank_id": str(bank), "count": 2, "scale_to_points": "3"},
        ],
        settings={
            "shuffle_questions": False,
            "shuffle_options": False,
            "proctoring_preset": "practice",
            "results_release": "immediately",
            "pass_mark_percent": pass_mark,
        },
    )


def sit(app: FastAPI, db: BoundDatabase, settings: Settings, tenant_id: Any, exam: Any,
        answers: list[Any]) -> dict[str, Any]:  # fmt: skip
    made = make_invitation(db, tenant_id, kit_for(settings), exam)
    token = token_of(made)
    client, _ = begun(app, token)
    items = [item(i, a, i + 1) for i, a in enumerate(answers)]
    r = client.post(f"/take/{token}/api/submit", json={"items": items})
    assert r.status_code == 200, r.text
    with db.unit_of_work(tenant_id) as uow:
        attempt = uow.scalar(select(Attempt).where(Attempt.invitation_id == made.invitation.id))
        assert attempt is not None
        found = results.latest_result(uow, attempt.id)
        assert found is not None
        return dict(found.document)


def test_a_scaled_pool_scores_shares_and_passes_on_the_percentage(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = scaled_exam(db, tenant.id, pass_mark=62.5)
    right = sit(app, db, settings, tenant.id, exam, [1, True, True])
    assert (right["awarded"], right["max"], right["percent"]) == ("4.00", "4.00", "100.00")
    drawn = right["questions"][1:]
    assert [q["max"] for q in drawn] == ["1.50", "1.50"]
    assert all(q["question_points"] in ("1.00", "2.00", "5.00") for q in drawn)
    assert right["pass_mark_percent"] == "62.5" and right["passed"] is True

    at_mark = sit(app, db, settings, tenant.id, exam, [1, True, False])
    assert (at_mark["awarded"], at_mark["max"], at_mark["percent"]) == ("2.50", "4.00", "62.50")
    assert at_mark["passed"] is True  # the percentage reaches the pass mark
    below = sit(app, db, settings, tenant.id, exam, [0, True, False])
    assert (below["awarded"], below["percent"], below["passed"]) == ("1.50", "37.50", False)


def test_the_demo_candidates_sit_papers_of_equal_worth(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    kit = kit_for(settings)
    content = seed_content(db, tenant.id)
    seed_invitations(db, tenant.id, tenant.slug, kit)
    seed_attempts(db, tenant.id, tenant.slug, kit)
    with db.unit_of_work(tenant.id) as uow:
        maxima = {r.max_points for r in uow.scalars(select(AttemptResult))}
        assert len(maxima) == 1  # Ada's and Alan's papers are worth the same
        for slug, exam_id in content.exams.items():
            exam = exams.require_exam(uow, exam_id)
            every = exams.every_paper_worth(uow, exams.previewed_sections(uow, exam, 1))
            assert every is not None, slug
        standard = exams.require_exam(uow, content.exams["standard-demo"])
        version = exams.latest_version(uow, standard)
        assert version is not None
        assert exams.every_paper_worth(uow, version.sections) == maxima.pop()


def test_a_result_document_of_before_scaling_still_verifies(
    db: BoundDatabase, settings: Settings, tmp_path: Any
) -> None:
    """The verifier hashes each stored document as it is: a revision written
    without ``question_points`` (as results were before) keeps its anchor."""
    tenant = make_tenant(db, settings)
    exam = scaled_exam(db, tenant.id, pass_mark=50)
    made = make_invitation(db, tenant.id, kit_for(settings), exam)
    with db.unit_of_work(tenant.id, Actor("candidate", "c-1")) as uow:
        version = attempts.version_of(uow, made.invitation.exam_id, made.invitation.exam_version)
        text = consent_text(version)
        invitation = uow.get(type(made.invitation), made.invitation.id)
        attempt = attempts.start(
            uow, kit_for(settings).key, invitation, version, consent_text=text,
            consent_language="en", shown_sha256=attempts.text_sha256(text),
            shown_language="en", browser=attempts.Browser(),
        ).attempt  # fmt: skip
        attempts.begin(uow, attempt, version, invitation)
        attempts.submit(uow, attempt, "candidate")
        old = dict(results.latest_result(uow, attempt.id).document)  # type: ignore[union-attr]
        old["questions"] = [
            {k: v for k, v in q.items() if k != "question_points"} for q in old["questions"]
        ]
        old["revision"] = 2
        results._store(uow, attempt, 2, old)
    with db.unit_of_work(tenant.id, Actor.operator()) as uow:
        report = service.verify_tenant(uow, Keys(tmp_path).audit, SOURCES)
    assert report.records is not None and report.records.first_bad is None, report.records
    assert report.records.records >= 2
    assert Decimal(old["max"]) == Decimal("4.00")
