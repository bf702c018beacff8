"""The candidate's landing page: ``GET /take/{token}``.

It reads and never writes — no audit entry, no "opened" flag, no job — so
mail scanners that prefetch links consume nothing. Starting (a POST that
binds the attempt to the browser) comes with the attempts issue; until then
the page shows the "Start exam" button disabled, with a note.

See ``invigil.delivery.links`` for why unknown, revoked and replaced links
answer one identical page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from invigil.content.models import ExamVersion
from invigil.db.uow import Actor
from invigil.delivery import links
from invigil.delivery.links import LinkState
from invigil.delivery.models import Invitation
from invigil.security.access import Public
from invigil.web.pages import templates

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Disclosure:
    label: str
    recorded: tuple[str, ...]
    kept_days: int


# What each proctoring preset records and how long it is kept (the proctoring
# and retention issues may refine these; the page reads them from here).
DISCLOSURES = {
    "practice": Disclosure("Practice", ("browser activity: leaving the exam tab or window",), 30),
    "standard": Disclosure(
        "Standard",
        (
            "webcam snapshots at intervals",
            "browser activity: tab and window switches, copy and paste",
        ),
        90,
    ),
    "strict": Disclosure(
        "Strict",
        (
            "webcam snapshots at intervals",
            "microphone: whether voices are heard (no continuous recording)",
            "your screen, recorded while the exam runs",
            "browser activity: tab and window switches, full screen, copy and paste",
        ),
        180,
    ),
    "high_stakes": Disclosure(
        "High stakes",
        (
            "webcam snapshots at intervals, checked for one visible face",
            "microphone: whether voices are heard (no continuous recording)",
            "your screen, recorded while the exam runs",
            "browser activity: tab and window switches, full screen, copy and paste, "
            "developer tools",
        ),
        365,
    ),
}

NAVIGATION = {
    "free": "You can move between questions freely and come back to any of them.",
    "linear": "Questions come one after another: you cannot go back to an earlier question.",
}
RELEASE = {
    "immediately": "You see your result as soon as you submit.",
    "after_review": "Your result is released after a review.",
    "never": "Results are not shown to candidates.",
}

NEUTRAL_PAGE = "delivery/take_unavailable.html"


def _headers(response: HTMLResponse) -> HTMLResponse:
    # The token is in the URL: never cache the page, never send it on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _facts(version: ExamVersion, invitation: Invitation) -> dict[str, Any]:
    settings = version.settings
    minutes = settings.get("time_limit_minutes")
    extra = invitation.extra_time_percent
    total = None
    if minutes:
        total = minutes + (minutes * extra + 99) // 100
    preset = str(settings.get("proctoring_preset", "standard"))
    return {
        "title": version.title,
        "description": version.description,
        "minutes": minutes,
        "total_minutes": total,
        "extra": extra,
        "navigation": NAVIGATION.get(str(settings.get("navigation", "free")), ""),
        "attempts": settings.get("attempts_allowed", 1),
        "release": RELEASE.get(str(settings.get("results_release", "after_review")), ""),
        "disclosure": DISCLOSURES.get(preset, DISCLOSURES["standard"]),
        "opens_at": invitation.opens_at,
        "closes_at": invitation.closes_at,
    }


@router.get("/take/{token}", response_class=HTMLResponse, dependencies=[Public])
def landing(request: Request, token: str) -> HTMLResponse:
    services, db = request.app.state.services, request.app.state.db
    tenant_id = links.tenant_of(token) if len(token) <= 200 else None
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = links.resolve(uow if tenant_id else None, services.links, token)
        if found.neutral or found.invitation is None:
            return _headers(
                templates.TemplateResponse(request, NEUTRAL_PAGE, {"page": None}, status_code=404)
            )
        invitation = found.invitation
        version = uow.scalar(
            select(ExamVersion).where(
                ExamVersion.exam_id == invitation.exam_id,
                ExamVersion.version == invitation.exam_version,
            )
        )
        assert version is not None
        facts = _facts(version, invitation)
    status = {LinkState.VALID: 200, LinkState.NOT_YET_OPEN: 200, LinkState.EXPIRED: 410}
    return _headers(
        templates.TemplateResponse(
            request,
            "delivery/take.html",
            {"page": None, "state": found.state.value, **facts},
            status_code=status[found.state],
        )
    )
