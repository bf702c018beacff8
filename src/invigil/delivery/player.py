"""The candidate's player: its page, its JSON API and the confirmation page.

Every route here takes the candidate's session (:mod:`invigil.delivery.candidate`)
and nothing else. See ``docs/candidate-api.md`` for the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from invigil import i18n
from invigil.content import bodies, exam_text, images, rich, translations, worth
from invigil.content.assemble import Slot
from invigil.content.models import QuestionVersion
from invigil.content.paper import candidate_body
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts, candidate, language, results
from invigil.delivery.candidate import Guest, Guesting, Taking, Viewing
from invigil.delivery.landing import RELEASE, brand_context, disclosure_of, no_store
from invigil.delivery.proctor import proctor
from invigil.errors import PROBLEM_MEDIA_TYPE, Invalid, NotFound
from invigil.web.pages import templates

router = APIRouter(include_in_schema=False)

# The player's page: its own script only, no framing, no third parties.
# TensorFlow.js (face-api) compiles WebAssembly when it starts: that, and no
# JavaScript eval, is what 'wasm-unsafe-eval' allows.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


# Assessments another system delivers while Invigil proctors them (the lti
# domain installs its provider): the origin the player frames for an
# invitation, or None for Invigil's own exams.
Elsewhere = Callable[[UnitOfWork, uuid.UUID], str | None]
_elsewhere: list[Elsewhere] = []


def delivered_elsewhere(provider: Elsewhere) -> None:
    _elsewhere.append(provider)


def elsewhere_origin(uow: UnitOfWork, invitation_id: uuid.UUID) -> str | None:
    for provider in _elsewhere:
        origin = provider(uow, invitation_id)
        if origin:
            return origin
    return None


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def json_answer(body: dict[str, Any], status: int = 200) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


# What a true/false question's two answers say, in the question's language.
TRUE_FALSE = (i18n.N_("True"), i18n.N_("False"))


def _questions(t: Taking) -> list[dict[str, Any]]:
    paper = t.attempt.paper
    ids = [uuid.UUID(s["version_id"]) for s in paper]
    versions = {
        v.id: v for v in t.uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    }
    # The section headings in the attempt's language when the exam froze
    # them in it, else as written (``section_lang`` says which).
    words = language.exam_words(t.uow, t.version, t.attempt.language)
    frozen = translations.entries(t.version.sections)
    points = worth.slot_points(
        t.version.sections,
        [int(s["section"]) for s in paper],
        [versions[uuid.UUID(s["version_id"])].points for s in paper],
    )
    out = []
    for index, s in enumerate(paper):
        qv = versions[uuid.UUID(s["version_id"])]
        slot = Slot(
            s["section"], s["question_id"], s["version_id"], s["type"], tuple(s["option_order"])
        )
        # In the attempt's language when the exam froze a translation for
        # it, else as written; ``lang`` says which, for screen readers.
        body = bodies.parse_body(qv.body)
        text = translations.text_in(frozen.get(s["version_id"]), t.attempt.language)
        if text is not None and t.attempt.language:
            body, lang = translations.translated(body, text), t.attempt.language
        else:
            lang = qv.language
        out.append(
            {
                "index": index,
                "section": s["section"],
                "section_title": words.section(s["section"]).text,
                "section_lang": words.section(s["section"]).attr,
                "section_dir": words.section(s["section"]).dir,
                "type": s["type"],
                "points": str(points[index]),
                "lang": lang.replace("_", "-"),
                "dir": i18n.direction(lang),
                "body": _with_images(t, qv, _labelled(candidate_body(body, slot), lang)),
            }
        )
    return out


def _with_images(t: Taking, qv: QuestionVersion, body: dict[str, Any]) -> dict[str, Any]:
    """The formatted text's images at this attempt's own image addresses."""
    html = body.get("prompt_html")
    if html and "<img" in html:
        found = images.for_version(t.uow, qv)
        urls = images.addresses(found, lambda i: f"{t.base}/api/images/{i.id}")
        body["prompt_html"] = rich.with_image_addresses(html, urls)
    return body


@router.get("/take/{token}/api/images/{image_id}")
async def get_image(image_id: str, g: Guest = Guesting) -> Response:
    """An image a question on this attempt's paper shows, while the attempt
    is in progress (when its questions are shown)."""

    def work(t: Taking) -> Response:
        try:
            wanted = uuid.UUID(image_id)
        except ValueError:
            raise Invalid("image_id: not an image id", field="image_id") from None
        if t.attempt.status != "in_progress":  # the questions are not shown either
            raise NotFound("no question of this attempt shows that image")
        on_paper = {s["question_id"]: uuid.UUID(s["version_id"]) for s in t.attempt.paper or []}
        image = images.find(t.uow, wanted)
        shown = on_paper.get(str(image.question_id)) if image is not None else None
        qv = t.uow.session.get(QuestionVersion, (t.uow.tenant, shown)) if shown else None
        # The version on the paper shows the images attached up to it.
        if image is None or qv is None or image.question_version > qv.version:
            raise NotFound("no question of this attempt shows that image")
        picture = images.get(t.uow, image.question_id, image.id)
        return Response(
            picture.data,
            media_type=picture.content_type,
            headers={"Cache-Control": "private, max-age=86400", "ETag": picture.etag},
        )

    return await g.run(work)


def _labelled(body: dict[str, Any], lang: str) -> dict[str, Any]:
    if body["type"] == "true_false":
        body["labels"] = [i18n.gettext(lang, word) for word in TRUE_FALSE]
    return body


def state(t: Taking) -> dict[str, Any]:
    a, inv, version = t.attempt, t.invitation, t.version
    saved = attempts.answers_of(t.uow, a.id) if a.status != "ready" else []
    return {
        "attempt_id": str(a.id),
        "status": a.status,
        "server_time": _iso(datetime.now(UTC)),
        "started_at": _iso(a.started_at),
        "deadline": _iso(a.deadline),
        "grace_seconds": a.grace_seconds,
        "time_limit_seconds": attempts.limit_seconds(version, inv),
        "extra_time_percent": inv.extra_time_percent,
        "navigation": version.settings.get("navigation", "free"),
        "language": a.language,
        # From the policy frozen with the attempt, as proctoring below is.
        "requirements": disclosure_of(version, proctor().policy_of(a)).requirements(),
        "questions": _questions(t) if a.status == "in_progress" else [],
        "answers": {
            str(x.slot): {
                "response": x.response,
                "flagged": x.flagged,
                "seq": x.seq,
                "time_ms": x.time_ms,
            }
            for x in saved
        },
        "position": a.position,
        "furthest": a.furthest,
        "last_seq": a.last_seq,
        "done_url": f"{t.base}/done",
        "proctoring": proctoring_state(a),
    }


def proctoring_state(a: Any) -> dict[str, Any]:
    """What the browser's detectors need from the frozen policy, and where
    the event chain stands on the server (to resume after a reload)."""
    p = proctor().policy_of(a)
    return {
        "policy": p.name,
        "detectors": p.detectors.model_dump(),
        "face_persist_seconds": p.face_persist_seconds,
        "face_interval_ms": p.face_interval_ms,
        "audio_persist_seconds": p.audio_persist_seconds,
        "audio_threshold": p.audio_threshold,
        "snapshot_interval_seconds": p.snapshot_interval_seconds,
        "id_photo": p.id_photo,
        "last_seq": a.events_last_seq,
        "head": a.events_head,
        "genesis": proctor().genesis(a.id),
    }


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, le=10_000)
    response: Any = None
    flagged: bool = False
    seq: int = Field(ge=1, le=2**62)
    time_ms: int = Field(default=0, ge=0, le=10**10)
    client_time: datetime | None = None
    offline: bool = False

    def item(self) -> attempts.Item:
        when = self.client_time
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return attempts.Item(
            self.index, self.response, self.seq, self.flagged, self.time_ms, when, self.offline
        )


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[ItemIn], Field(max_length=attempts.MAX_ITEMS)] = []


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: int | None = Field(default=None, ge=0, le=10_000)


M = TypeVar("M", bound=BaseModel)


def parse_payload(model: type[M], payload: Any) -> M:
    """The request body as ``model``, checked after the candidate is (FastAPI
    has parsed the JSON already); a 422 as FastAPI itself would answer."""
    if payload is None:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def valid_body(model: type[M], payload: Any) -> M | None:
    """The body as ``model``, or None when it is not (the general path, which
    checks the candidate first, answers that)."""
    try:
        return model.model_validate(payload)
    except ValidationError:
        return None


def _clock(t: Taking) -> dict[str, Any]:
    a = t.attempt
    return clock_of(a.deadline, a.status, a.last_seq, live_seq=a.live_seq, paused_at=a.paused_at)


def clock_of(
    deadline: datetime | None,
    status: str,
    last_seq: int,
    *,
    live_seq: int | None = None,
    paused_at: datetime | None = None,
) -> dict[str, Any]:
    """What every answer to a save or a heartbeat says about the clock. A
    ``live_seq`` above the one the player knows means a proctor stepped in
    (a message, time, a pause): the player asks ``api/live`` what."""
    clock = {
        "server_time": _iso(datetime.now(UTC)),
        "deadline": _iso(deadline),
        "status": status,
        "last_seq": last_seq,
        "paused_at": _iso(paused_at),
    }
    if live_seq is not None:  # an answer that knows it (not every events answer does)
        clock["live_seq"] = live_seq
    return clock


@router.get("/take/{token}/exam", response_class=HTMLResponse)
def player_page(request: Request, t: Taking = Viewing) -> Response:
    locale = language.choose(request, t.uow, t.invitation).locale
    boot = {
        "api": f"{t.base}/api",
        "done_url": f"{t.base}/done",
        "landing_url": t.base,
        "attempt_id": str(t.attempt.id),
        "storage_key": f"invigil:{t.attempt.id}",
        # The player's strings in the candidate's language (static/player/i18n.js),
        # the same language as the page around them (<html lang> follows it).
        "messages": i18n.player_messages(locale),
        # The digits the server writes numbers with (Latin in Arabic too), so a
        # number the player formats looks like one the pages format.
        "numbering": i18n.numbering_system(locale),
    }
    policy = CSP
    origin = elsewhere_origin(t.uow, t.invitation.id)
    if origin is not None:
        # The assessment is the learning platform's: after the system check
        # and the begin, the player frames it (first an Invigil page that
        # posts the signed start message there), proctoring all the while.
        boot["lms"] = {"url": f"{t.base}/lms"}
        policy = CSP.replace("frame-ancestors", f"frame-src 'self' {origin}; frame-ancestors")
    response = templates.TemplateResponse(
        request,
        "delivery/player.html",
        {"page": None, "title": _title(t, locale), "boot": boot, **brand_context(t.uow, t.base)},
    )
    response.headers["Content-Security-Policy"] = policy
    return no_store(response)


def _title(t: Taking, locale: str) -> exam_text.Said:
    """The exam's title in the attempt's language once it has begun (its
    questions are in it), else in the page's."""
    return language.exam_words(t.uow, t.version, t.attempt.language or locale).title


def receipt(attempt_id: uuid.UUID) -> str:
    """The candidate's short reference for a submitted attempt (not the
    record's id: staff find the attempt by the candidate)."""
    return "-".join((attempt_id.hex[:4], attempt_id.hex[4:8])).upper()


def _as_allowed(document: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The result as the exam's ``result_feedback`` lets the candidate see
    it: the category breakdown only from ``categories`` up."""
    if settings.get("result_feedback", "score") in ("categories", "questions"):
        return document
    return {**document, "categories": {}}


@router.get("/take/{token}/done", response_class=HTMLResponse)
def done_page(request: Request, t: Taking = Viewing) -> Response:
    a = t.attempt
    release = str(t.version.settings.get("results_release", "after_review"))
    result = results.latest_result(t.uow, a.id) if a.status == "submitted" else None
    shown = result is not None and release == "immediately"
    locale = language.choose(request, t.uow, t.invitation).locale
    response = templates.TemplateResponse(
        request,
        "delivery/done.html",
        {
            "page": None,
            "title": _title(t, locale),
            "attempt": a,
            "submitted": a.status == "submitted",
            "result": _as_allowed(result.document, t.version.settings)
            if shown and result
            else None,
            "release_note": RELEASE.get(release, ""),
            "base": t.base,
            "reference": receipt(a.id),
            **brand_context(t.uow, t.base),
        },
    )
    return no_store(response)


@router.get("/take/{token}/api/state")
async def get_state(g: Guest = Guesting) -> JSONResponse:
    return await g.run(lambda t: json_answer(state(t)))


@router.post("/take/{token}/api/begin")
async def post_begin(g: Guest = Guesting) -> JSONResponse:
    def work(t: Taking) -> JSONResponse:
        chosen = language.negotiated(g.request, t.uow, t.invitation).locale
        attempts.begin(t.uow, t.attempt, t.version, t.invitation, language=chosen)
        t.uow.flush()
        return json_answer(state(t))

    return await g.run(work, lock=True)


@router.post("/take/{token}/api/answers")
async def post_answers(g: Guest = Guesting, payload: Any = Body(None)) -> JSONResponse:
    def fast(uow: UnitOfWork) -> JSONResponse | None:
        body = valid_body(ItemsIn, payload)
        if body is None or not body.items:
            return None
        items = [i.item() for i in body.items]
        now = datetime.now(UTC)
        top = max(it.seq for it in items)
        heard = candidate.heard(
            uow, g.request, g.token, now=now, top=top, slots=[it.index for it in items]
        )
        if heard is None:
            return None
        saved = attempts.store(uow, heard.sheet(), items, now)
        clock = clock_of(heard.deadline, "in_progress", heard.last_seq, live_seq=heard.live_seq)
        return json_answer({"results": [o.json() for o in saved.results], **clock})

    def work(t: Taking) -> JSONResponse:
        body = parse_payload(ItemsIn, payload)
        try:
            saved = attempts.save(t.uow, t.attempt, [i.item() for i in body.items])
        except attempts.NavigationClosed as refused:
            return _refused(t, refused, "answers")
        return json_answer({"results": [o.json() for o in saved.results], **_clock(t)})

    return await g.run(work, lock=True, fast=fast)


@router.post("/take/{token}/api/heartbeat")
async def post_heartbeat(g: Guest = Guesting, payload: Any = Body(None)) -> JSONResponse:
    def fast(uow: UnitOfWork) -> JSONResponse | None:
        body = valid_body(HeartbeatIn, payload)
        if body is None:
            return None
        now = datetime.now(UTC)
        heard = candidate.heard(uow, g.request, g.token, now=now, position=body.position)
        if heard is None:
            return None
        attempts.note_client(uow, heard.id, heard.client, _heard_from(g.request))
        status, taken = attempts.heartbeat_heard(uow, heard, now)
        clock = clock_of(heard.deadline, status, heard.last_seq, live_seq=heard.live_seq)
        return json_answer({**clock, "warnings": _warnings(taken)})

    def work(t: Taking) -> JSONResponse:
        body = parse_payload(HeartbeatIn, payload)
        a = t.attempt
        if a.status == "in_progress":
            attempts.note_client(
                t.uow, a.id, (a.client_address, a.client_agent), _heard_from(g.request)
            )
        try:
            taken = attempts.heartbeat(t.uow, t.attempt, body.position)
        except attempts.NavigationClosed as refused:
            return _refused(t, refused, "heartbeat")
        return json_answer({**_clock(t), "warnings": _warnings(taken)})

    return await g.run(work, lock=True, fast=fast)


def _heard_from(request: Request) -> attempts.Browser:
    return attempts.Browser(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


def _refused(t: Taking, refused: attempts.NavigationClosed, via: str) -> JSONResponse:
    """A move back under linear navigation: 409, nothing of the request
    kept but the audit entry that records the refusal (the service refuses
    before it writes anything, so committing keeps only that entry)."""
    attempts.record_refusal(t.uow, t.attempt, refused, via)
    instance = f"{t.base}/api/{via}"
    return JSONResponse(
        refused.problem(instance),
        status_code=refused.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def _warnings(taken: list[Any]) -> list[dict[str, str]]:
    return [
        {"rule": a.rule_id, "kind": a.kind, "message": a.message}
        for a in taken
        if a.action == "warn"
    ]


@router.post("/take/{token}/api/submit")
async def post_submit(g: Guest = Guesting, payload: Any = Body(None)) -> JSONResponse:
    def work(t: Taking) -> JSONResponse:
        body = parse_payload(ItemsIn, payload)
        outcomes: list[dict[str, Any]] = []
        if t.attempt.status == "in_progress" and body.items:
            try:
                saved = attempts.save(t.uow, t.attempt, [i.item() for i in body.items])
            except attempts.NavigationClosed as refused:
                return _refused(t, refused, "submit")
            outcomes = [o.json() for o in saved.results]
        attempts.submit(t.uow, t.attempt, "candidate")
        return json_answer(
            {"status": t.attempt.status, "done_url": f"{t.base}/done", "results": outcomes}
        )

    return await g.run(work, lock=True)
