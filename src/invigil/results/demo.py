"""Demo grading (``invigil demo``): ``essay-demo``, an exam of three
objective questions and two essays with three-criterion rubrics, double
marked with a 10 % tolerance, sat by a cohort of 45 candidates. Forty are
graded through the grading service by the demo's grader and moderator
(``grader@<slug>.test``, ``moderator@<slug>.test``; the tenant admin
moderates where they differ too much), so each has its graded result
revision; five still wait in the queue: unmarked, awaiting a second mark,
awaiting moderation. Idempotent: a tenant that has the exam is left alone.
Seeded in the first demo tenant only (``acme``): it is the dearest part of
the demo (a cohort sitting an exam and being marked twice), and one tenant
shows it all.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from invigil.content import banks, exams, questions
from invigil.content.schemas import ExamIn, QuestionIn
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, invitations
from invigil.delivery.attempts import Item
from invigil.delivery.demo import sit_down
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.identity import service as identity
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn, ModerationIn

EXAM = "essay-demo"
TENANTS = ("acme",)
BANK = "Demo: written answers"
COHORT = 45
GRADED = 40
# Cohort members whose two marks lie too far apart: moderated (among the
# graded) and one left awaiting moderation (the last).
DISAGREE = frozenset({6, 23, COHORT - 1})

FIRST = ("Amira", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan")
LAST = ("Adeyemi", "Berg", "Costa", "Dubois", "Eriksen")

RUBRIC: list[dict[str, Any]] = [
    {
        "name": "Argument",
        "levels": [
            {"label": "Missing", "points": 0},
            {"label": "Partial", "points": 2},
            {"label": "Clear", "points": 4},
        ],
    },
    {
        "name": "Evidence",
        "levels": [
            {"label": "None", "points": 0},
            {"label": "Some", "points": 2},
            {"label": "Convincing", "points": 3},
        ],
    },
    {
        "name": "Language",
        "levels": [
            {"label": "Unclear", "points": 0},
            {"label": "Adequate", "points": 1},
            {"label": "Precise", "points": 3},
        ],
    },
]
QUESTIONS: list[dict[str, Any]] = [
    {
        "category": "Practice",
        "points": 1,
        "body": {
            "type": "single_choice",
            "prompt": "Which practice catches a regression before it reaches production?",
            "choices": ["Automated tests in CI", "Longer stand-ups", "More meetings"],
            "correct": 0,
        },
    },
    {
        "category": "Practice",
        "points": 1,
        "body": {
            "type": "true_false",
            "prompt": "A code review is a good place to share knowledge across the team.",
            "correct": True,
        },
    },
    {
        "category": "Practice",
        "points": 2,
        "body": {
            "type": "numeric",
            "prompt": "A service answers 99.9 % of requests. How many of 10,000 fail?",
            "value": 10,
        },
    },
    {
        "category": "Writing",
        "points": 10,
        "body": {
            "type": "essay",
            "prompt": "Argue for or against pair programming in a team of five engineers.",
            "rubric": RUBRIC,
            "max_words": 400,
        },
    },
    {
        "category": "Writing",
        "points": 10,
        "body": {
            "type": "essay",
            "prompt": "Describe how you would review a large pull request you disagree with.",
            "rubric": RUBRIC,
            "max_words": 400,
        },
    },
]
ESSAYS = (
    "I am not sure.",
    "Pairing helps sometimes because two people look at the code.",
    "Pairing spreads knowledge and catches mistakes early, but it costs two people's time; "
    "in a team of five I would pair on risky changes and onboarding, not on routine work.",
    "I would first ask the author what problem the change solves, read the tests, and "
    "comment on the design in one summary before line comments. Where I disagree I would "
    "propose an alternative with evidence, such as a failing case or a benchmark, and "
    "offer to talk it through rather than block the change silently.",
)
# Rubric levels (index per criterion) a grader gives an essay of each quality.
LEVELS: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (1, 0, 1), (1, 1, 1), (2, 2, 2))


def _exam(uow: UnitOfWork) -> uuid.UUID | None:
    """Create and publish the exam; None when it already exists."""
    if exams.find_by_slug(uow, EXAM) is not None:
        return None
    bank = banks.create_bank(uow, name=BANK, description="Essays and a few quick checks.")
    ids = [
        str(questions.create_question(uow, bank.id, QuestionIn.model_validate(q)).question.id)
        for q in QUESTIONS
    ]
    exam = exams.create_exam(
        uow,
        ExamIn.model_validate(
            {
                "slug": EXAM,
                "title": "Engineering judgement (written)",
                "description": "Three quick questions and two short essays.",
                "sections": [{"kind": "fixed", "title": "Written", "question_ids": ids}],
                "settings": {
                    "proctoring_preset": "practice",
                    "shuffle_questions": False,
                    "pass_mark_percent": 60,
                    "double_marking": True,
                    "results_release": "after_grading",
                    "result_feedback": "categories",
                    "marking_tolerance_percent": 10,
                },
            }
        ),
    )
    exams.publish_exam(uow, exam.id)
    return exam.id


def _sit(uow: UnitOfWork, kit: Kit, slug: str, n: int, began: datetime) -> uuid.UUID:
    """Candidate ``n`` invited, sitting the exam and submitting it: quality
    varies with ``n`` (which objective answers are right, which essay)."""
    first, last = FIRST[n % len(FIRST)], LAST[n // len(FIRST)]
    invited = invitations.invite(
        uow,
        kit,
        InviteRequest(
            name=f"{first} {last}",
            email=f"{first}.{last}@candidates.{slug}.test".lower(),
            exam=EXAM,
            valid_hours=30 * 24,
            send_mail=False,
        ),
    )
    invitation = invited.invitation
    uow.actor = Actor("candidate", str(invitation.candidate_id))
    attempt = sit_down(uow, kit, invitation, began)
    quality = n % len(ESSAYS)
    choice = list(attempt.paper[0]["option_order"]).index(0 if n % 3 else 1)
    items = [
        Item(0, choice, 1, time_ms=20_000 + 1_000 * n),
        Item(1, n % 4 != 0, 2, time_ms=15_000),
        Item(2, 10 if n % 5 else 100, 3, time_ms=40_000),
        Item(3, ESSAYS[quality], 4, time_ms=300_000 + 5_000 * n),
        Item(4, ESSAYS[(quality + n // 7) % len(ESSAYS)], 5, time_ms=360_000),
    ]
    attempts.save(uow, attempt, items, now=began + timedelta(minutes=25))
    attempts.submit(uow, attempt, "candidate", now=began + timedelta(minutes=30))
    return attempt.id


def _mark(levels: tuple[int, int, int]) -> MarkIn:
    return MarkIn(
        criteria=[
            CriterionMarkIn(
                criterion=c["name"],
                level=c["levels"][lv]["label"],
                comment="" if lv else "Say more here.",
            )
            for c, lv in zip(RUBRIC, levels, strict=True)
        ]
    )


def _nudge(levels: tuple[int, int, int]) -> tuple[int, int, int]:
    """A second opinion one point away (Language between Unclear and Adequate)."""
    a, e, lang = levels
    return (a, e, 1 - lang) if lang < 2 else levels


def _apart(levels: tuple[int, int, int]) -> tuple[int, int, int]:
    """A second opinion far away: every criterion at the other end."""
    return (0, 0, 0) if sum(levels) > 2 else (2, 2, 2)


def _points(levels: tuple[int, int, int]) -> Decimal:
    return sum(
        (Decimal(str(c["levels"][lv]["points"])) for c, lv in zip(RUBRIC, levels, strict=True)),
        Decimal(0),
    )


def _grade(uow: UnitOfWork, attempt_id: uuid.UUID, n: int, staff: dict[str, str]) -> None:
    """Both essays marked by the grader and the moderator; where they
    disagree beyond tolerance the admin moderates (all but the waiting few)."""
    quality = n % len(ESSAYS)
    for slot, essay in ((3, quality), (4, (quality + n // 7) % len(ESSAYS))):
        levels = LEVELS[essay]
        waiting = n >= GRADED
        if waiting and n < COHORT - 2:
            continue  # unmarked
        uow.actor = Actor("user", staff["grader"])
        grading.submit_mark(uow, attempt_id, slot, _mark(levels))
        if waiting and n == COHORT - 2:
            continue  # awaits the second mark
        apart = n in DISAGREE and slot == 3
        second = _apart(levels) if apart else _nudge(levels) if n % 3 == 1 else levels
        uow.actor = Actor("user", staff["moderator"])
        grading.submit_mark(uow, attempt_id, slot, _mark(second))
        if apart and not waiting:
            uow.actor = Actor("user", staff["admin"])
            total = ((_points(levels) + _points(second)) / 2).quantize(Decimal("0.01"))
            reason = "The argument is stronger than the second mark says; the evidence is thin."
            grading.moderate(uow, attempt_id, slot, ModerationIn(total=total, reason=reason))


def seed_grading(db: Database, tenant_id: uuid.UUID, slug: str, kit: Kit) -> bool:
    """The essay exam, its cohort and their marks; False when already there
    (or in a tenant other than :data:`TENANTS`)."""
    if slug not in TENANTS:
        return False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if _exam(uow) is None:
            return False
        staff = {}
        for role in ("grader", "moderator", "admin"):
            user = identity.find_by_email(uow, f"{role}@{slug}.test")
            if user is None:
                return True  # the exam is there; without its graders nobody marks
            staff[role] = str(user.id)
        start = datetime.now(UTC) - timedelta(days=3)
        for n in range(COHORT):
            attempt_id = _sit(uow, kit, slug, n, start + timedelta(minutes=37 * n))
            _grade(uow, attempt_id, n, staff)
            uow.actor = Actor.operator("demo")
    return True
