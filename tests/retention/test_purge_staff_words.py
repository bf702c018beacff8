"""Staff's words about a candidate (review reasons, void notes, grading
comments and reasons, shortlist notes, certificate reasons) go with the
candidate_identity class: at the end of its period under the policy, named
by ``audit verify``; only through the guarded function of migration 0052
(the app role still cannot change those rows); and every page, the API,
the exports and the candidate portal show the removed words as removed,
without failing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt, Candidate
from invigil.results import grading
from invigil.results.schemas import RegradeIn
from invigil.retention import export, purge, receipts, staff_words, verify
from invigil.retention.models import PrivacyRequest, Receipt
from invigil.settings import Settings
from invigil.shortlists.models import StageChange
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.results.factories import graded_exam
from tests.results.helpers import FLAGGING
from tests.retention.journey import ERASED, STAYS, Journey, journey
from tests.retention.test_portal import portal_token
from tests.test_pages_matrix import web_client

REMOVED = "(removed under the retention policy)"
# What the journey's staff wrote (tests/retention/journey.py), in part.
SAID = ("looked away", "explained the fire alarm", "argues well", "is right", "misspelt it",
        "on Monday", "wrong link", "asked to pause", "must sit it again", "phoned",
        "Stopped mailing", "laptop died")  # fmt: skip


@pytest.fixture(autouse=True)
def app_ring(app: FastAPI) -> Iterator[None]:
    saved = dict(receipts._ring)
    receipts.use_ring(app.state.services.keys.audit)
    yield
    receipts._ring.clear()
    receipts._ring.update(saved)


def _words(db: BoundDatabase, tenant_id: uuid.UUID, j: Journey) -> list[str]:
    """Every staff text about the journey's person, as stored."""
    with db.unit_of_work(tenant_id) as uow:
        return [
            str(r[0])
            for r in uow.session.execute(
                text("""
                    SELECT reason FROM review_decisions WHERE attempt_id = :a
                    UNION ALL SELECT note FROM attempt_voids WHERE attempt_id = :v
                    UNION ALL SELECT reason FROM attempt_releases WHERE attempt_id = :v
                    UNION ALL SELECT coalesce(reason, '') FROM grading_marks WHERE attempt_id = :a
                    UNION ALL SELECT c->>'comment' FROM grading_marks,
                        jsonb_array_elements(marks) c WHERE attempt_id = :a
                    UNION ALL SELECT note FROM shortlist_stage_changes WHERE attempt_id = :a
                    UNION ALL SELECT reason FROM certificate_state_changes
                        WHERE certificate_id = :c AND from_state IS NOT NULL
                    UNION ALL SELECT reason FROM cert_pending WHERE holder_id = :p
                """),
                {"a": j.attempt, "v": j.voided, "c": j.certificate, "p": j.candidate},
            )
        ]


def test_the_policy_removes_staff_words_with_the_identity(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    mine = journey(app, client, db, settings, tenant.id, ERASED, exam=exam, certified=True)
    assert any(ERASED.first in w or ERASED.last in w for w in _words(db, tenant.id, mine))
    with db.unit_of_work(tenant.id) as uow:
        submitted = uow.get(Attempt, mine.attempt).submitted_at
    assert submitted is not None

    # Before the identity's period ends (730 days from the last activity),
    # the words stay, whatever else the run purges.
    early = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=400)
    )
    assert "candidate_identity" not in early.subjects
    assert any(ERASED.first in w for w in _words(db, tenant.id, mine))

    run = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=800)
    )
    assert run.problems == [] and run.subjects.get("candidate_identity") == 1, run
    assert [w for w in _words(db, tenant.id, mine) if w] == []
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        row = uow.scalar(select(Receipt).where(Receipt.data_class == "candidate_identity"))
        assert row is not None and row.trigger == "policy"
        assert row.counts["rows"]["review_decisions"] == 2, row.counts
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
        # The objection's note and outcome went too; the request still verifies.
        done = uow.scalar(select(PrivacyRequest).where(PrivacyRequest.kind == "objection"))
        assert done is not None and (done.note, done.outcome) == ("", "")
    assert report.ok, (report.problems, report.records.problems)
    label = f"purged under policy version 0, receipt {row.id}"
    assert any(r.startswith("review_decision ") and label in r
               for r in report.records.purged_records), report.records.purged_records  # fmt: skip

    again = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=801)
    )
    assert "candidate_identity" not in again.subjects

    # Words written after the identity went (or left by a purge before the
    # words were purged at all) are found by the verification and go with
    # the next run, under a receipt of their own.
    moderator = make_user(db, tenant.id, ["tenant_admin"])
    with db.unit_of_work(tenant.id, Actor("user", str(moderator.id))) as uow:
        later = RegradeIn(points=Decimal("1"), reason=f"{ERASED.first} appealed")
        grading.regrade(uow, mine.attempt, 2, later)
    with db.unit_of_work(tenant.id) as uow:
        problems = verify.check(uow, app.state.services.evidence).problems
    assert problems == [
        f"staff's words about candidate {mine.candidate} are still stored (receipt {row.id})"
    ]
    caught = purge.run_tenant(
        db, tenant.id, app.state.services.evidence, now=submitted + timedelta(days=802)
    )
    assert caught.problems == [] and caught.subjects == {"candidate_identity": 1}, caught
    assert [w for w in _words(db, tenant.id, mine) if w] == []
    with db.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        late = uow.get(Receipt, caught.receipts[0])
        assert late.reason == staff_words.REASON and late.counts["rows"] == {
            "attempt_results": 1, "grading_marks": 1,
        }  # fmt: skip
        assert verify.check(uow, app.state.services.evidence).problems == []
        report = audit_service.verify_tenant(uow, app.state.services.keys.audit, _sources())
    assert report.ok, (report.problems, report.records.problems)


def test_the_app_role_cannot_change_staff_words_itself(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    mine = journey(app, client, db, settings, tenant.id, STAYS, exam=exam, certified=False)
    for sql in (
        "UPDATE review_decisions SET reason = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "UPDATE grading_marks SET reason = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "UPDATE shortlist_stage_changes SET note = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "DELETE FROM review_decisions WHERE attempt_id = :a",
    ):
        refused = pytest.raises(DBAPIError, match=r"permission denied|append-only")
        with refused, db.unit_of_work(tenant.id) as uow:
            for stmt in sql.split("; "):
                uow.session.execute(text(stmt), {"a": mine.attempt})
    # The function reaches only the caller's tenant (forced row security).
    with db.unit_of_work(make_tenant(db, settings).id) as uow:
        altered = uow.session.execute(
            text("SELECT * FROM platform_retention_staff_words(:c)"), {"c": mine.candidate}
        ).all()
        assert altered == []
    assert any(STAYS.first in w for w in _words(db, tenant.id, mine))


def test_pages_api_and_exports_show_removed_words_as_removed(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = graded_exam(db, tenant.id, proctoring_policy=FLAGGING)
    mine = journey(app, client, db, settings, tenant.id, ERASED, exam=exam, certified=True)
    # The words alone go (as the identity purge removes them), so that the
    # candidate portal still opens for this test.
    from tests.results.helpers import Sat as PortalSat

    with db.unit_of_work(tenant.id) as uow:
        invitation = uow.get(Attempt, mine.attempt).invitation_id
        removed = staff_words.remove(uow, mine.candidate)
        assert removed.rows == {
            "attempt_releases": 1, "attempt_results": 1, "attempt_voids": 1, "cert_pending": 1,
            "certificate_state_changes": 1, "grading_marks": 3, "privacy_requests": 1,
            "review_decisions": 2, "shortlist_stage_changes": 1,
        }  # fmt: skip
        run_id = uow.scalar(
            select(StageChange.run_id).where(StageChange.attempt_id == mine.attempt)
        )
        objection = uow.scalar(select(PrivacyRequest.id).where(PrivacyRequest.kind == "objection"))
    assert [w for w in _words(db, tenant.id, mine) if w] == []

    staff, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    pages = {
        f"/proctoring/reviews/{mine.attempt}": True,
        f"/grading/{mine.attempt}/2": True,
        f"/attempts/{mine.attempt}/result": True,
        f"/attempts/{mine.attempt}/report.pdf": False,
        f"/delivery/attempts/{mine.voided}": True,
        f"/shortlists/{run_id}": False,
        f"/shortlists/{run_id}/export": False,
        f"/certification/certificates/{mine.certificate}": True,
        f"/certification/certificates/{mine.certificate}/certificate.pdf": False,
        "/certification/approvals": True,
        f"/admin/privacy/requests/{objection}": True,
    }
    for path, says in pages.items():
        page = staff.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:500])
        body = page.text if page.headers["content-type"].startswith("text/") else ""
        for words in SAID:
            assert words not in body, (path, words)
        if says:
            assert REMOVED in body, path

    api = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    review = client.get(f"/api/v1/reviews/{mine.attempt}", headers=api)
    assert review.status_code == 200, review.text
    assert not [w for w in SAID if w in review.text], review.text

    token = portal_token(db, settings, PortalSat(tenant.id, exam, mine.attempt, invitation))
    portal = client.get(f"/my/{token}/attempts/{mine.attempt}")
    assert portal.status_code == 200
    assert portal.text.count(REMOVED) >= 2 and not [w for w in SAID if w in portal.text]

    with db.unit_of_work(tenant.id) as uow:
        row = PrivacyRequest(
            id=uuid.uuid4(), tenant_id=tenant.id, candidate_id=mine.candidate, kind="access",
            channel="email", note="", received_by="test", status="open", receipt_ids=[],
        )  # fmt: skip
        row.received_at = row.due_at = uow.session.execute(text("SELECT current_date")).scalar()
        person = json.loads(b"".join(export._person_json(uow, row, "Org", "now")))
        name = uow.get(Candidate, mine.candidate).name
    assert name == ERASED.name  # the identity itself is the purge's next step
    assert [d["reason"] for d in person["review_decisions"]] == ["", ""]
    assert [v["note"] for v in person["voids"]] == [""]
