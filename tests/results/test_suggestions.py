"""AI-suggested rubric marks against the local provider server: what is sent
(no identity, blind or not), the answer checked against the rubric, each
failure leaving one usage record and no suggestion, the suggestion never a
mark, and the mark recording what the grader made of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from invigil.ai import config
from invigil.ai import service as ai
from invigil.ai.models import AiUsage
from invigil.audit.anchored import verify_records
from invigil.db.uow import Actor
from invigil.errors import Conflict
from invigil.results import grading, suggest, suggestions
from invigil.results.models import GradingMark, RubricSuggestion, RubricSuggestionDiscard
from invigil.results.records import SOURCES
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.ai.provider_server import ProviderServer, ok, rate_limited, slow
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted

ESSAY = 1
SIGNED = (
    "Remote work widens the pool of people a team can hire. Written by Jolanda Vermeer-Ostrova "
    "(jolanda.v@example.org, +31 20 555 0199), candidate number EXT-99812."
)
WHO = {"name": "Jolanda Vermeer-Ostrova", "email": "jv.private@example.org",
       "external_ref": "EXT-99812"}  # fmt: skip
GOOD = {
    "criteria": [
        {"criterion": "Argument: structure", "level": "Strong = clear",
         "rationale": "A clear claim, supported."},
        {"criterion": "Language", "level": "Good", "rationale": "Plain and correct."},
    ],
    "overall_rationale": "A short but sound argument.",
}  # fmt: skip


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.keys_dir / "secrets.key")


class Setup:
    def __init__(
        self, db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer,
        *, opted: bool = True, **exam: Any,
    ) -> None:  # fmt: skip
        self.db, self.box, self.provider = db, box, provider
        self.settings = provider.settings(settings)
        self.tenant: Tenant = make_tenant(db, settings)
        if opted:
            with db.unit_of_work(self.tenant.id) as uow:
                config.update(uow, self.settings, box, enabled=True, rubric_suggestions=True,
                              question_drafting=False)  # fmt: skip
        self.exam = graded_exam(db, self.tenant.id, **exam)
        answers = {0: 1, 1: SIGNED, 2: "Bonn"}
        self.attempt = submitted(db, self.tenant.id, kit_for(settings), self.exam, answers, **WHO)
        self.ann = make_user(db, self.tenant.id, ["grader"])
        self.bob = make_user(db, self.tenant.id, ["grader"])

    def actor(self, user: Any = None) -> Actor:
        return Actor("user", str((user or self.ann).id))

    def suggest(self, user: Any = None) -> RubricSuggestion:
        return suggest.suggest(self.db, self.tenant.id, self.actor(user), self.settings, self.box,
                               self.attempt, ESSAY)  # fmt: skip

    def count(self, model: Any) -> int:
        with self.db.unit_of_work(self.tenant.id) as uow:
            return int(uow.scalar(select(func.count()).select_from(model)) or 0)

    def mark(self, user: Any, structure: str, language: str, used: bool = False) -> GradingMark:
        mark = MarkIn(
            criteria=[CriterionMarkIn(criterion="Argument: structure", level=structure),
                      CriterionMarkIn(criterion="Language", level=language)],
            used_suggestion=used,
        )  # fmt: skip
        with self.db.unit_of_work(self.tenant.id, self.actor(user)) as uow:
            return grading.submit_mark(uow, self.attempt, ESSAY, mark)


def sent(provider: ProviderServer) -> str:
    return json.dumps(provider.requests, ensure_ascii=False)


@pytest.mark.parametrize("blind", [True, False])
def test_the_prompt_holds_the_question_rubric_and_answer_and_no_identity(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer, blind: bool
) -> None:
    s = Setup(db, settings, box, provider, blind_grading=blind)
    provider.script(ok(GOOD, prompt=400, completion=80))
    row = s.suggest()
    body = sent(provider)
    assert "Argue for or against remote work." in body and "Strong = clear" in body
    assert "widens the pool of people" in body
    for secret in ("Jolanda", "Vermeer", "Ostrova", "jolanda.v@", "jv.private", "EXT-99812",
                   "555 0199", str(s.attempt), str(s.exam), str(s.ann.id)):  # fmt: skip
        assert secret.lower() not in body.lower(), secret
    assert row.criteria[0] == {"criterion": "Argument: structure", "level": "Strong = clear",
                               "points": "6.00", "rationale": "A clear claim, supported."}  # fmt: skip
    assert row.total == Decimal("8.00") and row.max_points == Decimal("10.00")
    with db.unit_of_work(s.tenant.id) as uow:
        usage = uow.get(AiUsage, row.usage_id)
        assert (usage.outcome, usage.purpose, usage.subject_id) == (
            "ok", "rubric_suggestion", s.attempt,
        )  # fmt: skip
        assert verify_records(uow, SOURCES).problems == []
    assert s.count(GradingMark) == 0  # a suggestion is never a mark


@pytest.mark.parametrize(
    "answer",
    [
        GOOD | {"criteria": [GOOD["criteria"][0] | {"criterion": "Spelling"}, GOOD["criteria"][1]]},
        GOOD | {"criteria": [GOOD["criteria"][0] | {"level": "Superb"}, GOOD["criteria"][1]]},
        GOOD | {"criteria": [GOOD["criteria"][0]]},  # a criterion missing
        GOOD | {"criteria": [GOOD["criteria"][0], GOOD["criteria"][0]]},  # one twice
        {"marks": 8},
        "not JSON at all",
    ],
    ids=["unknown criterion", "unknown level", "missing", "twice", "other shape", "prose"],
)
def test_an_answer_that_does_not_fit_the_rubric_is_malformed(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer, answer: Any
) -> None:
    s = Setup(db, settings, box, provider)
    provider.script(ok(answer))
    with pytest.raises(ai.AiFailed) as exc:
        s.suggest()
    assert exc.value.status == 502 and "not what was asked for" in exc.value.detail
    with db.unit_of_work(s.tenant.id) as uow:
        assert [u.outcome for u in uow.scalars(select(AiUsage))] == ["malformed"]
    assert s.count(RubricSuggestion) == 0


@pytest.mark.parametrize(
    ("behaviour", "error", "outcome"),
    [(slow(3.5), ai.AiTimeout, "timeout"), (rate_limited(7), ai.AiBusy, "rate_limited")],
)
def test_a_timeout_or_429_leaves_one_usage_record_and_no_suggestion(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer,
    behaviour: Any, error: type[Exception], outcome: str,
) -> None:  # fmt: skip
    s = Setup(db, settings, box, provider)
    provider.script(behaviour)
    with pytest.raises(error):
        s.suggest()
    with db.unit_of_work(s.tenant.id) as uow:
        assert [u.outcome for u in uow.scalars(select(AiUsage))] == [outcome]
    assert s.count(RubricSuggestion) == 0


def test_off_unless_opted_in_and_only_for_an_essay_waiting_for_the_callers_mark(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    off = Setup(db, settings, box, provider, opted=False)
    with pytest.raises(ai.AiOff):
        off.suggest()
    assert provider.requests == [] and off.count(AiUsage) == 0
    s = Setup(db, settings, box, provider)
    with pytest.raises(Conflict, match="rubric"):  # the short text answer (slot 2)
        suggest.suggest(db, s.tenant.id, s.actor(), s.settings, box, s.attempt, 2)
    s.mark(s.ann, "Weak", "Poor")
    with pytest.raises(Conflict, match="not waiting for yours"):
        s.suggest()
    assert provider.requests == []


def test_the_mark_records_whether_the_suggestion_was_taken_edited_or_ignored(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    # Double marking: ann and bob each ask, each marks; a third response is
    # marked with no suggestion shown.
    s = Setup(db, settings, box, provider, double_marking=True, marking_tolerance_percent=100)
    provider.script(ok(GOOD), ok(GOOD))
    mine = s.suggest(s.ann)
    assert s.count(GradingMark) == 0
    taken = s.mark(s.ann, "Strong = clear", "Good", used=True)
    assert (taken.ai_suggestion_id, taken.ai_influence) == (mine.id, "taken")
    theirs = s.suggest(s.bob)
    edited = s.mark(s.bob, "Strong = clear", "Excellent", used=True)
    assert (edited.ai_suggestion_id, edited.ai_influence) == (theirs.id, "edited")
    with db.unit_of_work(s.tenant.id) as uow:
        assert verify_records(uow, SOURCES).problems == []
        entries = uow.driver().cursor().execute(
            "SELECT payload FROM audit_events WHERE action = 'grading.marked' ORDER BY seq"
        ).fetchall()  # fmt: skip
    assert [e[0]["ai_influence"] for e in entries] == ["taken", "edited"]

    other = Setup(db, settings, box, provider)
    provider.script(ok(GOOD))
    row = other.suggest()
    ignored = other.mark(other.ann, "Weak", "Excellent")
    assert (ignored.ai_suggestion_id, ignored.ai_influence) == (row.id, "ignored")

    plain = Setup(db, settings, box, provider)
    none = plain.mark(plain.ann, "Strong = clear", "Good")
    assert (none.ai_suggestion_id, none.ai_influence) == (None, None)


def test_the_answers_purge_empties_the_rationales_and_nothing_else_can(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    """The rationales quote the answer: they go with the answers class
    (platform_retention_suggestion_texts); the suggested points stay."""
    s = Setup(db, settings, box, provider)
    provider.script(ok(GOOD))
    made = s.suggest()
    assert made.overall_rationale and any(c.get("rationale") for c in made.criteria)
    purge_texts = text("SELECT out_id FROM platform_retention_suggestion_texts(:a)")
    with db.unit_of_work(s.tenant.id) as uow:
        with pytest.raises(DBAPIError, match="permission denied"), uow.session.begin_nested():
            uow.session.execute(
                text("UPDATE rubric_suggestions SET overall_rationale = '' WHERE id = :i"),
                {"i": made.id},
            )
        assert uow.session.execute(purge_texts, {"a": s.attempt}).scalars().all() == [str(made.id)]
        assert uow.session.execute(purge_texts, {"a": s.attempt}).scalars().all() == []
        row = uow.session.execute(
            text("SELECT overall_rationale, criteria, total FROM rubric_suggestions WHERE id = :i"),
            {"i": made.id},
        ).one()
    assert row.overall_rationale == "" and all(c.get("rationale") == "" for c in row.criteria)
    assert [c["criterion"] for c in row.criteria] == [c["criterion"] for c in made.criteria]
    assert row.total == made.total


def test_a_discarded_suggestion_is_recorded_and_counts_as_ignored(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    s = Setup(db, settings, box, provider)
    provider.script(ok(GOOD))
    row = s.suggest()
    with db.unit_of_work(s.tenant.id, s.actor(s.bob)) as uow, pytest.raises(Exception) as exc:
        suggestions.discard(uow, s.attempt, ESSAY, row.id)  # not bob's
    assert getattr(exc.value, "status", None) == 404
    with db.unit_of_work(s.tenant.id, s.actor()) as uow:
        suggestions.discard(uow, s.attempt, ESSAY, row.id)
        latest = suggestions.latest(uow, s.attempt, ESSAY, s.ann.id)
        assert latest is not None and latest.discarded
    with db.unit_of_work(s.tenant.id, s.actor()) as uow, pytest.raises(Conflict):
        suggestions.discard(uow, s.attempt, ESSAY, row.id)
    assert s.count(RubricSuggestionDiscard) == 1
    mark = s.mark(s.ann, "Strong = clear", "Excellent", used=True)
    assert mark.ai_influence == "ignored"
    with db.unit_of_work(s.tenant.id) as uow:
        assert verify_records(uow, SOURCES).problems == []


def test_minimised_replaces_the_candidates_identifiers() -> None:
    from invigil.delivery.models import Candidate

    who = Candidate(name="Ana Li", email="ana@x.org", external_ref="HR-1")
    out = suggest.minimised("I am Ana Li (ana@x.org, ref HR-1). Li says: analysis.", who)
    assert out == "I am [redacted] ([email], ref [redacted]). [redacted] says: analysis."


def test_another_tenant_never_sees_a_suggestion(
    db: BoundDatabase, settings: Settings, box: SecretBox, provider: ProviderServer
) -> None:
    s = Setup(db, settings, box, provider)
    provider.script(ok(GOOD))
    row = s.suggest()
    stranger = make_tenant(db, settings)
    with db.unit_of_work(stranger.id, Actor("user", str(uuid.uuid4()))) as uow:
        assert uow.scalar(select(RubricSuggestion).where(RubricSuggestion.id == row.id)) is None
