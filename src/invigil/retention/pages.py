"""The retention pages for staff (see with ``retention:view``, change with
``retention:manage``): the policy in force in words and the form that
writes the next version (``/admin/retention``), every version with what
changed (``/admin/retention/history``), and legal holds, placed and lifted
with a reason (``/admin/retention/holds``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_, select
from starlette.datastructures import FormData

from invigil import audit, i18n
from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Invalid, NotFound, Refused
from invigil.i18n import N_, NP_
from invigil.identity.models import User
from invigil.retention import holds, policy
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]

CLASS_WORDS = {
    "candidate_identity": N_("Candidate identity (name, e-mail, external reference)"),
    "evidence": N_("Proctoring evidence (snapshots, recordings, ID photos)"),
    "proctoring_events": N_("Proctoring events"),
    "answers": N_("Answers"),
    "results": N_("Results"),
    "invitations_mail": N_("Invitations and mail"),
}
EVENT_WORDS = {
    "attempt_submitted": N_("after the attempt is submitted"),
    "result_released": N_("after the result is released"),
    "certificate_expired": N_("after the certificate expires"),
    "candidate_last_active": N_("after the candidate was last active"),
}
ACTION_WORDS = {"delete": N_("deleted"), "anonymise": N_("anonymised")}
# What the results class does, said as it is (docs/adr/0058).
RESULT_ACTION_WORDS = {
    "delete": N_("deleted with their releases and grading"),
    "anonymise": N_("the answers they repeat removed (the scores stay)"),
}
PRESET_WORDS = {
    "practice": N_("practice"),
    "standard": N_("standard"),
    "strict": N_("strict"),
    "high_stakes": N_("high stakes"),
}
SCOPE_WORDS = {
    "candidate": N_("Candidate"),
    "exam": N_("Exam"),
    "tenant": N_("The whole organisation"),
}
KEPT_DAYS = NP_(
    "%(what)s: kept %(count)s day %(event)s%(presets)s, then %(action)s.",
    "%(what)s: kept %(count)s days %(event)s%(presets)s, then %(action)s.",
)
KEPT_ALWAYS = N_("%(what)s: kept for the organisation's lifetime.")
NOTICES = {
    "policy-saved": N_(
        "The new retention policy is in force. Attempts already started keep theirs."
    ),
    "hold-placed": N_("Legal hold placed: nothing it covers is purged until it is lifted."),
    "hold-lifted": N_("Legal hold lifted."),
}
KEEP_WORDS = ("", "keep")  # what the days field takes for "kept for the lifetime"
SEARCH_LIMIT = 10
MAX_FIELD = 20  # characters of a days field


def _locale(request: Request) -> str:
    return i18n.locale_of({"request": request})


def describe(rule: policy.Rule, name: str, locale: str) -> str:
    """One class's rule in words, in ``locale``."""
    what = i18n.gettext(locale, CLASS_WORDS[name])
    if rule.keep_days is None:
        return i18n.gettext(locale, KEPT_ALWAYS) % {"what": what}
    presets = ""
    if rule.by_preset:
        presets = (
            " ("
            + ", ".join(
                f"{i18n.gettext(locale, PRESET_WORDS[p])}: {i18n.local_number(d, locale)}"
                for p, d in sorted(rule.by_preset.items(), key=lambda x: policy.PRESETS.index(x[0]))
            )
            + ")"
        )
    return i18n.ngettext(locale, *KEPT_DAYS, rule.keep_days) % {
        "what": what,
        "count": i18n.local_number(rule.keep_days, locale),
        "event": i18n.gettext(locale, EVENT_WORDS[rule.start]),
        "presets": presets,
        "action": i18n.gettext(
            locale, (RESULT_ACTION_WORDS if name == "results" else ACTION_WORDS)[rule.then]
        ),
    }


def described(doc: policy.PolicyDocument, locale: str) -> list[tuple[str, str]]:
    return [(name, describe(doc.rule(name), name, locale)) for name in policy.CLASSES]


def changes(
    before: policy.PolicyDocument | None, after: policy.PolicyDocument, locale: str
) -> list[tuple[str, str, str]]:
    """What changed from ``before`` to ``after``: (class, before, after) in words."""
    out = []
    for name in policy.CLASSES:
        now = describe(after.rule(name), name, locale)
        was = describe(before.rule(name), name, locale) if before is not None else ""
        if before is None or before.rule(name) != after.rule(name):
            out.append((name, was, now))
    if before is None or before.contest_window_days != after.contest_window_days:
        words = N_("Contest window: %(count)s days.")
        out.append(
            (
                "contest_window_days",
                i18n.gettext(locale, words) % {"count": before.contest_window_days}
                if before is not None
                else "",
                i18n.gettext(locale, words) % {"count": after.contest_window_days},
            )
        )
    return out


def who(uow: UnitOfWork, actors: set[str]) -> dict[str, str]:
    """Staff names for recorded actors (``user:<id>``: the user's e-mail
    address); any other actor (the operator, a job) as recorded."""
    ids = set()
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind == "user":
            try:
                ids.add(uuid.UUID(ident))
            except ValueError:
                continue
    found = {f"user:{i}": email for i, email in uow.session.execute(
        select(User.id, User.email).where(User.id.in_(ids)))} if ids else {}  # fmt: skip
    return {a: found.get(a, a) for a in actors}


# -- the form --------------------------------------------------------------------


@dataclass
class PolicyForm:
    """The policy form's fields as typed (bounded), and their problems."""

    days: dict[str, str] = field(default_factory=dict)
    start: dict[str, str] = field(default_factory=dict)
    then: dict[str, str] = field(default_factory=dict)
    presets: dict[str, str] = field(default_factory=dict)
    contest: str = ""
    reason: str = ""

    @classmethod
    def of(cls, doc: policy.PolicyDocument) -> PolicyForm:
        evidence = doc.rule("evidence")
        return cls(
            {n: _days_text(doc.rule(n).keep_days) for n in policy.CLASSES},
            {n: doc.rule(n).start for n in policy.CLASSES},
            {n: doc.rule(n).then for n in policy.CLASSES},
            {p: _days_text(_preset_days(evidence, p)) for p in policy.PRESETS},
            str(doc.contest_window_days),
        )

    @classmethod
    def submitted(cls, form: Mapping[str, Any]) -> PolicyForm:
        def get(key: str, size: int = MAX_FIELD) -> str:
            value = form.get(key, "")
            return value[:size].strip() if isinstance(value, str) else ""

        return cls(
            {n: get(f"days_{n}") for n in policy.CLASSES},
            {n: get(f"from_{n}", 40) for n in policy.CLASSES},
            {n: get(f"then_{n}", 20) for n in policy.CLASSES},
            {p: get(f"preset_{p}") for p in policy.PRESETS},
            get("contest_window_days"),
            get("reason", policy.MAX_REASON + 1),
        )

    def document(self) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The JSON document the form describes, and the problems found
        reading it (every field, not just the first)."""
        problems: list[dict[str, str]] = []
        classes: dict[str, Any] = {}
        for name in policy.CLASSES:
            rule: dict[str, Any] = {
                "keep_days": _days(self.days[name], f"days_{name}", problems, keep=True),
                "from": self.start[name],
                "then": self.then[name],
            }
            events, actions = policy.ALLOWED[name]
            if self.start[name] not in events:
                problems.append({"field": f"from_{name}", "message": N_("choose from the list")})
            if self.then[name] not in actions:
                problems.append({"field": f"then_{name}", "message": N_("choose from the list")})
            classes[name] = rule
        by_preset = {}
        for preset in policy.PRESETS:
            if self.presets[preset]:
                by_preset[preset] = _days(self.presets[preset], f"preset_{preset}", problems)
        if by_preset:
            classes["evidence"]["by_preset"] = by_preset
        contest = _number(self.contest, "contest_window_days", problems,
                          0, policy.MAX_CONTEST_DAYS)  # fmt: skip
        if not self.reason:
            problems.append({"field": "reason", "message": N_("say why the policy changes")})
        elif len(self.reason) > policy.MAX_REASON:
            problems.append({"field": "reason", "message": N_("write at most 2,000 characters")})
        return {"classes": classes, "contest_window_days": contest}, problems


def _preset_days(rule: policy.Rule, preset: str) -> int | None:
    return rule.days_for(preset) if rule.by_preset and preset in rule.by_preset else None


def _days_text(days: int | None) -> str:
    return "" if days is None else str(days)


def _number(text: str, name: str, problems: list[dict[str, str]], low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high or not text.isdigit():
        problems.append({"field": name, "message": N_("write a whole number of days")})
        return low
    return value


def _days(
    text: str, name: str, problems: list[dict[str, str]], *, keep: bool = False
) -> int | None:
    if keep and text.lower() in KEEP_WORDS:
        return None
    return _number(text, name, problems, 1, policy.MAX_DAYS)


def field_of(where: str) -> str:
    """The form field of a policy document's field (``classes.evidence.keep_days``)."""
    parts = where.split(".")
    if parts[0] == "classes" and len(parts) >= 2 and parts[1] in policy.CLASSES:
        name = parts[1]
        if len(parts) >= 4 and parts[2] == "by_preset" and parts[3] in policy.PRESETS:
            return f"preset_{parts[3]}"
        if len(parts) >= 3 and parts[2] in ("from", "then"):
            return f"{parts[2]}_{name}"
        return f"days_{name}"
    if parts[0] in ("contest_window_days", "reason"):
        return parts[0]
    return "reason"


# -- helpers ----------------------------------------------------------------------


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("class_words", CLASS_WORDS)
    values.setdefault("event_words", EVENT_WORDS)
    values.setdefault("action_words", ACTION_WORDS)
    values.setdefault("preset_words", PRESET_WORDS)
    values.setdefault("scope_words", SCOPE_WORDS)
    return render(request, f"retention/{name}", {"page": ctx, **values}, status=status)


def _redirect(request: Request, path: str, notice: str) -> Response:
    return flash.redirect(request, path, i18n.gettext(_locale(request), NOTICES[notice]))


@contextmanager
def _change(uow: UnitOfWork) -> Iterator[None]:
    """One change in a savepoint: a refused one rolls back alone, the page says why."""
    try:
        with uow.session.begin_nested():
            yield
    except Refused as refused:
        audit.record_refusal(uow, refused)
        raise


async def _form(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=100, max_part_size=64 * 1024)


# -- the policy --------------------------------------------------------------------


def _policy_page(
    request: Request, ctx: PageContext, form: PolicyForm, *, status: int = 200, **values: Any
) -> HTMLResponse:
    locale = _locale(request)
    found = policy.current(ctx.uow)
    return _render(
        request, "policy.html", ctx, status=status, v=found,
        rules=described(found.document, locale), form=form,
        names=who(ctx.uow, {found.created_by}),
        allowed=policy.ALLOWED, classes=policy.CLASSES, presets=policy.PRESETS,
        max_days=policy.MAX_DAYS, max_contest=policy.MAX_CONTEST_DAYS, **values,
    )  # fmt: skip


@router.get("/admin/retention", response_class=HTMLResponse)
def policy_page(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    return _policy_page(request, ctx, PolicyForm.of(policy.current(ctx.uow).document))


@router.post("/admin/retention", response_class=HTMLResponse)
def policy_save(
    request: Request,
    form_data: FormData = Depends(_form),
    ctx: PageContext = requires_page(P.RETENTION_MANAGE),
) -> Response:
    csrf = form_data.get("csrf")
    check_csrf(ctx, csrf if isinstance(csrf, str) else None)
    form = PolicyForm.submitted(form_data)
    document, problems = form.document()
    if not problems:
        try:
            with _change(ctx.uow):
                policy.set_policy(ctx.uow, document, reason=form.reason)
        except Invalid as exc:
            where = str(exc.extensions.get("field") or "policy")
            problems = [{"field": field_of(where), "message": exc.detail}]
    if problems:
        return _policy_page(request, ctx, form, status=422, problems=problems)
    return _redirect(request, "/admin/retention", "policy-saved")


@router.get("/admin/retention/history", response_class=HTMLResponse)
def history_page(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    locale = _locale(request)
    found = [*policy.versions(ctx.uow), policy.DEFAULT_VERSION]
    shown = []
    for i, v in enumerate(found):
        before = found[i + 1].document if i + 1 < len(found) else None
        shown.append((v, changes(before, v.document, locale)))
    names = who(ctx.uow, {v.created_by for v in found})
    return _render(request, "history.html", ctx, versions=shown, names=names)


# -- holds -------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldRow:
    hold: holds.Hold
    subject: str  # the candidate's name and e-mail, the exam's title, or ""


def _subjects(uow: UnitOfWork, found: list[holds.Hold]) -> dict[uuid.UUID, str]:
    people = {h.subject_id for h in found if h.scope == "candidate" and h.subject_id}
    exams = {h.subject_id for h in found if h.scope == "exam" and h.subject_id}
    out: dict[uuid.UUID, str] = {}
    if people:
        for cid, name, email in uow.session.execute(
            select(Candidate.id, Candidate.name, Candidate.email).where(Candidate.id.in_(people))
        ):
            out[cid] = f"{name} <{email}>"
    if exams:
        titles = uow.session.execute(select(Exam.id, Exam.title).where(Exam.id.in_(exams)))
        for eid, title in titles:
            out[eid] = title
    return out


def _candidates(uow: UnitOfWork, q: str) -> list[Candidate]:
    if not q:
        return []
    like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        uow.scalars(
            select(Candidate)
            .where(or_(func.lower(Candidate.email).like(like.lower(), escape="\\"),
                       func.lower(Candidate.name).like(like.lower(), escape="\\")))
            .order_by(Candidate.email)
            .limit(SEARCH_LIMIT)
        )
    )  # fmt: skip


def _holds_page(
    request: Request,
    ctx: PageContext,
    *,
    status: int = 200,
    q: str = "",
    chosen: Candidate | None = None,
    **values: Any,
) -> HTMLResponse:
    found = holds.history(ctx.uow)
    names = _subjects(ctx.uow, found)
    rows = [HoldRow(h, names.get(h.subject_id, "") if h.subject_id else "") for h in found]
    exams = list(ctx.uow.session.execute(select(Exam.id, Exam.title).order_by(Exam.title)).all())
    values.setdefault("placing", {})
    values["names"] = who(
        ctx.uow, {h.placed_by for h in found} | {h.lifted_by for h in found if h.lifted_by}
    )
    return _render(
        request, "holds.html", ctx, status=status,
        active=[r for r in rows if r.hold.active], lifted=[r for r in rows if not r.hold.active],
        exams=exams, q=q, matches=_candidates(ctx.uow, q), chosen=chosen, **values,
    )  # fmt: skip


def _candidate(uow: UnitOfWork, value: str) -> Candidate | None:
    try:
        ident = uuid.UUID(value)
    except ValueError:
        return None
    return uow.scalar(select(Candidate).where(Candidate.id == ident))


@router.get("/admin/retention/holds", response_class=HTMLResponse)
def holds_page(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    q = request.query_params.get("q", "")[:200].strip()
    chosen = _candidate(ctx.uow, request.query_params.get("candidate", "")[:40])
    exam = request.query_params.get("exam", "")[:40]
    place = {"exam": exam} if exam else {}
    if chosen is not None:
        place["scope"] = "candidate"
    elif exam:
        place["scope"] = "exam"
    return _holds_page(request, ctx, q=q, chosen=chosen, placing=place)


@router.post("/admin/retention/holds", response_class=HTMLResponse)
def hold_place(
    request: Request,
    csrf: FormStr = "",
    scope: FormStr = "",
    candidate: FormStr = "",
    exam: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.RETENTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    scope, reason = scope[:16], reason[: holds.MAX_REASON + 1]
    place = {"scope": scope, "exam": exam[:40], "reason": reason}
    chosen = _candidate(ctx.uow, candidate[:40])
    problems: list[dict[str, str]] = []
    subject: uuid.UUID | None = None
    if scope == "candidate":
        if chosen is None:
            message = N_("find the candidate by e-mail, then choose them")
            problems.append({"field": "candidate", "message": message})
        else:
            subject = chosen.id
    elif scope == "exam":
        try:
            subject = uuid.UUID(exam[:40])
        except ValueError:
            problems.append({"field": "exam", "message": N_("choose an exam from the list")})
    elif scope != "tenant":
        problems.append({"field": "scope", "message": N_("choose what the hold covers")})
    if not reason.strip():
        problems.append({"field": "reason", "message": N_("say why the hold is placed")})
    if not problems:
        try:
            with _change(ctx.uow):
                holds.place(ctx.uow, scope, subject, reason)
        except (Invalid, NotFound) as exc:
            where = str(exc.extensions.get("field") or "")
            target = {"reason": "reason", "scope": "scope"}.get(
                where, "exam" if scope == "exam" else "candidate"
            )
            problems = [{"field": target, "message": exc.detail}]
    if problems:
        return _holds_page(request, ctx, status=422, chosen=chosen, placing=place,
                           place_problems=problems)  # fmt: skip
    return _redirect(request, "/admin/retention/holds", "hold-placed")


@router.post("/admin/retention/holds/{hold_id}/lift", response_class=HTMLResponse)
def hold_lift(
    request: Request,
    hold_id: str,
    csrf: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.RETENTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        ident = uuid.UUID(hold_id[:40])
    except ValueError:
        raise NotFound("no such hold") from None
    holds.get(ctx.uow, ident)  # 404 before anything else
    reason = reason[: holds.MAX_REASON + 1]
    try:
        with _change(ctx.uow):
            holds.lift(ctx.uow, ident, reason)
    except (Invalid, Conflict) as exc:
        problems = [{"field": str(ident), "message": exc.detail}]
        return _holds_page(request, ctx, status=exc.status, lift_problems=problems,
                           lift_open=str(ident), lift_reason=reason)  # fmt: skip
    return _redirect(request, "/admin/retention/holds", "hold-lifted")
