"""Content API: banks, questions (versions, import/export), exams.

Import takes the file as the raw request body (any content type; UTF-8),
with ``?format=json|csv|qti``: ``curl --data-binary @questions.csv``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from invigil.content import (
    banks,
    drafts_api,
    exams,
    images,
    questions,
    transfer,
    translations,
    views,
)
from invigil.content.questions import Search
from invigil.content.schemas import (
    BankIn,
    BankOut,
    BankPatchIn,
    ExamIn,
    ExamOut,
    ExamPatchIn,
    ExamVersionOut,
    ImportOut,
    ImportProblem,
    PreviewIn,
    PreviewOut,
    QuestionCreateIn,
    QuestionDetailOut,
    QuestionIn,
    QuestionOut,
    QuestionPatchIn,
    TranslationOut,
)
from invigil.content.translations import TranslationIn, TranslationPutIn
from invigil.db.uow import UnitOfWork
from invigil.pagination import Page, PageCursor, PageLimit, check_limit
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1")
QuestionType = Literal[
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "essay",
    "ordering",
    "matching",
]
Format = Literal["json", "csv", "qti"]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]

# -- banks ---------------------------------------------------------------------


@router.get("/banks", response_model=Page[BankOut], tags=["questions"])
def list_banks(uow: UnitOfWork = requires(P.QUESTION_VIEW)) -> Page[BankOut]:
    found = banks.list_banks(uow)
    counts = banks.question_counts(uow, [b.id for b in found])
    return Page[BankOut](items=[views.bank_out(b, counts.get(b.id, 0)) for b in found], next=None)


@router.post("/banks", response_model=BankOut, status_code=201, tags=["questions"])
def create_bank(body: BankIn, uow: UnitOfWork = requires(P.QUESTION_MANAGE)) -> BankOut:
    bank = banks.create_bank(uow, name=body.name, description=body.description)
    return views.bank_out(bank, 0)


@router.get("/banks/{bank_id}", response_model=BankOut, tags=["questions"])
def get_bank(bank_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_VIEW)) -> BankOut:
    bank = banks.require_bank(uow, bank_id)
    return views.bank_out(bank, banks.question_counts(uow, [bank.id]).get(bank.id, 0))


@router.patch("/banks/{bank_id}", response_model=BankOut, tags=["questions"])
def update_bank(
    bank_id: uuid.UUID, body: BankPatchIn, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> BankOut:
    bank = banks.update_bank(uow, bank_id, name=body.name, description=body.description)
    return views.bank_out(bank, banks.question_counts(uow, [bank.id]).get(bank.id, 0))


@router.post(
    "/banks/{bank_id}/import", response_model=ImportOut, status_code=201, tags=["questions"]
)
def import_questions(
    bank_id: uuid.UUID,
    format: Format = "json",
    uow: UnitOfWork = requires(P.QUESTION_MANAGE),
    *,
    content: RawBody,  # after the permission: no body is read for a stranger
) -> ImportOut:
    """Import a whole file (the raw body) or nothing: a refused file answers
    422 with ``problems`` (each with ``where`` and ``message``). Exact
    duplicates of the bank's live questions (or of one earlier in the file)
    are skipped and counted in ``skipped_duplicates``. QTI (an item, an
    Invigil export or a content package): an item Invigil cannot carry
    faithfully is not imported and listed in ``refused`` with the reason;
    the others are."""
    done = transfer.import_questions(uow, bank_id, format, content)
    return ImportOut(
        imported=len(done.made),
        question_ids=[m.question.id for m in done.made],
        skipped_duplicates=done.skipped,
        refused=[ImportProblem(where=w, message=m) for w, m in done.refused],
        notes=[ImportProblem(where=w, message=m) for w, m in done.notes],
    )


@router.get("/banks/{bank_id}/export", tags=["questions"])
def export_questions(
    bank_id: uuid.UUID,
    format: transfer.ExportFormat = "json",
    uow: UnitOfWork = requires(P.QUESTION_VIEW),
) -> Response:
    """The bank's live questions. QTI (one document, or ``qti-package``: an
    IMS content package, one file per item) leaves out types it cannot carry
    and names them in the ``X-Invigil-Skipped`` header."""
    out = transfer.export_questions(uow, bank_id, format)
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    if out.skipped:
        headers["X-Invigil-Skipped"] = ",".join(out.skipped)
    return Response(out.text, media_type=out.media_type, headers=headers)


# -- questions -----------------------------------------------------------------


@router.get("/questions", response_model=Page[QuestionOut], tags=["questions"])
def list_questions(
    bank_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text in prompt")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    type: QuestionType | None = None,
    difficulty: Literal["easy", "medium", "hard"] | None = None,
    include_archived: bool = False,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.QUESTION_VIEW),
) -> Page[QuestionOut]:
    check_limit(limit)
    f = Search(bank_id, q, category, tag, type, difficulty, include_archived)
    rows, nxt = questions.search(uow, f, limit=limit, cursor=cursor)
    return Page[QuestionOut](items=[views.question_out(r) for r in rows], next=nxt)


@router.post("/questions", response_model=QuestionDetailOut, status_code=201, tags=["questions"])
def create_question(
    body: QuestionCreateIn, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> QuestionDetailOut:
    data = QuestionIn.model_validate(body.model_dump(exclude={"bank_id"}))
    made = questions.create_question(uow, body.bank_id, data)
    return views.question_detail(made, [made.version])


@router.get("/questions/{question_id}", response_model=QuestionDetailOut, tags=["questions"])
def get_question(
    question_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_VIEW)
) -> QuestionDetailOut:
    """The current version and every earlier one."""
    q = questions.require_question(uow, question_id)
    cur = questions.Current(q, questions.current(uow, q))
    return views.question_detail(cur, questions.history(uow, q))


@router.patch("/questions/{question_id}", response_model=QuestionDetailOut, tags=["questions"])
def update_question(
    question_id: uuid.UUID, body: QuestionPatchIn, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> QuestionDetailOut:
    """Write a new version; earlier versions stay exactly as they were."""
    made = questions.update_question(uow, question_id, body)
    return views.question_detail(made, questions.history(uow, made.question))


@router.post(
    "/questions/{question_id}/archive", response_model=QuestionDetailOut, tags=["questions"]
)
def archive_question(
    question_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> QuestionDetailOut:
    """Questions are archived, never deleted: published exams keep their versions."""
    made = questions.archive_question(uow, question_id)
    return views.question_detail(made, questions.history(uow, made.question))


@router.get(
    "/questions/{question_id}/translations",
    response_model=list[TranslationOut],
    tags=["questions"],
)
def list_translations(
    question_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_VIEW)
) -> list[TranslationOut]:
    """Every translation of every version; ``current: false`` ones are outdated."""
    q = questions.require_question(uow, question_id)
    return [views.translation_out(r) for r in translations.of_question(uow, q)]


@router.post(
    "/questions/{question_id}/translations",
    response_model=TranslationOut,
    tags=["questions"],
)
def put_translation(
    question_id: uuid.UUID, body: TranslationPutIn, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> TranslationOut:
    """Translate the current version into ``language``, or correct that
    translation. It must have the version's structure: as many choices,
    items, pairs and criteria, in the same order."""
    data = TranslationIn.model_validate(body.model_dump(exclude={"language"}))
    return views.translation_out(translations.put(uow, question_id, body.language, data))


# -- exams ---------------------------------------------------------------------


@router.get("/exams", response_model=Page[ExamOut], tags=["exams"])
def list_exams(
    status: Literal["draft", "published", "retired"] | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.EXAM_VIEW),
) -> Page[ExamOut]:
    check_limit(limit)
    rows, nxt = exams.list_exams(uow, status=status, limit=limit, cursor=cursor)
    return Page[ExamOut](items=[views.exam_out(e) for e in rows], next=nxt)


@router.post("/exams", response_model=ExamOut, status_code=201, tags=["exams"])
def create_exam(body: ExamIn, uow: UnitOfWork = requires(P.EXAM_CREATE)) -> ExamOut:
    return views.exam_out(exams.create_exam(uow, body))


@router.get("/exams/{exam_id}", response_model=ExamOut, tags=["exams"])
def get_exam(exam_id: uuid.UUID, uow: UnitOfWork = requires(P.EXAM_VIEW)) -> ExamOut:
    return views.exam_out(exams.require_exam(uow, exam_id))


@router.patch("/exams/{exam_id}", response_model=ExamOut, tags=["exams"])
def update_exam(
    exam_id: uuid.UUID, body: ExamPatchIn, uow: UnitOfWork = requires(P.EXAM_CREATE)
) -> ExamOut:
    """Change the working copy; a published exam stays as published until
    it is published again (as a new version)."""
    return views.exam_out(exams.update_exam(uow, exam_id, body))


@router.post("/exams/{exam_id}/publish", response_model=ExamVersionOut, tags=["exams"])
def publish_exam(exam_id: uuid.UUID, uow: UnitOfWork = requires(P.EXAM_PUBLISH)) -> ExamVersionOut:
    """Freeze the working copy into a new immutable version."""
    return views.exam_version_out(exams.publish_exam(uow, exam_id))


@router.post("/exams/{exam_id}/retire", response_model=ExamOut, tags=["exams"])
def retire_exam(exam_id: uuid.UUID, uow: UnitOfWork = requires(P.EXAM_PUBLISH)) -> ExamOut:
    return views.exam_out(exams.retire_exam(uow, exam_id))


@router.get("/exams/{exam_id}/versions", response_model=Page[ExamVersionOut], tags=["exams"])
def exam_versions(
    exam_id: uuid.UUID, uow: UnitOfWork = requires(P.EXAM_VIEW)
) -> Page[ExamVersionOut]:
    exam = exams.require_exam(uow, exam_id)
    items = [views.exam_version_out(v) for v in exams.versions(uow, exam)]
    return Page[ExamVersionOut](items=items, next=None)


@router.post("/exams/{exam_id}/preview", response_model=PreviewOut, tags=["exams"])
def preview_exam(
    exam_id: uuid.UUID, body: PreviewIn | None = None, uow: UnitOfWork = requires(P.EXAM_VIEW)
) -> PreviewOut:
    """A paper as a candidate would get it (no answers); creates nothing."""
    exam, version, seed, slots = exams.preview(uow, exam_id, body.seed if body else None)
    found = questions.versions_by_id(uow, [uuid.UUID(s.version_id) for s in slots])
    shown = images.ids_for_versions(uow, list(found.values()))
    sections = exams.previewed_sections(uow, exam, version)
    items = views.preview_items(slots, {str(k): v for k, v in found.items()}, sections, shown)
    every = exams.every_paper_worth(uow, sections)
    return PreviewOut(
        exam_id=exam.id,
        version=version,
        seed=seed,
        items=items,
        max_points=float(sum(Decimal(str(i.points)) for i in items)),
        every_paper_worth=None if every is None else float(every),
    )


# AI question drafts (content.drafting): their own module, the same prefix.
router.include_router(drafts_api.router)
