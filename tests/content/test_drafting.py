"""AI question drafting against the local provider server: what is sent,
every proposal through the editor's validators, drafts kept out of exams,
exports and counts, accept and discard recorded, failures leave no draft."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text

from invigil.ai import config
from invigil.ai import service as ai
from invigil.ai.models import AiUsage
from invigil.audit.models import AuditEvent
from invigil.content import banks, drafting, exams, questions, transfer
from invigil.content.models import QuestionDraft, QuestionVersion
from invigil.content.schemas import ExamIn
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.errors import Conflict, Invalid, NotFound
from invigil.ledger import prices
from invigil.ledger import service as ledger
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, ok, rate_limited, raw, slow
from tests.conftest import make_tenant
from tests.content.draft_factories import make_drafts
from tests.content.factories import SAMPLES, make_bank, make_question, sample

AUTHOR = Actor("user", "author-1")
PRICES: dict[str, Any] = {
    "invitation": {"unproctored": 0, "webcam": 0, "screen": 0},
    "attempt": {"unproctored": 0, "webcam": 0, "screen": 0},
    "evidence_gb_month": 0,
    "ai_per_1k_tokens": {"*": 2},
}
GOOD_SC: dict[str, Any] = {"category": "Biology", "tags": ["plants"], "points": 1, "body": {
    "type": "single_choice", "prompt": "What do plants release in photosynthesis?",
    "choices": ["Oxygen", "Nitrogen", "Helium"], "correct": 0}}  # fmt: skip
BAD_SC: dict[str, Any] = {"category": "Biology", "points": 1, "body": {
    "type": "single_choice", "prompt": "Which organelle?", "choices": ["Chloroplast", "Nucleus"],
    "correct": 7}}  # fmt: skip
ESSAY: dict[str, Any] = {"category": "Biology", "body": {"type": "essay", "prompt": "Explain.", "rubric": [
    {"name": "Content", "levels": [{"label": "Poor", "points": 0}, {"label": "Good", "points": 4}]}
]}}  # fmt: skip
GOOD_TF: dict[str, Any] = {"category": "Biology", "points": 2, "body": {
    "type": "true_false", "prompt": "Photosynthesis needs light.", "correct": True}}  # fmt: skip


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.keys_dir / "secrets.key")


def opted_tenant(db: Database, settings: Settings, box: SecretBox, *, drafting_on: bool = True,
                 credits: int = 100) -> uuid.UUID:  # fmt: skip
    tenant = make_tenant(db, settings).id
    now = datetime.now(UTC)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        prices.set_price_list(uow, PRICES, reason="plan", now=now)
        ledger.credit(uow, credits, f"T-{uuid.uuid4().hex[:8]}", now=now)
        config.update(uow, settings, box, enabled=True, rubric_suggestions=not drafting_on,
                      question_drafting=drafting_on)  # fmt: skip
    return tenant


def ask(db: Database, tenant: uuid.UUID, settings: Settings, box: SecretBox, bank: uuid.UUID,
        **more: Any) -> drafting.Drafted:  # fmt: skip
    request = drafting.DraftRequest.model_validate(
        {"topic": "Photosynthesis in green plants", "count": 4,
         "types": ["single_choice", "true_false"], "difficulty": "easy", "language": "en"} | more
    )  # fmt: skip
    return drafting.draft(db, tenant, AUTHOR, settings, box, bank, request)


def _drafts(db: Database, tenant: uuid.UUID) -> list[QuestionDraft]:
    with db.unit_of_work(tenant) as uow:
        rows = uow.scalars(select(QuestionDraft).order_by(QuestionDraft.position))
        uow.session.expunge_all()
        return rows


def _usages(db: Database, tenant: uuid.UUID) -> list[AiUsage]:
    with db.unit_of_work(tenant) as uow:
        rows = uow.scalars(select(AiUsage))
        uow.session.expunge_all()
        return rows


def test_only_the_topic_and_settings_are_sent_and_every_proposal_is_checked(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = opted_tenant(database, configured, box)
    bank = make_bank(database, tenant, "Plants (private bank name)")
    make_question(database, tenant, bank, prompt_marker := "single_choice")  # the bank's own text
    extra = dict(GOOD_SC, body=dict(GOOD_SC["body"], prompt="One too many?"))
    provider.script(ok({"questions": [GOOD_SC, BAD_SC, ESSAY, GOOD_TF, extra]}, prompt=400,
                       completion=600))  # fmt: skip
    done = ask(database, tenant, configured, box, bank)
    assert [d.type for d in done.drafts] == ["single_choice", "true_false"]
    assert [r.number for r in done.rejected] == [2, 3, 5]
    assert "right answer must be one of the 2 choices" in done.rejected[0].problems[0]
    assert "not asked for" in done.rejected[1].problems[0]
    assert "more questions than the 4" in done.rejected[2].problems[0]
    sent = provider.requests[0]
    user = json.loads(sent["messages"][1]["content"])
    assert user == {
        "topic or learning objective": "Photosynthesis in green plants",
        "number of questions": 4,
        "question types (spread the questions among them)": ["single_choice", "true_false"],
        "difficulty": "easy",
        "language": "English (en)",
    }
    everything = json.dumps(sent)
    assert SAMPLES[prompt_marker]["body"]["prompt"] not in everything
    assert "private bank name" not in everything and str(tenant) not in everything
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    (usage,) = _usages(database, tenant)
    assert usage.purpose == "question_draft" and usage.subject_id == bank
    assert usage.cost == 2 and usage.outcome == "ok"
    stored = _drafts(database, tenant)
    assert {d.usage_id for d in stored} == {usage.id} and len(stored) == 2
    assert stored[0].content["difficulty"] == "easy" and stored[0].content["language"] == "en"
    assert stored[1].content["points"] == 2 and stored[0].status == "pending"
    with database.unit_of_work(tenant) as uow:
        actions = uow.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))
    assert actions.count("question_draft.created") == 2 and "question_draft.rejected" in actions


def test_an_essay_is_drafted_with_its_rubric_worth_its_points(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = opted_tenant(database, configured, box)
    bank = make_bank(database, tenant)
    provider.script(ok({"questions": [ESSAY]}))
    done = ask(database, tenant, configured, box, bank, count=1, types=["essay"])
    (d,) = done.drafts
    assert d.content["points"] == 4 and done.rejected == []


def test_drafts_stay_out_of_exams_exports_searches_and_counts(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    bank = make_bank(database, tenant)
    (draft_id,) = make_drafts(database, tenant, bank)
    with database.unit_of_work(tenant) as uow:
        assert banks.question_counts(uow, [bank]) == {}
        assert questions.search(uow, questions.Search(bank_id=bank))[0] == []
        for fmt in ("json", "csv", "qti"):
            out = transfer.export_questions(uow, bank, fmt)  # type: ignore[arg-type,unused-ignore]
            assert SAMPLES["single_choice"]["body"]["prompt"] not in out.text
        with pytest.raises(NotFound):
            questions.require_question(uow, draft_id)
    fixed = {"kind": "fixed", "question_ids": [str(draft_id)]}
    pool = {"kind": "pool", "bank_id": str(bank), "count": 1}
    for n, section in enumerate((fixed, pool)):
        spec = {"slug": f"with-draft-{n}", "title": "E", "sections": [section]}
        with database.unit_of_work(tenant) as uow:
            exam = exams.create_exam(uow, ExamIn.model_validate(spec))
        with database.unit_of_work(tenant) as uow, pytest.raises((Invalid, Conflict)) as exc:
            exams.publish_exam(uow, exam.id)  # a draft is no question: none is found
        assert "not found" in exc.value.detail or "question" in exc.value.detail


def test_accept_saves_a_question_version_with_its_provenance(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    bank = make_bank(database, tenant)
    first, second = make_drafts(database, tenant, bank, ("single_choice", "true_false"))
    reviewer = Actor("user", "reviewer-7")
    edited = sample("single_choice", category="Reviewed")
    with database.unit_of_work(tenant, reviewer) as uow:
        made = drafting.accept(uow, first, edited)
    with database.unit_of_work(tenant, reviewer) as uow:
        v = uow.get(QuestionVersion, made.version.id)
        assert v.drafted_from == first and v.created_by == "user:reviewer-7"
        assert v.category == "Reviewed" and v.version == 1
        d = uow.get(QuestionDraft, first)
        assert (d.status, d.question_id, d.decided_by) == ("accepted", made.question.id,
                                                           "user:reviewer-7")  # fmt: skip
        assert banks.question_counts(uow, [bank]) == {bank: 1}
        events = {e.action: e.payload for e in uow.scalars(select(AuditEvent))}
        assert events["question.created"]["drafted_from"] == str(first)
        assert events["question_draft.accepted"]["edited"] is True
        with pytest.raises(Conflict):
            drafting.accept(uow, first)
        with pytest.raises(Invalid):  # a draft keeps its type
            drafting.accept(uow, second, sample("single_choice"))


def test_discard_is_recorded_and_a_decided_draft_never_changes(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    (draft_id,) = make_drafts(database, tenant)
    with database.unit_of_work(tenant, AUTHOR) as uow:
        drafting.discard(uow, draft_id)
    with database.unit_of_work(tenant) as uow:
        d = uow.get(QuestionDraft, draft_id)
        assert d.status == "discarded" and d.decided_by == "user:author-1"
        actions = uow.scalars(select(AuditEvent.action))
        assert "question_draft.discarded" in actions
        with pytest.raises(Conflict):
            drafting.discard(uow, draft_id)
    for sql in ("UPDATE question_drafts SET status = 'pending', decided_at = NULL, "
                "decided_by = NULL", "DELETE FROM question_drafts"):  # fmt: skip
        with database.unit_of_work(tenant) as uow, pytest.raises(sqlalchemy.exc.DBAPIError):
            uow.session.execute(text(sql))
    (pending,) = make_drafts(database, tenant)
    with database.unit_of_work(tenant) as uow, pytest.raises(sqlalchemy.exc.DBAPIError):
        uow.session.execute(
            text("UPDATE question_drafts SET content = '{}' WHERE id = :i"), {"i": pending}
        )


@pytest.mark.parametrize(
    ("behaviour", "error", "outcome"),
    [
        (slow(3.5), ai.AiTimeout, "timeout"),
        (rate_limited(9), ai.AiBusy, "rate_limited"),
        (ok("these are not JSON questions"), ai.AiFailed, "malformed"),
        (ok({"questions": []}), ai.AiFailed, "malformed"),
        (raw(b"<html>bad gateway</html>", "text/html"), ai.AiFailed, "malformed"),
    ],
)
def test_a_failed_call_leaves_no_draft_and_one_usage_record(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer,
    behaviour: Any, error: type[Exception], outcome: str,
) -> None:  # fmt: skip
    configured = provider.settings(settings)
    tenant = opted_tenant(database, configured, box)
    bank = make_bank(database, tenant)
    provider.script(behaviour)
    with pytest.raises(error):
        ask(database, tenant, configured, box, bank)
    assert _drafts(database, tenant) == []
    (usage,) = _usages(database, tenant)
    assert usage.outcome == outcome


def test_off_unless_opted_in_to_drafting_and_the_language_is_offered(
    database: Database, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = opted_tenant(database, configured, box, drafting_on=False)
    bank = make_bank(database, tenant)
    with database.unit_of_work(tenant) as uow:
        assert not drafting.available(uow, configured)
    with pytest.raises(ai.AiOff):
        ask(database, tenant, configured, box, bank)
    on = opted_tenant(database, configured, box)
    with database.unit_of_work(on) as uow:
        assert drafting.available(uow, configured)
        assert not drafting.available(uow, settings)  # no provider configured: off
    with pytest.raises(Invalid) as exc:
        ask(database, on, configured, box, make_bank(database, on), language="xx")
    assert exc.value.extensions["field"] == "language"
    with pytest.raises(NotFound):
        ask(database, on, configured, box, make_bank(database, tenant))  # another tenant's
    assert provider.requests == [] and _usages(database, on) == []
    with database.unit_of_work(on) as uow:
        assert uow.scalar(select(func.count()).select_from(QuestionDraft)) == 0
