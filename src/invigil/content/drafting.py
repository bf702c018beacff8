"""Questions drafted by an AI provider into a bank, as drafts an author reviews.

A draft is not a question. It lives in ``question_drafts`` (ADR 0056), which
no exam, export or question count reads, so an unreviewed draft can reach
none of them; it becomes a question only when an author saves it, through
the same validation as any question, and that question's first version
names the draft it came from (``drafted_from``: drafted by AI, reviewed by
the version's author).

What leaves for the provider is the author's topic and chosen settings
(number, types, difficulty, language) and the shape of Invigil's question
bodies: never a candidate's data, nor anything else of the tenant's. Every
proposed question is checked with the validators the question editor uses
(``QuestionIn``); one that fails is reported with its problems and not
kept, the others are. The drafts are written in the ``apply`` step of
:func:`invigil.ai.service.ask`, in the transaction of the call's usage
record and charge, and each names that record.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select

from invigil import audit, i18n
from invigil.ai import config
from invigil.ai import service as ai
from invigil.ai.models import AiUsage
from invigil.ai.usage import Subject
from invigil.content import questions
from invigil.content.banks import require_bank
from invigil.content.models import Question, QuestionDraft, QuestionVersion
from invigil.content.schemas import QuestionIn, describe
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants import service as tenants

PURPOSE = "question_draft"
MAX_COUNT = 10
MAX_TOPIC = 1000
# The types a provider may draft: the ones whose answer key a reviewer checks
# at a glance, and essays with their rubric.
DraftType = Literal[
    "single_choice", "multiple_choice", "true_false", "numeric", "short_text", "essay"
]
DRAFT_TYPES: tuple[str, ...] = (
    "single_choice", "multiple_choice", "true_false", "numeric", "short_text", "essay",
)  # fmt: skip
Difficulty = Literal["easy", "medium", "hard"]


class DraftRequest(BaseModel):
    """What an author asks for: all that is sent, with the bodies' shapes."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(
        min_length=3, max_length=MAX_TOPIC, description="the topic or learning objective"
    )
    count: int = Field(default=3, ge=1, le=MAX_COUNT, description="how many questions")
    types: list[DraftType] = Field(
        min_length=1, max_length=len(DRAFT_TYPES), description="the types to draft among"
    )
    difficulty: Difficulty = "medium"
    language: str = Field(
        default="en", max_length=16, description="one of the bank's or the tenant's languages"
    )

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        v = " ".join("".join(c if c.isprintable() else " " for c in v).split())
        if len(v) < 3:
            raise ValueError("say what the questions are about (at least 3 characters)")
        return v

    @field_validator("types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class _Answer(BaseModel):
    """The provider's answer as far as it must hold together: a list of
    proposals (each then checked on its own)."""

    model_config = ConfigDict(extra="ignore")
    questions: list[Any] = Field(min_length=1, max_length=2 * MAX_COUNT)


@dataclass(frozen=True)
class Rejected:
    """A proposed question that failed the checks (counting from 1)."""

    number: int
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "problems": self.problems}


@dataclass(frozen=True)
class Drafted:
    usage: AiUsage
    drafts: list[QuestionDraft]
    rejected: list[Rejected]


# -- whether drafting is offered --------------------------------------------------


def available(uow: UnitOfWork, settings: Settings) -> bool:
    """Opted in to question drafting, with a provider to ask: else nothing of
    it shows (the ask itself checks again, and says why)."""
    chosen = config.choice(uow)
    if not chosen.allows(PURPOSE):
        return False
    return chosen.base_url is not None or bool(settings.ai_base_url and settings.ai_model)


def languages(uow: UnitOfWork, bank_id: uuid.UUID) -> list[str]:
    """The tenant's languages, then those the bank's questions are written in."""
    enabled, default = tenants.languages_of(uow)
    used = uow.session.scalars(
        select(QuestionVersion.language)
        .join(Question, Question.id == QuestionVersion.question_id)
        .where(Question.bank_id == bank_id)
        .distinct()
    )
    return list(dict.fromkeys([default, *enabled, *sorted(used)]))


# -- asking -----------------------------------------------------------------------

_SHAPES = {
    "single_choice": {
        "type": "single_choice", "prompt": "...", "choices": ["...", "...", "...", "..."],
        "correct": 0, "explanation": "...",
    },
    "multiple_choice": {
        "type": "multiple_choice", "prompt": "...", "choices": ["...", "...", "...", "..."],
        "correct": [0, 2], "explanation": "...",
    },
    "true_false": {"type": "true_false", "prompt": "a statement", "correct": True,
                   "explanation": "..."},
    "numeric": {"type": "numeric", "prompt": "...", "value": 42, "tolerance": 0,
                "explanation": "..."},
    "short_text": {"type": "short_text", "prompt": "...", "accepted": ["...", "..."],
                   "explanation": "..."},
    "essay": {
        "type": "essay", "prompt": "...", "max_words": 300,
        "rubric": [{"name": "...", "levels": [{"label": "...", "points": 0},
                                               {"label": "...", "points": 2}]}],
    },
}  # fmt: skip

_RULES = """You draft exam questions for Invigil, an assessment platform.
Answer with one JSON object only: {"questions": [ ... ]}, each item
{"category": "a short category", "tags": ["..."], "points": 1, "body": BODY}
where BODY has exactly the fields of one of these shapes (no other fields):
%(shapes)s
Rules: "correct" counts choices from 0; choices are all different; a
multiple_choice lists every right choice in order; a numeric question has one
right number and a tolerance of 0 or more; short_text lists the accepted
answers; an essay's points are the sum of each rubric criterion's best level,
with 2 to 5 levels per criterion. Write in the language asked for. Each
question must be answerable from the topic alone, with one defensible key."""


def messages(request: DraftRequest) -> list[dict[str, str]]:
    """The whole prompt: the rules and shapes, then the author's topic and settings."""
    shapes = "\n".join(json.dumps(_SHAPES[t], ensure_ascii=False) for t in request.types)
    language = i18n.display_name(request.language) if i18n.normalise(request.language) else ""
    asked = {
        "topic or learning objective": request.topic,
        "number of questions": request.count,
        "question types (spread the questions among them)": request.types,
        "difficulty": request.difficulty,
        "language": f"{language} ({request.language})" if language else request.language,
    }
    return [
        {"role": "system", "content": _RULES % {"shapes": shapes}},
        {"role": "user", "content": json.dumps(asked, ensure_ascii=False, indent=1)},
    ]


def _max_tokens(request: DraftRequest) -> int:
    each = 600 if "essay" in request.types else 350
    return min(ai.MAX_TOKENS, 200 + each * request.count)


def _proposal(item: Any, request: DraftRequest) -> dict[str, Any]:
    """A proposed item as the editor's input: the author's difficulty and language."""
    if not isinstance(item, dict):
        raise Invalid("not a question (an object with category, points and body)")
    body = item.get("body")
    data = {
        "category": item.get("category") or "",
        "tags": item.get("tags") if item.get("tags") is not None else [],
        "difficulty": request.difficulty,
        "points": item.get("points", 1),
        "body": body,
        "language": request.language,
    }
    if isinstance(body, dict) and body.get("type") == "essay" and "points" not in item:
        with contextlib.suppress(KeyError, TypeError, ValueError):  # its rubric's best levels
            data["points"] = sum(
                max(float(lv["points"]) for lv in c["levels"]) for c in body["rubric"]
            )
    if isinstance(body, dict) and body.get("type") not in request.types:
        raise Invalid(f"a {str(body.get('type'))[:40]!r} question, which was not asked for")
    return data


def check(items: list[Any], request: DraftRequest) -> tuple[list[QuestionIn], list[Rejected]]:
    """Each proposal through the editor's validators: the good, and the bad with why."""
    good: list[QuestionIn] = []
    bad: list[Rejected] = []
    for n, item in enumerate(items, start=1):
        if n > request.count:
            bad.append(Rejected(n, [f"more questions than the {request.count} asked for"]))
            continue
        try:
            good.append(QuestionIn.model_validate(_proposal(item, request)))
        except Invalid as exc:
            bad.append(Rejected(n, [exc.detail]))
        except ValidationError as exc:
            bad.append(Rejected(n, describe(exc)[:10]))
    return good, bad


def _author(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:80]


def draft(
    db: Database,
    tenant_id: uuid.UUID,
    actor: Actor,
    settings: Settings,
    box: SecretBox,
    bank_id: uuid.UUID,
    request: DraftRequest,
) -> Drafted:
    """Ask the provider for drafts into ``bank_id`` (see the module docstring).

    Raises what :func:`invigil.ai.service.ask` raises (AI off: 409; credit:
    402; timeout 504, busy 429, unusable answer 502: each call recorded)."""
    with db.unit_of_work(tenant_id, actor) as uow:
        require_bank(uow, bank_id)
        i18n_offered = languages(uow, bank_id)
        if request.language not in i18n_offered:
            raise Invalid(
                f"the language {request.language!r} is neither the bank's nor your "
                f"organisation's; choose one of {', '.join(i18n_offered)}",
                field="language",
            )

    def apply(uow: UnitOfWork, usage: AiUsage, answer: _Answer) -> Drafted:
        good, bad = check(answer.questions, request)
        now = datetime.now(UTC)
        made = []
        for position, data in enumerate(good):
            row = QuestionDraft(
                tenant_id=uow.tenant, id=uuid.uuid4(), created_at=now, bank_id=bank_id,
                usage_id=usage.id, position=position, type=data.body.type,
                content=data.model_dump(mode="json"), created_by=_author(uow),
                status="pending",
            )  # fmt: skip
            uow.add(row)
            made.append(row)
        uow.flush()
        for row in made:
            audit.record(
                uow,
                "question_draft.created",
                ("question_draft", row.id),
                {"bank_id": bank_id, "usage_id": usage.id, "type": row.type},
            )
        if bad:
            audit.record(
                uow,
                "question_draft.rejected",
                ("question_bank", bank_id),
                {"usage_id": usage.id, "numbers": [r.number for r in bad]},
            )
        return Drafted(usage, made, bad)

    answer = ai.ask(
        db, tenant_id, actor, settings, box,
        purpose=PURPOSE, subject=Subject("question_bank", bank_id),
        messages=messages(request), schema=_Answer, apply=apply,
        max_tokens=_max_tokens(request),
    )  # fmt: skip
    return answer.value


# -- reviewing --------------------------------------------------------------------


def require_draft(uow: UnitOfWork, draft_id: uuid.UUID) -> QuestionDraft:
    try:
        return uow.get(QuestionDraft, draft_id)
    except NotFound:
        raise NotFound(f"question draft {draft_id} was not found") from None


def pending(uow: UnitOfWork, bank_id: uuid.UUID) -> list[QuestionDraft]:
    return uow.scalars(
        select(QuestionDraft)
        .where(QuestionDraft.bank_id == bank_id, QuestionDraft.status == "pending")
        .order_by(QuestionDraft.created_at, QuestionDraft.position, QuestionDraft.id)
    )


def pending_count(uow: UnitOfWork, bank_id: uuid.UUID) -> int:
    found = uow.scalar(
        select(func.count())
        .select_from(QuestionDraft)
        .where(QuestionDraft.bank_id == bank_id, QuestionDraft.status == "pending")
    )
    return int(found or 0)


def as_input(d: QuestionDraft) -> QuestionIn:
    return QuestionIn.model_validate(d.content)


def as_version(d: QuestionDraft) -> QuestionVersion:
    """The draft shaped as a version (not stored), to fill the question editor."""
    data = as_input(d)
    return QuestionVersion(
        body=data.body.model_dump(mode="json"), points=Decimal(str(data.points)),
        category=data.category, tags=list(data.tags), difficulty=data.difficulty,
        language=data.language,
    )  # fmt: skip


def _open(uow: UnitOfWork, draft_id: uuid.UUID) -> QuestionDraft:
    d = require_draft(uow, draft_id)
    uow.session.refresh(d, with_for_update=True)  # two reviewers decide in turn
    if d.status != "pending":
        raise Conflict(f"this draft was already {d.status}; nothing was changed")
    return d


def accept(
    uow: UnitOfWork, draft_id: uuid.UUID, reviewed: QuestionIn | None = None
) -> questions.Current:
    """Save the draft, as reviewed by the author (or as drafted), as a question
    of its bank; its version 1 names the draft."""
    d = _open(uow, draft_id)
    data = reviewed or as_input(d)
    if data.body.type != d.type:
        raise Invalid(
            f"this draft is a {d.type} question; its type cannot change", field="body.type"
        )
    made = questions.create_question(uow, d.bank_id, data, drafted_from=d.id)
    d.status, d.question_id = "accepted", made.question.id
    d.decided_at, d.decided_by = datetime.now(UTC), _author(uow)
    uow.flush()
    audit.record(
        uow,
        "question_draft.accepted",
        ("question_draft", d.id),
        {
            "question_id": made.question.id,
            "version_id": made.version.id,
            "usage_id": d.usage_id,
            "edited": data != as_input(d),
        },
    )
    return made


def discard(uow: UnitOfWork, draft_id: uuid.UUID) -> QuestionDraft:
    d = _open(uow, draft_id)
    d.status, d.decided_at, d.decided_by = "discarded", datetime.now(UTC), _author(uow)
    uow.flush()
    audit.record(
        uow, "question_draft.discarded", ("question_draft", d.id), {"usage_id": d.usage_id}
    )
    return d


# -- demo -------------------------------------------------------------------------

DEMO_DRAFT = {
    "category": "Security",
    "tags": ["passwords"],
    "difficulty": "medium",
    "points": 1,
    "language": "en",
    "body": {
        "type": "single_choice",
        "prompt": "Which makes a stored password hardest to recover after a database leak?",
        "choices": [
            "A slow, salted password hash (such as Argon2)",
            "Encrypting it with a key kept in the same database",
            "Base64 encoding",
            "A fast unsalted hash (such as MD5)",
        ],
        "correct": 0,
        "explanation": "A slow, salted hash makes each guess expensive and defeats lookup tables.",
    },
}


def demo_draft(uow: UnitOfWork, bank_id: uuid.UUID, now: datetime) -> QuestionDraft:
    """One draft waiting for review, as a call to a provider would leave it:
    its usage record (and charge, where the tenant is metered) is written by
    the same code as a real call's; the provider it names is the demo's, a
    host that cannot exist (no provider is asked)."""
    import hashlib

    from invigil.ai.provider import Provider, Reply
    from invigil.ai.usage import record

    demo = Provider("https://provider.invalid/v1", "demo-model", "", 30, 0, "platform")
    asked = hashlib.sha256(f"demo-draft-request:{bank_id}".encode()).hexdigest()
    answered = hashlib.sha256(f"demo-draft-response:{bank_id}".encode()).hexdigest()
    usage = record(
        uow, purpose=PURPOSE, subject=Subject("question_bank", bank_id), provider=demo,
        reply=Reply("ok", None, 420, 380, 5200, asked, answered, ""), now=now,
    )  # fmt: skip
    data = QuestionIn.model_validate(DEMO_DRAFT)
    row = QuestionDraft(
        tenant_id=uow.tenant, id=uuid.uuid4(), created_at=now, bank_id=bank_id,
        usage_id=usage.id, position=0, type=data.body.type,
        content=data.model_dump(mode="json"), created_by=_author(uow), status="pending",
    )  # fmt: skip
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        "question_draft.created",
        ("question_draft", row.id),
        {"bank_id": bank_id, "usage_id": usage.id, "type": row.type},
    )
    return row
