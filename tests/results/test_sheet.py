"""The documents an attempt's result is recomputed from hold what their
anchors and hashes say: the frozen exam is the very document its content
hash covers, and each mark the very document its audit entry anchors."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from invigil.audit.canonical import canonical_json
from invigil.audit.records import document_sha256
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.results import grading, records, sheet
from invigil.results.schemas import MarkIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted


def test_the_documents_match_their_hashes_and_anchors(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id)
    attempt_id = submitted(db, tenant_a.id, kit_for(settings), exam)
    grader = make_user(db, tenant_a.id, ["grader"])
    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, attempt_id, 2, MarkIn(points=Decimal("0.5"), comment="close"))
    with db.unit_of_work(tenant_a.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        assert attempt is not None
        frozen = sheet.exam_document(uow, attempt)
        answers = sheet.answer_sheet(uow, attempt)
        (mark,) = sheet.marks_document(uow, attempt)
        anchored = records.mark(uow, mark["id"]).sha256
    digest = hashlib.sha256(canonical_json(frozen["frozen"])).hexdigest()
    assert digest == frozen["content_hash"]
    assert document_sha256(mark) == anchored
    assert mark["total"] == "0.50" and mark["slot"] == 2 and mark["kind"] == "first"
    # Only the paper's question versions, each with its scoring keys.
    versions = frozen["question_versions"]
    assert sorted(versions) == sorted(s["version_id"] for s in answers["paper"])
    assert {v["body"]["type"] for v in versions.values()} == {
        "single_choice",
        "essay",
        "short_text",
    }
    assert [a["slot"] for a in answers["answers"]] == [0, 1, 2]
    assert answers["answers"][2]["response"] == "Bonn, I think"
    assert answers["seed"].isdigit() and answers["status"] == "submitted"
    canonical_json(answers)  # plain JSON values throughout
