"""Exams: draft -> published -> retired.

The exam row is the editable working copy. Publishing freezes it into an
immutable ``exam_versions`` row (settings, sections with the exact question
version ids, a content hash); editing a published exam changes the working
copy only (``has_draft_changes``) until it is published again as version
n+1. Candidates always get a published version.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from invigil import audit, i18n
from invigil.content import consent, exam_text, translations, worth
from invigil.content.assemble import Slot, assemble
from invigil.content.freeze import (
    FrozenExam,
    enabled_languages,
    freeze,
    parse_sections,
    parse_settings,
    tenant_languages,
)
from invigil.content.models import Exam, ExamVersion
from invigil.content.questions import versions_by_id
from invigil.content.schemas import ExamIn, ExamPatchIn
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.pagination import Keyset
from invigil.proctoring.policy import resolve as resolve_policy


def require_exam(uow: UnitOfWork, exam_id: uuid.UUID) -> Exam:
    try:
        return uow.get(Exam, exam_id)
    except NotFound:
        raise NotFound(f"exam {exam_id} was not found") from None


def find_by_slug(uow: UnitOfWork, slug: str) -> Exam | None:
    return uow.scalar(select(Exam).where(Exam.slug == slug))


def _author(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:80]


def create_exam(uow: UnitOfWork, data: ExamIn) -> Exam:
    if find_by_slug(uow, data.slug) is not None:
        raise Conflict(f"an exam with the slug {data.slug!r} already exists; choose another")
    exam = Exam(
        tenant_id=uow.tenant,
        slug=data.slug,
        title=data.title.strip(),
        description=data.description,
        consent_text=data.consent_text,
        consent_translations=_translations(uow, data.consent_translations),
        text_translations=_texts(uow, data.text_translations, len(data.sections)),
        settings=data.settings.model_dump(mode="json"),
        sections=[s.model_dump(mode="json") for s in data.sections],
        status="draft",
        has_draft_changes=True,
    )
    uow.add(exam)
    uow.flush()
    audit.record(uow, "exam.created", exam, {"slug": exam.slug})
    return exam


def update_exam(uow: UnitOfWork, exam_id: uuid.UUID, patch: ExamPatchIn) -> Exam:
    exam = require_exam(uow, exam_id)
    if exam.status == "retired":
        raise Conflict("this exam is retired; it can no longer be changed")
    given = patch.model_dump(exclude_unset=True, exclude_none=True)
    if not given:
        raise Invalid("nothing to change: give at least one field")
    if "slug" in given and given["slug"] != exam.slug:
        if find_by_slug(uow, given["slug"]) is not None:
            raise Conflict(f"an exam with the slug {given['slug']!r} already exists")
        exam.slug = given["slug"]
    if "title" in given:
        exam.title = given["title"].strip()
    if "description" in given:
        exam.description = given["description"]
    if "consent_text" in given:
        exam.consent_text = given["consent_text"]
    if "consent_translations" in given:
        exam.consent_translations = _translations(uow, given["consent_translations"])
    if "settings" in given:
        exam.settings = parse_settings(given["settings"]).model_dump(mode="json")
    if "sections" in given:
        exam.sections = [s.model_dump(mode="json") for s in parse_sections(given["sections"])]
    if "text_translations" in given:  # after the sections: one title for each of them
        exam.text_translations = _texts(uow, given["text_translations"], len(exam.sections))
    exam.has_draft_changes = True
    exam.updated_at = datetime.now(UTC)
    uow.flush()
    audit.record(uow, "exam.updated", exam, {"changed": sorted(given)})
    return exam


def _translations(uow: UnitOfWork, raw: dict[str, str]) -> dict[str, str]:
    return consent.check_translations(raw, tenant_languages(uow)[1])


def _texts(uow: UnitOfWork, raw: dict[str, Any], sections: int) -> dict[str, Any]:
    return exam_text.check_translations(raw, tenant_languages(uow)[1], sections)


def latest_version(uow: UnitOfWork, exam: Exam) -> ExamVersion | None:
    if exam.published_version is None:
        return None
    return uow.scalar(
        select(ExamVersion).where(
            ExamVersion.exam_id == exam.id, ExamVersion.version == exam.published_version
        )
    )


def publish_exam(uow: UnitOfWork, exam_id: uuid.UUID) -> ExamVersion:
    exam = require_exam(uow, exam_id)
    if exam.status == "retired":
        raise Conflict("a retired exam cannot be published again; copy it into a new exam")
    frozen = freeze(uow, exam)
    resolve_policy(frozen.settings)  # a broken proctoring policy stops here, not at a start
    last = latest_version(uow, exam)
    if last is not None and last.content_hash == frozen.content_hash:
        raise Conflict(f"nothing changed since version {last.version}; it is already published")
    number = (exam.published_version or 0) + 1
    version = ExamVersion(
        tenant_id=uow.tenant,
        exam_id=exam.id,
        version=number,
        created_by=_author(uow),
        content_hash=frozen.content_hash,
        **frozen.document(),
    )
    uow.add(version)
    exam.status = "published"
    exam.published_version = number
    exam.has_draft_changes = False
    exam.updated_at = datetime.now(UTC)
    uow.flush()
    audit.record(
        uow,
        "exam.published",
        exam,
        {
            "version": number,
            "version_id": version.id,
            "content_hash": frozen.content_hash,
            "question_versions": sorted(_version_ids(frozen.sections)),
        },
    )
    return version


def differs_from_published(uow: UnitOfWork, exam: Exam) -> bool:
    """Would publishing now make a new version? False when the draft freezes
    to exactly the latest published version (same content hash): publishing
    is then refused, and pages do not offer it. A draft that cannot be frozen
    counts as changed: publishing says what is wrong with it."""
    last = latest_version(uow, exam)
    if last is None:
        return True
    try:
        return freeze(uow, exam).content_hash != last.content_hash
    except (Invalid, Conflict):
        return True


@dataclass(frozen=True)
class Gap:
    """A question that candidates reading some enabled languages would get
    as written, because it has no translation of its pinned version."""

    question_id: uuid.UUID
    prompt: str
    written_in: str
    languages: list[str]

    @property
    def language_names(self) -> str:
        return ", ".join(i18n.display_name(code) for code in self.languages)


def translation_gaps(uow: UnitOfWork, exam: Exam) -> list[Gap]:
    """What publishing the draft now would leave untranslated. A warning,
    never a refusal: such questions are delivered as written (see
    :mod:`invigil.content.translations`)."""
    try:
        frozen = freeze(uow, exam)
    except (Invalid, Conflict):
        return []
    gaps = translations.missing(frozen.sections, enabled_languages(uow))
    if not gaps:
        return []
    found = translations.entries(frozen.sections)
    by_question = {e["question_id"]: e for e in found.values()}
    versions = versions_by_id(uow, [uuid.UUID(by_question[q]["version_id"]) for q in gaps])
    out = []
    for qid, langs in gaps.items():
        v = versions[uuid.UUID(by_question[qid]["version_id"])]
        out.append(Gap(uuid.UUID(qid), str(v.body.get("prompt", "")), v.language, langs))
    return out


def exam_text_gaps(uow: UnitOfWork, exam: Exam) -> list[str]:
    """The enabled languages whose candidates would read the exam's title,
    description and section titles as written if it were published now
    (untranslated, or translated for other sections than it has now). A
    warning, never a refusal (see :mod:`invigil.content.exam_text`)."""
    languages, default = tenant_languages(uow)
    return exam_text.missing(
        exam.text_translations or {}, languages, default, len(exam.sections or [])
    )


def _version_ids(sections: list[dict[str, Any]]) -> set[str]:
    return {e["version_id"] for s in sections for e in s.get("questions", s.get("pool", []))}


def retire_exam(uow: UnitOfWork, exam_id: uuid.UUID) -> Exam:
    exam = require_exam(uow, exam_id)
    if exam.status != "published":
        raise Conflict(f"only a published exam can be retired (this one is {exam.status})")
    exam.status = "retired"
    exam.updated_at = datetime.now(UTC)
    uow.flush()
    audit.record(uow, "exam.retired", exam, {"version": exam.published_version})
    return exam


def versions(uow: UnitOfWork, exam: Exam) -> list[ExamVersion]:
    return uow.scalars(
        select(ExamVersion).where(ExamVersion.exam_id == exam.id).order_by(ExamVersion.version)
    )


def preview(
    uow: UnitOfWork, exam_id: uuid.UUID, seed: int | None
) -> tuple[Exam, int | None, int, list[Slot]]:
    """A paper as a candidate would get it; writes nothing. A draft is frozen
    in memory (so its errors show now); a published or retired exam shows
    its latest published version."""
    exam = require_exam(uow, exam_id)
    seed = secrets.randbelow(2**53) if seed is None else seed
    source: FrozenExam | ExamVersion | None = latest_version(uow, exam)
    if exam.status == "draft" or source is None:
        source = freeze(uow, exam)
    number = source.version if isinstance(source, ExamVersion) else None
    return exam, number, seed, assemble(source, seed)


def previewed_sections(uow: UnitOfWork, exam: Exam, version: int | None) -> list[dict[str, Any]]:
    """The frozen sections a preview drew from (``version`` as ``preview`` returned it)."""
    source = latest_version(uow, exam) if version is not None else None
    return list(source.sections if source is not None else freeze(uow, exam).sections)


def every_paper_worth(uow: UnitOfWork, sections: list[dict[str, Any]]) -> Decimal | None:
    """What every paper drawn from these frozen sections is worth; None when
    papers can differ (a version published before pools had to be fair)."""
    ids = [uuid.UUID(v) for v in _version_ids(sections)]
    points = {str(k): v.points for k, v in versions_by_id(uow, ids).items()}
    return worth.every_paper(sections, points)


def list_exams(
    uow: UnitOfWork, *, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Exam], str | None]:
    stmt = select(Exam)
    if status:
        stmt = stmt.where(Exam.status == status)
    order = Keyset(Exam.slug, Exam.id, parse=(str, uuid.UUID))
    rows = uow.scalars(order.apply(stmt, cursor, limit))
    return order.page(rows, limit, lambda e: (e.slug, e.id))
