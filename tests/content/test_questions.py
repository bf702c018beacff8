"""Banks and questions on the real database: versions never change."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from invigil.audit.models import AuditEvent
from invigil.content import banks, questions, transfer
from invigil.content.schemas import QuestionPatchIn
from invigil.errors import Conflict, Invalid, NotFound
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import SAMPLES, make_bank, make_question, sample


def actions(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        return list(uow.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_editing_writes_a_new_version_and_keeps_the_old(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    qid = make_question(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        made = questions.update_question(uow, qid, QuestionPatchIn(points=2, tags=["new"]))
        assert made.question.current_version == 2
        history = questions.history(uow, made.question)
    assert [(v.version, float(v.points), v.tags) for v in history] == [
        (1, 1.0, ["europe", "capitals"]),
        (2, 2.0, ["new"]),
    ]
    assert history[0].body == history[1].body
    assert actions(db, tenant_a)[-2:] == ["question.created", "question.updated"]


def test_the_app_role_cannot_change_or_delete_a_version(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    qid = make_question(db, tenant_a.id)
    for sql in (
        "UPDATE question_versions SET points = 99 WHERE question_id = :q",
        "DELETE FROM question_versions WHERE question_id = :q",
    ):
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            db.unit_of_work(tenant_a.id) as uow,
        ):
            uow.session.execute(text(sql), {"q": qid})


def test_edits_are_checked_like_new_questions(db: BoundDatabase, tenant_a: Tenant) -> None:
    qid = make_question(db, tenant_a.id)
    with db.unit_of_work(tenant_a.id) as uow:
        with pytest.raises(Invalid, match="nothing to change"):
            questions.update_question(uow, qid, QuestionPatchIn())
        with pytest.raises(Invalid, match="nothing to change"):
            questions.update_question(uow, qid, QuestionPatchIn(points=1))
        with pytest.raises(Invalid, match="type cannot change"):
            questions.update_question(uow, qid, QuestionPatchIn(body=SAMPLES["true_false"]["body"]))
        with pytest.raises(Invalid, match="the right answer must be one of"):
            body = SAMPLES["single_choice"]["body"] | {"correct": 9}
            questions.update_question(uow, qid, QuestionPatchIn(body=body))


def test_archived_questions_are_kept_but_frozen(db: BoundDatabase, tenant_a: Tenant) -> None:
    bank = make_bank(db, tenant_a.id)
    qid = make_question(db, tenant_a.id, bank)
    with db.unit_of_work(tenant_a.id) as uow:
        questions.archive_question(uow, qid)
        with pytest.raises(Conflict):
            questions.update_question(uow, qid, QuestionPatchIn(points=5))
        live, _ = questions.search(uow, questions.Search(bank_id=bank))
        everything, _ = questions.search(uow, questions.Search(bank_id=bank, include_archived=True))
    assert live == [] and len(everything) == 1


def test_search_by_text_category_tag_type_with_pages(db: BoundDatabase, tenant_a: Tenant) -> None:
    bank = make_bank(db, tenant_a.id)
    for kind in SAMPLES:
        make_question(db, tenant_a.id, bank, kind)
    with db.unit_of_work(tenant_a.id) as uow:

        def find(**kw: object) -> list[str]:
            rows, _ = questions.search(uow, questions.Search(bank_id=bank, **kw))  # type: ignore[arg-type]
            return sorted(r.question.type for r in rows)

        assert find(text="CAPITAL") == ["matching", "short_text", "single_choice"]
        assert find(category="geography") == ["matching", "short_text", "single_choice"]
        assert find(tag="Chemistry") == ["multiple_choice"]
        assert find(type="essay") == ["essay"]
        assert find(text="100%") == []
        seen, cursor = [], None
        while True:
            rows, cursor = questions.search(
                uow, questions.Search(bank_id=bank), limit=3, cursor=cursor
            )
            seen += [r.question.id for r in rows]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)) == 8


def test_banks_have_unique_names_and_another_tenants_bank_is_missing(
    db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    make_bank(db, tenant_a.id, "Shared name")
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Conflict):
        banks.create_bank(uow, name=" Shared   name ")
    theirs = make_bank(db, tenant_b.id, "Shared name")
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(NotFound):
        banks.require_bank(uow, theirs)


def test_import_is_all_or_nothing(db: BoundDatabase, tenant_a: Tenant) -> None:
    from invigil.content.formats import json as json_format

    bank = make_bank(db, tenant_a.id)
    good = [sample(k) for k in SAMPLES]
    content = json_format.dump(good).replace('"correct": 1', '"correct": 17').encode()
    with db.unit_of_work(tenant_a.id) as uow:
        with pytest.raises(Invalid) as exc:
            transfer.import_questions(uow, bank, "json", content)
        assert exc.value.extensions["problems"][0]["where"].startswith("index ")
        rows, _ = questions.search(uow, questions.Search(bank_id=bank))
        assert rows == []
        made = transfer.import_questions(uow, bank, "json", json_format.dump(good).encode()).made
        assert len(made) == 8
        again = transfer.export_questions(uow, bank, "json")
    assert json_format.parse(again.text).questions == good
    assert actions(db, tenant_a)[-1] == "question.imported"
