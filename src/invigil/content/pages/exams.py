"""Exams: the list, one exam (details, settings, sections, publish, retire,
versions) and the preview of a paper as a candidate would get it."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import func, select

from invigil import i18n
from invigil.content import banks, exam_text, exams, images, questions, rich, views
from invigil.content.freeze import tenant_languages
from invigil.content.models import Exam, Question
from invigil.content.pages.common import (
    TYPE_LABELS,
    problems,
    redirect,
    render,
    say,
    split_list,
)
from invigil.content.questions import Search
from invigil.content.schemas import ExamIn, ExamPatchIn
from invigil.content.settings import ExamSettings, FixedSection, PoolSection
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.i18n import N_
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import table
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
MAX_SEED = 2**53 - 1
PICK_LIMIT = 200

EXAM_LABELS = {
    "slug": N_("Short name"),
    "title": N_("Title"),
    "description": N_("Instructions"),
    "consent_text": N_("Consent text"),
    "time_limit_minutes": N_("Time limit"),
    "opens_at": N_("Opens"),
    "closes_at": N_("Closes"),
    "attempts_allowed": N_("Attempts allowed"),
    "navigation": N_("Navigation"),
    "pass_mark_percent": N_("Pass mark"),
    "results_release": N_("Results"),
    "result_feedback": N_("What the result page shows"),
    "proctoring_preset": N_("Proctoring"),
    "accommodations": N_("Extra time"),
    "marking_tolerance_percent": N_("Marking tolerance"),
    "question_ids": N_("Questions"),
    "bank_id": N_("Bank"),
    "categories": N_("Categories"),
    "tags": N_("Tags"),
    "count": N_("Number of questions"),
    "difficulty_mix": N_("Difficulty mix"),
    "scale_to_points": N_("Worth in total"),
}
# The summary's links (invigil.web.forms): each field's element id on the exam page.
FIELD_IDS = {
    "settings.time_limit_minutes": "s-time",
    "settings.opens_at": "s-opens",
    "settings.closes_at": "s-closes",
    "settings.attempts_allowed": "s-attempts",
    "settings.navigation": "s-nav",
    "settings.pass_mark_percent": "s-pass",
    "settings.marking_tolerance_percent": "s-tolerance",
    "settings.results_release": "s-results",
    "settings.result_feedback": "s-feedback",
    "settings.proctoring_preset": "s-proctoring",
    "settings.accommodations": "s-extra",
    "settings.consent_text": "s-consent",
    # One consent text per other language the tenant offers (the page lists them).
    **{f"settings.consent_translations.{c}": f"s-consent-{c}" for c in i18n.AVAILABLE},
    # The exam's words in each other language (the "texts" form): title,
    # instructions and one title per section.
    **{
        f"texts.text_translations.{c}{part}": f"t-{c}-{id_}"
        for c in i18n.AVAILABLE
        for part, id_ in (("", "title"), (".title", "title"), (".description", "description"))
    },
    **{
        f"texts.text_translations.{c}.sections{n}": f"t-{c}-section-{i}"
        for c in i18n.AVAILABLE
        for n, i in (("", 0), *((f".{k}", k) for k in range(exam_text.MAX_SECTIONS)))
    },
    "pool.bank_id": "pool-bank",
    "pool.difficulty_mix": "pool-easy",
    "pool.time_limit": "pool-time",
    "pool.scale_to_points": "pool-scale",
    "fixed.question_ids": "fixed-title",
    "fixed.time_limit": "fixed-time",
}
PRESETS = {
    "practice": N_("Practice (events only logged)"),
    "standard": N_("Standard"),
    "strict": N_("Strict"),
    "high_stakes": N_("High stakes (strictest)"),
}
RELEASES = {
    "immediately": N_("Right after submitting"),
    "after_grading": N_("Once grading is done"),
    "after_review": N_("Once grading and the integrity review are done"),
    "manual": N_("Only when staff release them"),
}
FEEDBACKS = {
    "score": N_("Total score and pass or fail"),
    "categories": N_("Score, pass or fail and each category"),
    "questions": N_("All of that and each question (right or wrong, points)"),
}


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:64].strip("-")


# -- list and create ------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


EXAMS = table.Table(
    name="exams",
    path="/authoring/exams",
    caption=N_("Exams"),
    columns=(
        table.Column("title", N_("Exam"), func.lower(Exam.title), export=lambda e: e.title),
        table.Column("slug", N_("Short name"), Exam.slug, export=lambda e: e.slug),
        table.Column("status", N_("Status"), Exam.status, export=lambda e: e.status),
        table.Column(
            "version",
            N_("Published version"),
            Exam.published_version,
            int,
            nullable=True,
            export=lambda e: e.published_version,
            numeric=True,
        ),
        table.Column(
            "changed",
            N_("Last changed"),
            Exam.updated_at,
            datetime.fromisoformat,
            export=lambda e: _iso(e.updated_at),
        ),
    ),
    id=Exam.id,
    default_sort="-changed",
    search=(Exam.title, Exam.slug),
    search_label=N_("Title or short name"),
    filters=(
        table.Filter(
            "status",
            N_("Status"),
            [("draft", N_("Draft")), ("published", N_("Published")), ("retired", N_("Retired"))],
            lambda stmt, v: stmt.where(Exam.status == v),
            all_label=N_("Any status"),
        ),
    ),
    empty=N_("There are no exams yet."),
    empty_filtered=N_("No exam matches this search or filter."),
)


def _exams_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> Response:
    view = table.read(EXAMS, request.query_params)
    if view.csv:
        return table.export(ctx.uow, view, select(Exam))
    values.setdefault("form", {"title": "", "slug": "", "description": ""})
    values.setdefault("problems", [])
    shown = table.fetch(ctx.uow, view, select(Exam))
    return render(request, "exams.html", ctx, status=status, t=shown, **values)


@router.get("/authoring/exams", response_class=HTMLResponse)
def exam_list(request: Request, ctx: PageContext = requires_page(P.EXAM_VIEW)) -> Response:
    return _exams_page(request, ctx)


@router.post("/authoring/exams", response_class=HTMLResponse)
def exam_create(
    request: Request,
    csrf: FormStr = "",
    title: FormStr = "",
    slug: FormStr = "",
    description: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"title": title, "slug": slug, "description": description}
    chosen = slug.strip() or slugify(title)
    try:
        body = ExamIn.model_validate({"slug": chosen, "title": title, "description": description})
    except ValidationError as exc:
        found = problems(exc, EXAM_LABELS, request)
        return _exams_page(
            request, ctx, status=422, form=form, problems=found, field_prefix="exam-"
        )
    try:
        with _change(ctx.uow):
            exam = exams.create_exam(ctx.uow, body)
    except (Invalid, Conflict) as exc:
        return _exams_page(
            request, ctx, status=exc.status, form=form, error=exc.detail, form_anchor="exam-slug"
        )
    return redirect(request, f"/authoring/exams/{exam.id}", "exam-created")


# -- one exam --------------------------------------------------------------------------


def _local(value: Any) -> str:
    """A stored time as the value of a datetime-local field (UTC)."""
    if not value:
        return ""
    at = datetime.fromisoformat(str(value)).astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M")


def _num(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _settings_form(exam: Exam) -> dict[str, Any]:
    s = exam.settings
    return {
        "time_limit_minutes": _num(s.get("time_limit_minutes")),
        "opens_at": _local(s.get("opens_at")),
        "closes_at": _local(s.get("closes_at")),
        "attempts_allowed": _num(s.get("attempts_allowed", 1)),
        "navigation": s.get("navigation", "free"),
        "pass_mark_percent": _num(s.get("pass_mark_percent")),
        "results_release": s.get("results_release", "after_review"),
        "result_feedback": s.get("result_feedback", "score"),
        "proctoring_preset": s.get("proctoring_preset", "standard"),
        "shuffle_questions": bool(s.get("shuffle_questions", True)),
        "shuffle_options": bool(s.get("shuffle_options", True)),
        "blind_grading": bool(s.get("blind_grading", True)),
        "double_marking": bool(s.get("double_marking", False)),
        "marking_tolerance_percent": _num(s.get("marking_tolerance_percent", 10)),
        "extra_time_percent": _num(s.get("accommodations", {}).get("extra_time_percent", 0)),
        "consent_text": exam.consent_text,
        "consent_translations": dict(exam.consent_translations or {}),
    }


def _consent_languages(uow: UnitOfWork, exam: Exam) -> tuple[str, list[str]]:
    """The language of the exam's consent text (the tenant's default) and
    the others it may be written in: those the tenant offers, and any the
    exam already has a text for."""
    languages, default = tenant_languages(uow)
    others = [c for c in languages if c != default]
    others += [c for c in exam.consent_translations or {} if c not in others and c != default]
    return default, others


def _texts_form(exam: Exam, others: list[str]) -> dict[str, dict[str, Any]]:
    """The exam's words in each other language, one section title per section."""
    n = len(exam.sections or [])
    out = {}
    for code in others:
        t = dict((exam.text_translations or {}).get(code) or {})
        titles = list(t.get("sections") or [])
        out[code] = {
            "title": t.get("title", ""),
            "description": t.get("description", ""),
            "sections": (titles + [""] * n)[:n],
        }
    return out


def _text_languages(uow: UnitOfWork, exam: Exam) -> list[str]:
    """The other languages the exam's words may be written in: those the
    tenant offers, and any the exam already has them in."""
    languages, default = tenant_languages(uow)
    others = [c for c in languages if c != default]
    return others + [c for c in exam.text_translations or {} if c not in others and c != default]


def _describe_sections(ctx: PageContext, exam: Exam) -> list[dict[str, Any]]:
    """The working copy's sections in words, with links to their questions."""
    qids = {
        uuid.UUID(q)
        for s in exam.sections
        if s.get("kind") == "fixed"
        for q in s.get("question_ids", [])
    }
    found: dict[uuid.UUID, questions.Current] = {}
    if qids:
        for q in ctx.uow.scalars(select(Question).where(Question.id.in_(qids))):
            found[q.id] = questions.Current(q, questions.current(ctx.uow, q))
    bank_names = {b.id: b.name for b in banks.list_banks(ctx.uow)}
    out = []
    for s in exam.sections:
        item: dict[str, Any] = {"kind": s.get("kind"), "title": s.get("title") or ""}
        item["time_limit"] = s.get("time_limit_minutes")
        if s.get("kind") == "fixed":
            item["questions"] = [
                {
                    "id": q,
                    "row": found.get(uuid.UUID(q)),
                }
                for q in s.get("question_ids", [])
            ]
        else:
            bank = s.get("bank_id")
            gone = "a bank that no longer exists"
            item["bank"] = bank_names.get(uuid.UUID(bank), gone) if bank else None
            item["categories"] = s.get("categories", [])
            item["tags"] = s.get("tags", [])
            item["count"] = s.get("count")
            item["mix"] = s.get("difficulty_mix")
            item["scale"] = s.get("scale_to_points")
        out.append(item)
    return out


def _exam_page(
    request: Request,
    ctx: PageContext,
    exam: Exam,
    *,
    status: int = 200,
    pick_bank: str = "",
    **values: Any,
) -> HTMLResponse:
    bank_list = banks.list_banks(ctx.uow)
    picked = None
    pick_rows: list[Any] = []
    if pick_bank:
        picked = next((b for b in bank_list if str(b.id) == pick_bank), None)
        if picked is not None:
            pick_rows, _ = questions.search(ctx.uow, Search(picked.id), limit=PICK_LIMIT)
    details = {"title": exam.title, "slug": exam.slug, "description": exam.description}
    values.setdefault("details", details)
    values.setdefault("field_ids", FIELD_IDS)
    values.setdefault("settings", _settings_form(exam))
    values.setdefault("fixed", {"title": "", "time_limit": "", "question_ids": []})
    values.setdefault(
        "pool",
        {
            "title": "",
            "bank_id": "",
            "categories": "",
            "tags": "",
            "count": "",
            "easy": "",
            "medium": "",
            "hard": "",
            "time_limit": "",
            "scale_to_points": "",
        },
    )
    text_others = _text_languages(ctx.uow, exam)
    values.setdefault("texts", _texts_form(exam, text_others))
    keys = ("details_problems", "settings_problems", "fixed_problems", "pool_problems")
    for key in (*keys, "texts_problems", "sections_problems"):
        values.setdefault(key, [])
    # A refusal naming ``sections[i]`` is shown at that section (its scale field).
    values["field_ids"] = values["field_ids"] | {
        f"sections.sections[{i}]": f"section-{i}-scale" for i in range(len(exam.sections))
    }
    consent_default, consent_others = _consent_languages(ctx.uow, exam)
    live = exam.status != "retired"
    text_gaps = exams.exam_text_gaps(ctx.uow, exam) if live else []
    return render(
        request,
        "exam.html",
        ctx,
        status=status,
        exam=exam,
        sections=_describe_sections(ctx, exam),
        versions=list(reversed(exams.versions(ctx.uow, exam))),
        draft_differs=exam.status != "retired" and exams.differs_from_published(ctx.uow, exam),
        translation_gaps=exams.translation_gaps(ctx.uow, exam) if live else [],
        text_gaps=text_gaps,
        text_gap_names=", ".join(i18n.display_name(c) for c in text_gaps),
        text_others=text_others,
        banks=bank_list,
        picked=picked,
        pick_rows=pick_rows,
        editable=exam.status != "retired" and ctx.can(P.EXAM_CREATE),
        presets=PRESETS,
        releases=RELEASES,
        feedbacks=FEEDBACKS,
        type_labels=TYPE_LABELS,
        consent_default=consent_default,
        consent_others=consent_others,
        **values,
    )


def _exam(ctx: PageContext, exam_id: str) -> Exam:
    return exams.require_exam(ctx.uow, _parse_id(exam_id, "exam"))


@router.get("/authoring/exams/{exam_id}", response_class=HTMLResponse)
def exam_detail(
    request: Request,
    exam_id: str,
    pick_bank: Annotated[str, Query(max_length=64)] = "",
    ctx: PageContext = requires_page(P.EXAM_VIEW),
) -> HTMLResponse:
    return _exam_page(request, ctx, _exam(ctx, exam_id), pick_bank=pick_bank)


def _save(
    request: Request,
    ctx: PageContext,
    exam: Exam,
    patch: dict[str, Any],
    notice: str,
    section: str = "",
    **on_error: Any,
) -> Response:
    """update_exam with the page's patch; a refusal re-renders the page (a
    refusal naming a field, next to that field of ``section``'s form)."""
    try:
        with _change(ctx.uow):
            exams.update_exam(ctx.uow, exam.id, ExamPatchIn.model_validate(patch))
    except ValidationError as exc:
        return _exam_page(
            request,
            ctx,
            exam,
            status=422,
            error="; ".join(p["message"] for p in problems(exc, EXAM_LABELS, request)),
            **on_error,
        )
    except (Invalid, Conflict) as exc:
        field = exc.extensions.get("field")
        if section and field:
            on_error[f"{section}_problems"] = [{"field": field, "message": exc.detail}]
            return _exam_page(request, ctx, exam, status=exc.status, **on_error)
        return _exam_page(request, ctx, exam, status=exc.status, error=exc.detail, **on_error)
    return redirect(request, f"/authoring/exams/{exam.id}", notice)


@router.post("/authoring/exams/{exam_id}", response_class=HTMLResponse)
def exam_update(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    title: FormStr = "",
    slug: FormStr = "",
    description: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    check_csrf(ctx, csrf)
    exam = _exam(ctx, exam_id)
    details = {"title": title, "slug": slug.strip(), "description": description}
    try:
        ExamIn.model_validate(details)
    except ValidationError as exc:
        found = problems(exc, EXAM_LABELS, request)
        return _exam_page(request, ctx, exam, status=422, details=details, details_problems=found)
    return _save(request, ctx, exam, details, "exam-saved", details=details)


TEXT_FIELD = re.compile(
    r"text_(title|description|section)_([a-z]{2,3}(?:_[A-Za-z0-9]{2,8})?)(?:_(\d{1,2}))?"
)


class TextsForm(BaseModel):
    # The fields are named by language (TEXT_FIELD): all kept as extra fields.
    model_config = ConfigDict(extra="allow")

    csrf: str = ""


@router.post("/authoring/exams/{exam_id}/texts", response_class=HTMLResponse)
def exam_texts(
    request: Request,
    exam_id: str,
    form: Annotated[TextsForm, Form()],
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    """The exam's title, instructions and section titles in other languages:
    ``text_title_<code>``, ``text_description_<code>``, ``text_section_<code>_<n>``."""
    check_csrf(ctx, form.csrf)
    exam = _exam(ctx, exam_id)
    n = len(exam.sections or [])
    given: dict[str, dict[str, Any]] = {}
    for key, value in (form.model_extra or {}).items():
        found = TEXT_FIELD.fullmatch(key)
        if found is None or not isinstance(value, str):
            continue
        part, code, index = found.groups()
        t = given.setdefault(code, {"title": "", "description": "", "sections": [""] * n})
        if part == "section":
            if index is not None and int(index) < n:
                t["sections"][int(index)] = value
        else:
            t[part] = value
    shown = _texts_form(exam, _text_languages(ctx.uow, exam)) | given
    return _save(
        request, ctx, exam, {"text_translations": given}, "exam-saved", "texts", texts=shown
    )


CONSENT_FIELD = "consent_text_"  # + a language code: the consent text in that language


class SettingsForm(BaseModel):
    # Extra fields are kept: the consent text in each other language (CONSENT_FIELD).
    model_config = ConfigDict(extra="allow")

    csrf: str = ""
    time_limit_minutes: str = ""
    opens_at: str = ""
    closes_at: str = ""
    attempts_allowed: str = "1"
    navigation: str = "free"
    pass_mark_percent: str = ""
    results_release: str = "after_review"
    result_feedback: str = "score"
    proctoring_preset: str = "standard"
    shuffle_questions: str = ""
    shuffle_options: str = ""
    blind_grading: str = ""
    double_marking: str = ""
    marking_tolerance_percent: str = "10"
    extra_time_percent: str = "0"
    consent_text: str = ""


def _utc(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


@router.post("/authoring/exams/{exam_id}/settings", response_class=HTMLResponse)
def exam_settings(
    request: Request,
    exam_id: str,
    form: Annotated[SettingsForm, Form()],
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    check_csrf(ctx, form.csrf)
    exam = _exam(ctx, exam_id)
    translations = {
        key[len(CONSENT_FIELD) :]: value
        for key, value in (form.model_extra or {}).items()
        if key.startswith(CONSENT_FIELD) and isinstance(value, str)
    }
    shown = form.model_dump(exclude={"csrf", *(form.model_extra or {})}) | {
        "shuffle_questions": bool(form.shuffle_questions),
        "shuffle_options": bool(form.shuffle_options),
        "blind_grading": bool(form.blind_grading),
        "double_marking": bool(form.double_marking),
        "consent_translations": translations,
    }
    raw = dict(exam.settings) | {
        "time_limit_minutes": form.time_limit_minutes.strip() or None,
        "opens_at": _utc(form.opens_at),
        "closes_at": _utc(form.closes_at),
        "attempts_allowed": form.attempts_allowed.strip(),
        "navigation": form.navigation,
        "pass_mark_percent": form.pass_mark_percent.strip() or None,
        "results_release": form.results_release,
        "result_feedback": form.result_feedback,
        "proctoring_preset": form.proctoring_preset,
        "shuffle_questions": bool(form.shuffle_questions),
        "shuffle_options": bool(form.shuffle_options),
        "blind_grading": bool(form.blind_grading),
        "double_marking": bool(form.double_marking),
        "marking_tolerance_percent": form.marking_tolerance_percent.strip() or "10",
        "accommodations": {"extra_time_percent": form.extra_time_percent.strip() or "0"},
    }
    try:
        settings = ExamSettings.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        found = problems(exc, EXAM_LABELS, request)
        return _exam_page(request, ctx, exam, status=422, settings=shown, settings_problems=found)
    patch = {
        "settings": settings,
        "consent_text": form.consent_text,
        "consent_translations": translations,
    }
    return _save(request, ctx, exam, patch, "exam-saved", "settings", settings=shown)


@router.post("/authoring/exams/{exam_id}/sections/fixed", response_class=HTMLResponse)
def exam_add_fixed(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    bank_id: FormStr = "",
    title: FormStr = "",
    time_limit: FormStr = "",
    question_ids: FormList = None,
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    check_csrf(ctx, csrf)
    exam = _exam(ctx, exam_id)
    chosen = question_ids or []
    fixed = {"title": title, "time_limit": time_limit, "question_ids": chosen}
    section = {
        "kind": "fixed",
        "title": title.strip(),
        "time_limit_minutes": time_limit.strip() or None,
        "question_ids": chosen,
    }
    try:
        if not chosen:
            raise Invalid("tick at least one question for the section")
        checked = FixedSection.model_validate(section).model_dump(mode="json")
    except ValidationError as exc:
        found = problems(exc, EXAM_LABELS, request)
        return _exam_page(
            request, ctx, exam, status=422, fixed=fixed, fixed_problems=found, pick_bank=bank_id
        )
    except Invalid as exc:
        found = [{"field": "", "message": exc.detail}]
        return _exam_page(
            request, ctx, exam, status=422, fixed=fixed, fixed_problems=found, pick_bank=bank_id
        )
    patch = {"sections": [*exam.sections, checked]}
    return _save(request, ctx, exam, patch, "section-added", fixed=fixed, pick_bank=bank_id)


@router.post("/authoring/exams/{exam_id}/sections/pool", response_class=HTMLResponse)
def exam_add_pool(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    title: FormStr = "",
    bank_id: FormStr = "",
    categories: FormStr = "",
    tags: FormStr = "",
    count: FormStr = "",
    easy: FormStr = "",
    medium: FormStr = "",
    hard: FormStr = "",
    time_limit: FormStr = "",
    scale_to_points: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    check_csrf(ctx, csrf)
    exam = _exam(ctx, exam_id)
    pool = {
        "title": title,
        "bank_id": bank_id,
        "categories": categories,
        "tags": tags,
        "count": count,
        "easy": easy,
        "medium": medium,
        "hard": hard,
        "time_limit": time_limit,
        "scale_to_points": scale_to_points,
    }
    mix = {k: v.strip() for k, v in (("easy", easy), ("medium", medium), ("hard", hard))}
    mix = {k: v for k, v in mix.items() if v}
    section = {
        "kind": "pool",
        "title": title.strip(),
        "time_limit_minutes": time_limit.strip() or None,
        "bank_id": bank_id or None,
        "categories": split_list(categories),
        "tags": split_list(tags),
        "count": count.strip() or None,
        "difficulty_mix": mix or None,
        "scale_to_points": _decimal(scale_to_points),
    }
    try:
        checked = PoolSection.model_validate(section).model_dump(mode="json")
    except ValidationError as exc:
        found = problems(exc, EXAM_LABELS, request)
        return _exam_page(request, ctx, exam, status=422, pool=pool, pool_problems=found)
    patch = {"sections": [*exam.sections, checked]}
    return _save(request, ctx, exam, patch, "section-added", pool=pool)


def _decimal(value: str) -> str | None:
    """A number as typed (a decimal comma too); empty means none."""
    return value.strip().replace(",", ".") or None


@router.post("/authoring/exams/{exam_id}/sections/change", response_class=HTMLResponse)
def exam_change_section(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    index: FormStr = "",
    action: FormStr = "",
    scale_to_points: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_CREATE),
) -> Response:
    """Remove a section, move it up one place, or set what a pool section is
    worth in total (empty: its questions' own points)."""
    check_csrf(ctx, csrf)
    exam = _exam(ctx, exam_id)
    sections = list(exam.sections)
    actions = ("remove", "up", "scale")
    if not index.isdigit() or int(index) >= len(sections) or action not in actions:
        raise Invalid("that section is no longer there; reload the page")
    n = int(index)
    if action == "scale":
        if sections[n].get("kind") != "pool":
            raise Invalid("only a section drawn at random can be scaled")
        changed = sections[n] | {"scale_to_points": _decimal(scale_to_points)}
        try:
            sections[n] = PoolSection.model_validate(changed).model_dump(mode="json")
        except ValidationError as exc:
            found = [
                {"field": f"sections[{n}]", "message": p["message"]}
                for p in problems(exc, EXAM_LABELS, request)
            ]
            return _exam_page(request, ctx, exam, status=422, sections_problems=found)
        return _save(request, ctx, exam, {"sections": sections}, "section-scaled")
    if action == "remove":
        sections.pop(n)
        notice = "section-removed"
    else:
        if n > 0:
            sections[n - 1], sections[n] = sections[n], sections[n - 1]
        notice = "section-moved"
    return _save(request, ctx, exam, {"sections": sections}, notice)


def _lifecycle(
    request: Request,
    ctx: PageContext,
    exam_id: str,
    csrf: str,
    act: Callable[[UnitOfWork, uuid.UUID], object],
    notice: str,
) -> Response:
    """Publish or retire: check, act in a savepoint, show what went wrong in place."""
    check_csrf(ctx, csrf)
    exam = _exam(ctx, exam_id)
    try:
        with _change(ctx.uow):
            act(ctx.uow, exam.id)
    except (Invalid, Conflict) as exc:
        field = exc.extensions.get("field")
        if field and field.startswith("sections["):  # an unfair pool: at its section
            found = [{"field": field, "message": exc.detail}]
            return _exam_page(
                request,
                ctx,
                exam,
                status=exc.status,
                publish_note=exc.detail,
                sections_problems=found,
            )
        if field:  # a consent text missing a language: at its field (and said at the button)
            found = [{"field": field, "message": exc.detail}]
            return _exam_page(
                request,
                ctx,
                exam,
                status=exc.status,
                publish_note=exc.detail,
                settings_problems=found,
            )
        return _exam_page(request, ctx, exam, status=exc.status, publish_error=exc.detail)
    return redirect(request, f"/authoring/exams/{exam.id}", notice)


@router.post("/authoring/exams/{exam_id}/publish", response_class=HTMLResponse)
def exam_publish(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_PUBLISH),
) -> Response:
    return _lifecycle(request, ctx, exam_id, csrf, exams.publish_exam, "exam-published")


@router.post("/authoring/exams/{exam_id}/retire", response_class=HTMLResponse)
def exam_retire(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.EXAM_PUBLISH),
) -> Response:
    return _lifecycle(request, ctx, exam_id, csrf, exams.retire_exam, "exam-retired")


# -- preview -----------------------------------------------------------------------------


@router.get("/authoring/exams/{exam_id}/preview", response_class=HTMLResponse)
def exam_preview(
    request: Request,
    exam_id: str,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED)] = None,
    ctx: PageContext = requires_page(P.EXAM_VIEW),
) -> HTMLResponse:
    """The API's preview (nothing is written), as a candidate would see the paper."""
    exam = _exam(ctx, exam_id)
    try:
        exam, version, seed, slots = exams.preview(ctx.uow, exam.id, seed)
    except Invalid as exc:
        return render(
            request,
            "preview.html",
            ctx,
            status=exc.status,
            exam=exam,
            error=exc.detail,
            items=[],
            version=None,
            seed=None,
            sections=[],
        )
    found = questions.versions_by_id(ctx.uow, [uuid.UUID(s.version_id) for s in slots])
    pictures = {v.id: images.for_version(ctx.uow, v) for v in found.values()}
    shown = {vid: [img.id for img in found_images] for vid, found_images in pictures.items()}
    raw_sections = exams.previewed_sections(ctx.uow, exam, version)
    items = views.preview_items(slots, {str(k): v for k, v in found.items()}, raw_sections, shown)
    image_urls = {
        v.id: images.addresses(
            pictures[v.id], lambda i: f"/authoring/questions/{i.question_id}/images/{i.id}"
        )
        for v in found.values()
    }
    # Images the formatted text shows where they stand are not shown again below it.
    inline_images = {
        img.id
        for v in found.values()
        for img in pictures[v.id]
        if img.sha256.hex() in rich.image_names(v.body.get("prompt_html") or "")
    }
    sections = []
    for n, s in enumerate(raw_sections):
        mine = [i for i in items if i.section == n]
        sections.append(
            {
                "title": s.get("title") or say(request, N_("Section %(n)s")) % {"n": n + 1},
                "time_limit": s.get("time_limit_minutes"),
                "items": mine,
            }
        )
    return render(
        request,
        "preview.html",
        ctx,
        exam=exam,
        version=version,
        seed=seed,
        items=items,
        sections=sections,
        image_urls=image_urls,
        inline_images=inline_images,
        total=sum(Decimal(str(i.points)) for i in items),
        pooled=any(s.get("kind") == "pool" for s in raw_sections),
        every_paper=exams.every_paper_worth(ctx.uow, raw_sections),
    )
