"""Turn an exam's working copy into the frozen form a version stores.

Fixed sections pin the current version of each question; pool sections
list the current versions of every question that matches (disjoint from the
fixed questions and from earlier pools). A pool that cannot be filled is an
error here, at publish, never at a candidate's start. So is a custom
consent text missing one of the tenant's languages: the complete consent
text is frozen for each of them (:mod:`invigil.content.consent`).

Each entry also carries the language its version is written in and, for
each of the tenant's enabled languages, the words of its translation of
that very version (:mod:`invigil.content.translations`): the exam version
then holds everything a candidate reads, in every language, and its hash
covers it. A language a question has no translation for is simply absent:
candidates reading that language get the question as written (marked with
its language), and the exam page tells staff before they publish.

The exam's own title, description and section titles are frozen the same
way, for each enabled language the author translated them into
(:mod:`invigil.content.exam_text`); a language without them is read as
written, marked with its language.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import and_, func, select

from invigil import i18n
from invigil.audit.canonical import canonical_json
from invigil.content import consent, exam_text, worth
from invigil.content.assemble import DIFFICULTIES
from invigil.content.bodies import option_count, parse_body
from invigil.content.models import Exam, Question, QuestionBank, QuestionVersion
from invigil.content.schemas import describe
from invigil.content.settings import ExamSettings, FixedSection, PoolSection, Section
from invigil.content.translations import entries, for_versions
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.tenants import service as tenants

SECTIONS = TypeAdapter(list[Section])


@dataclass(frozen=True)
class FrozenExam:
    title: str
    description: str
    consent_text: str
    consent_texts: dict[str, str]  # language -> the complete text a candidate agrees to
    settings: dict[str, Any]
    sections: list[dict[str, Any]]
    # The title, description and section titles per other language, and the
    # language of the exam's own words; both only when some translation is
    # frozen, so an exam without any keeps the hash it always had.
    text_translations: dict[str, dict[str, Any]] | None = None
    text_language: str | None = None

    def document(self) -> dict[str, Any]:
        texts = (
            {"text_translations": self.text_translations, "text_language": self.text_language}
            if self.text_translations
            else {}
        )
        return {
            "title": self.title,
            "description": self.description,
            "consent_text": self.consent_text,
            "consent_texts": self.consent_texts,
            "settings": self.settings,
            "sections": self.sections,
            **texts,
        }

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.document())).hexdigest()


def parse_settings(raw: dict[str, Any]) -> ExamSettings:
    try:
        return ExamSettings.model_validate(raw)
    except ValidationError as exc:
        raise Invalid("the settings are not valid: " + "; ".join(describe(exc))) from None


def parse_sections(raw: list[dict[str, Any]]) -> list[FixedSection | PoolSection]:
    try:
        return SECTIONS.validate_python(raw)
    except ValidationError as exc:
        raise Invalid(
            "the sections are not valid: " + "; ".join(describe(exc, "sections."))
        ) from None


def _entry(q: Question, v: QuestionVersion) -> dict[str, Any]:
    return {
        "question_id": str(q.id),
        "version_id": str(v.id),
        "type": q.type,
        "difficulty": v.difficulty,
        "options": option_count(parse_body(v.body)),
        "language": v.language,
    }


def _current() -> Any:
    return select(Question, QuestionVersion).join(
        QuestionVersion,
        and_(
            QuestionVersion.tenant_id == Question.tenant_id,
            QuestionVersion.question_id == Question.id,
            QuestionVersion.version == Question.current_version,
        ),
    )


def freeze(uow: UnitOfWork, exam: Exam) -> FrozenExam:
    settings = parse_settings(exam.settings)
    sections = parse_sections(exam.sections)
    if not sections:
        raise Invalid("add at least one section with questions before publishing")
    used: set[uuid.UUID] = {
        qid for s in sections if isinstance(s, FixedSection) for qid in s.question_ids
    }
    out: list[dict[str, Any]] = []
    for n, s in enumerate(sections, start=1):
        head = {"kind": s.kind, "title": s.title, "time_limit_minutes": s.time_limit_minutes}
        if isinstance(s, FixedSection):
            out.append(head | {"questions": _fixed(uow, n, s)})
        else:
            pool = _pool(uow, n, s, used)
            used |= {uuid.UUID(e["question_id"]) for e in pool}
            draw: dict[str, Any] = {"count": s.count, "difficulty_mix": s.difficulty_mix}
            if s.scale_to_points is not None:  # absent otherwise: earlier hashes stay the same
                draw["scale_to_points"] = str(s.scale_to_points)
            out.append(head | draw | {"pool": pool})
    frozen_settings = settings.model_dump(mode="json")
    _translate(uow, out)
    languages, default = tenant_languages(uow)
    texts = exam_text.frozen(exam.text_translations or {}, languages, len(out))
    return FrozenExam(
        title=exam.title,
        description=exam.description,
        consent_text=exam.consent_text,
        consent_texts=_consent_texts(uow, exam, frozen_settings),
        settings=frozen_settings,
        sections=out,
        text_translations=texts or None,
        text_language=default if texts else None,
    )


def tenant_languages(uow: UnitOfWork) -> tuple[list[str], str]:
    """The languages the tenant enables (that Invigil speaks), and the one
    its exams' ``consent_text`` is written in: the tenant's default, else
    the first enabled (as a candidate's language falls back)."""
    languages, default = tenants.languages_of(uow)
    return list(languages), default


def _consent_texts(uow: UnitOfWork, exam: Exam, settings: dict[str, Any]) -> dict[str, str]:
    """The complete consent text in every language the tenant enables (that
    has a catalog: a text in English words is not frozen under another
    language's name; candidates reading it get the English text, marked so)."""
    languages, default = tenant_languages(uow)
    spoken = [c for c in languages if c == i18n.DEFAULT or i18n.catalog(c) is not None]
    return consent.frozen_texts(
        exam.consent_text, exam.consent_translations or {}, settings, spoken or [default], default
    )


def enabled_languages(uow: UnitOfWork) -> list[str]:
    return tenant_languages(uow)[0]


def _translate(uow: UnitOfWork, sections: list[dict[str, Any]]) -> None:
    """Attach each pinned version's translations for the enabled languages."""
    found = entries(sections)
    words = for_versions(uow, [uuid.UUID(v) for v in found], enabled_languages(uow))
    for version_id, entry in found.items():
        mine = words.get(uuid.UUID(version_id), {})
        entry["translations"] = {
            lang: mine[lang] for lang in sorted(mine) if lang != entry["language"]
        }


def _fixed(uow: UnitOfWork, n: int, s: FixedSection) -> list[dict[str, Any]]:
    rows = {
        q.id: (q, v)
        for q, v in uow.session.execute(_current().where(Question.id.in_(s.question_ids)))
    }
    entries = []
    for qid in s.question_ids:
        if qid not in rows:
            raise Invalid(f"section {n}: question {qid} was not found")
        q, v = rows[qid]
        if q.archived_at is not None:
            raise Invalid(f"section {n}: question {qid} is archived; remove it from the section")
        entries.append(_entry(q, v))
    return entries


def _pool(uow: UnitOfWork, n: int, s: PoolSection, used: set[uuid.UUID]) -> list[dict[str, Any]]:
    stmt = _current().where(Question.archived_at.is_(None))
    if s.bank_id is not None:
        if uow.session.get(QuestionBank, (uow.tenant, s.bank_id)) is None:
            raise Invalid(f"section {n}: question bank {s.bank_id} was not found")
        stmt = stmt.where(Question.bank_id == s.bank_id)
    if s.categories:
        wanted = [c.strip().lower() for c in s.categories]
        stmt = stmt.where(func.lower(QuestionVersion.category).in_(wanted))
    if s.tags:
        stmt = stmt.where(QuestionVersion.tags.overlap([t.strip().lower() for t in s.tags]))
    rows = [(q, v) for q, v in uow.session.execute(stmt) if q.id not in used]
    points = {str(v.id): v.points for _, v in rows}
    entries = sorted((_entry(q, v) for q, v in rows), key=lambda e: e["version_id"])
    if s.difficulty_mix is None:
        if s.draws() > len(entries):
            raise Invalid(
                f"section {n} draws {s.draws()} questions but only {len(entries)} match its "
                "filter; lower the count or widen the filter"
            )
        _equal_worth(n, s, {"": [points[e["version_id"]] for e in entries]})
        return entries
    mix: dict[str, int] = {str(k): v for k, v in s.difficulty_mix.items()}
    entries = [e for e in entries if mix.get(e["difficulty"], 0) > 0]  # only what it can draw
    for level in DIFFICULTIES:
        want = mix.get(level, 0)
        have = sum(1 for e in entries if e["difficulty"] == level)
        if want > have:
            raise Invalid(
                f"section {n} draws {want} {level} questions but only {have} match its filter; "
                "lower the mix or widen the filter"
            )
    by_level: dict[str, list[Any]] = {}
    for e in entries:
        by_level.setdefault(e["difficulty"], []).append(points[e["version_id"]])
    _equal_worth(n, s, by_level)
    return entries


def _equal_worth(n: int, s: PoolSection, points: dict[str, list[Any]]) -> None:
    """Every paper draws a section of equal worth: the questions it draws
    from carry the same points (within each difficulty of a mix, since every
    paper draws the same number of each), or the section is scaled
    (:mod:`invigil.content.worth`)."""
    if s.scale_to_points is not None:
        return
    for level in ("", *DIFFICULTIES):
        found = worth.distinct_points(points.get(level, []))
        if len(found) > 1:
            break
    else:
        return
    what = f"{level} questions" if level else "questions"
    raise Invalid(
        f"section {n}: {what} in this pool are worth {worth.said(found)} points, so "
        "candidates' papers would be worth different totals; give the questions equal "
        "points or scale the section to a fixed number of points",
        field=f"sections[{n - 1}]",
        points=[str(p) for p in found],
    )
