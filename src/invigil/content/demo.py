"""Demo content: a question bank and one published exam per proctoring
preset (slugs in docs/proctoring.md). ``seed_content`` is idempotent: what exists is
left alone, a demo exam left as a draft is published."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from invigil.content import banks, drafting, exams, questions, translations
from invigil.content.demo_questions import GERMAN, QUESTIONS
from invigil.content.schemas import ExamIn, QuestionIn
from invigil.content.translations import TranslationIn
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork

BANK = "Demo: software engineering"
CONSENT = (
    "I agree that my webcam, microphone and screen activity are recorded during this exam "
    "and reviewed to confirm the integrity of my result. The recordings are kept only as "
    "long as the exam's retention policy allows."
)
# The same words in every other language Invigil speaks, so a demo
# organisation that enables one and publishes again freezes them too.
CONSENT_TRANSLATIONS = {
    "de": "Ich bin einverstanden, dass Webcam, Mikrofon und Bildschirmaktivität während "
    "dieser Prüfung aufgezeichnet und überprüft werden, um die Integrität meines Ergebnisses "
    "zu bestätigen. Die Aufzeichnungen werden nur so lange aufbewahrt, wie es die "
    "Aufbewahrungsrichtlinie der Prüfung erlaubt.",
    "es": "Acepto que se graben la actividad de mi cámara web, mi micrófono y mi pantalla "
    "durante este examen y que se revisen para confirmar la integridad de mi resultado. Las "
    "grabaciones se conservan solo durante el tiempo que permita la política de conservación "
    "del examen.",
    "fr": "J\u2019accepte que l\u2019activité de ma webcam, de mon micro et de mon écran soit "
    "enregistrée pendant cet examen et vérifiée afin de confirmer l\u2019intégrité de mon "
    "résultat. Les enregistrements ne sont conservés que le temps autorisé par la politique "
    "de conservation de l\u2019examen.",
    "ar": "أوافق على تسجيل نشاط كاميرا الويب والميكروفون والشاشة أثناء هذا الاختبار "
    "ومراجعته للتأكد من نزاهة نتيجتي. لا يُحتفظ بالتسجيلات إلا للمدة التي تسمح بها سياسة "
    "الاحتفاظ الخاصة بالاختبار.",
}


@dataclass
class ContentSeed:
    bank_id: uuid.UUID
    exams: dict[str, uuid.UUID] = field(default_factory=dict)
    created: bool = False


def _ids(uow: UnitOfWork, bank_id: uuid.UUID, *, category: str | None = None,
         type: str | None = None, difficulty: str | None = None) -> list[str]:  # fmt: skip
    rows, _ = questions.search(
        uow,
        questions.Search(bank_id=bank_id, category=category, type=type, difficulty=difficulty),
    )
    return [str(r.question.id) for r in rows]


def _exams(uow: UnitOfWork, bank_id: uuid.UUID) -> list[dict[str, Any]]:
    easy = _ids(uow, bank_id, difficulty="easy")
    essays = _ids(uow, bank_id, type="essay")
    python = _ids(uow, bank_id, category="Python")
    databases = _ids(uow, bank_id, category="Databases")
    return [
        {
            "slug": "practice-demo",
            "title": "Practice: get to know the exam player",
            "description": "A short practice round. Nothing here counts.",
            "settings": {"proctoring_preset": "practice", "attempts_allowed": 5,
                         "time_limit_minutes": 15, "results_release": "immediately"},
            "sections": [{"kind": "fixed", "title": "Warm-up", "question_ids": easy[:6]}],
        },
        {
            "slug": "standard-demo",
            "title": "Backend engineer screening",
            "description": "Two sections. The second draws questions at random from our bank.",
            "settings": {"proctoring_preset": "standard", "time_limit_minutes": 40,
                         "pass_mark_percent": 60, "category_pass_marks": {"Python": 50},
                         "results_release": "after_review"},
            "sections": [
                {"kind": "fixed", "title": "Python", "question_ids": python},
                {"kind": "pool", "title": "General knowledge", "bank_id": str(bank_id),
                 "categories": ["Security", "Networking", "Databases"],
                 "difficulty_mix": {"easy": 2, "medium": 2, "hard": 1},
                 # Its questions carry 1 to 6 points: every paper's five are worth 10.
                 "scale_to_points": "10"},
            ],
        },
        {
            "slug": "strict-demo",
            "title": "Database specialist assessment",
            "description": "Answer in order; you cannot go back to earlier questions.",
            "settings": {"proctoring_preset": "strict", "navigation": "linear",
                         "time_limit_minutes": 30, "pass_mark_percent": 70,
                         "results_release": "after_review"},
            "sections": [
                {"kind": "fixed", "title": "Databases", "question_ids": databases,
                 "time_limit_minutes": 20},
                {"kind": "fixed", "title": "Written answer", "question_ids": essays[:1]},
            ],
        },
        {
            "slug": "high-stakes-demo",
            "title": "Certified secure developer exam",
            "description": "One attempt. Keep your face visible and stay in full screen.",
            "settings": {"proctoring_preset": "high_stakes", "attempts_allowed": 1,
                         "time_limit_minutes": 45, "navigation": "linear", "pass_mark_percent": 75,
                         "category_pass_marks": {"Security": 70}, "results_release": "after_review",
                         "shuffle_options": True,
                         "proctoring_overrides": {
                             "face.multiple": {"severity": "critical",
                                               "action": "provisional_fail"},
                             "clipboard.paste": {"severity": "high", "action": "flag"}},
                         "accommodations": {"extra_time_percent": 0}},
            "sections": [
                {"kind": "pool", "title": "Security and networks", "bank_id": str(bank_id),
                 "categories": ["Security", "Networking"], "count": 6,
                 "scale_to_points": "12"},  # its questions carry 1 to 3 points
                {"kind": "fixed", "title": "Written answer", "question_ids": essays[-1:]},
            ],
        },
    ]  # fmt: skip


def seed_content(db: Database, tenant_id: uuid.UUID) -> ContentSeed:
    """Create what is missing; running it twice changes nothing."""
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        bank = banks.find_by_name(uow, BANK)
        created = bank is None
        if bank is None:
            bank = banks.create_bank(
                uow, name=BANK, description="Questions for the demo exams, every type covered."
            )
            for item in QUESTIONS:
                made = questions.create_question(uow, bank.id, QuestionIn.model_validate(item))
                words = GERMAN.get(item["body"]["prompt"])
                if words is not None:
                    german = TranslationIn.model_validate(words)
                    translations.put(uow, made.question.id, "de", german)
            drafting.demo_draft(uow, bank.id, datetime.now(UTC))  # one AI draft to review
        result = ContentSeed(bank_id=bank.id, created=created)
        for spec in _exams(uow, bank.id):
            exam = exams.find_by_slug(uow, spec["slug"])
            if exam is None:
                exam = exams.create_exam(
                    uow,
                    ExamIn.model_validate(
                        spec
                        | {"consent_text": CONSENT, "consent_translations": CONSENT_TRANSLATIONS}
                    ),
                )
                result.created = True
            if exam.status == "draft":
                exams.publish_exam(uow, exam.id)
                result.created = True
            result.exams[exam.slug] = exam.id
        return result
