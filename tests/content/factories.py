"""Small helpers: one valid question of every type, banks, questions, exams."""

from __future__ import annotations

import uuid
from typing import Any

from invigil.content import banks, exams, questions
from invigil.content.schemas import ExamIn, QuestionIn
from invigil.db.engine import Database
from invigil.tenants.models import Tenant

SAMPLES: dict[str, dict[str, Any]] = {
    "single_choice": {
        "category": "Geography",
        "tags": ["europe", "capitals"],
        "difficulty": "easy",
        "points": 1,
        "body": {
            "type": "single_choice",
            "prompt": "What is the capital of France?",
            "choices": ["Lyon", "Paris", "Marseille", "Nice"],
            "correct": 1,
            "explanation": "Paris has been the capital since 987.",
        },
    },
    "multiple_choice": {
        "category": "Science",
        "tags": ["chemistry"],
        "difficulty": "medium",
        "points": 3,
        "body": {
            "type": "multiple_choice",
            "prompt": "Which of these are noble gases?",
            "choices": ["Helium", "Oxygen", "Neon | Ne", "Nitrogen", "Argon; Ar"],
            "correct": [0, 2, 4],
            "scoring": "proportional",
        },
    },
    "true_false": {
        "category": "Science",
        "tags": [],
        "difficulty": "easy",
        "points": 1,
        "body": {
            "type": "true_false",
            "prompt": "Water boils at 100 C at sea level.",
            "correct": True,
        },
    },
    "numeric": {
        "category": "Maths",
        "tags": ["geometry"],
        "difficulty": "medium",
        "points": 2.5,
        "body": {
            "type": "numeric",
            "prompt": "Give pi to two decimals.",
            "value": 3.14,
            "tolerance": 0.005,
        },
    },
    "short_text": {
        "category": "Geography",
        "tags": ["capitals"],
        "difficulty": "medium",
        "points": 2,
        "body": {
            "type": "short_text",
            "prompt": "Name the capital of Germany.",
            "accepted": ["Berlin", "Berlin, Germany"],
            "case_sensitive": False,
            "pattern": r"berlin(er)?",
        },
    },
    "essay": {
        "category": "Writing",
        "tags": ["essay"],
        "difficulty": "hard",
        "points": 10,
        "body": {
            "type": "essay",
            "prompt": "Argue for or against remote work.",
            "rubric": [
                {
                    "name": "Argument: structure",
                    "levels": [
                        {"label": "Weak", "points": 0},
                        {"label": "Strong = clear", "points": 6},
                    ],
                },
                {
                    "name": "Language",
                    "levels": [
                        {"label": "Poor", "points": 0},
                        {"label": "Good", "points": 2},
                        {"label": "Excellent", "points": 4},
                    ],
                },
            ],
            "max_words": 500,
        },
    },
    "ordering": {
        "category": "History",
        "tags": ["dates"],
        "difficulty": "hard",
        "points": 2,
        "body": {
            "type": "ordering",
            "prompt": "Order these events, earliest first.",
            "items": ["Magna Carta", "French Revolution", "Moon landing"],
        },
    },
    "matching": {
        "category": "Geography",
        "tags": ["capitals"],
        "difficulty": "medium",
        "points": 3,
        "body": {
            "type": "matching",
            "prompt": "Match each country to its capital.",
            "pairs": [
                {"left": "Spain", "right": "Madrid"},
                {"left": "Italy", "right": "Rome"},
                {"left": "Peru", "right": "Lima"},
            ],
        },
    },
}


def sample(kind: str, **changes: Any) -> QuestionIn:
    return QuestionIn.model_validate(SAMPLES[kind] | changes)


def make_bank(db: Database, tenant_id: uuid.UUID, name: str | None = None) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        return banks.create_bank(uow, name=name or f"Bank {uuid.uuid4().hex[:8]}").id


def make_question(
    db: Database,
    tenant_id: uuid.UUID,
    bank_id: uuid.UUID | None = None,
    kind: str = "single_choice",
    **changes: Any,
) -> uuid.UUID:
    bank_id = bank_id or make_bank(db, tenant_id)
    with db.unit_of_work(tenant_id) as uow:
        return questions.create_question(uow, bank_id, sample(kind, **changes)).question.id


def make_exam(
    db: Database, tenant_id: uuid.UUID, sections: list[dict[str, Any]] | None = None, **fields: Any
) -> uuid.UUID:
    if sections is None:
        sections = [{"kind": "fixed", "question_ids": [str(make_question(db, tenant_id))]}]
    data = {
        "slug": f"exam-{uuid.uuid4().hex[:8]}",
        "title": "An exam",
        "sections": sections,
    } | fields
    with db.unit_of_work(tenant_id) as uow:
        return exams.create_exam(uow, ExamIn.model_validate(data)).id


# For tests/identity/test_authorization.py FACTORIES.
def bank_factory(db: Database, tenant: Tenant) -> str:
    return str(make_bank(db, tenant.id))


def question_factory(db: Database, tenant: Tenant) -> str:
    return str(make_question(db, tenant.id))


def exam_factory(db: Database, tenant: Tenant) -> str:
    return str(make_exam(db, tenant.id))
