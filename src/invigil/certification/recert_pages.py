"""The staff page of the recertification pass (``/certification/
recertification``): the steps that fall due in the next 30 days and the
latest steps taken, each naming the certificate, its program and (for a
viewer who holds ``candidate:view``) its holder; filtered by program.
Reading needs ``certificate:view``. What the pass does is in
:mod:`invigil.certification.recertification`; this page only reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil.certification import recertification
from invigil.certification.models import Program
from invigil.errors import Invalid
from invigil.i18n import N_
from invigil.security.permissions import Permission as P
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)

DAYS = 30
STEP_LABELS = {
    "reminder": N_("Reminder to the holder"),
    "invitation": N_("Invitation to the recertification exam"),
    "expiry": N_("Expiry (the state becomes expired)"),
    "escalation": N_("Lapse: escalation to the group's managers, final notice to the holder"),
}


def _program(value: str) -> uuid.UUID | None:
    if not value.strip():
        return None
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise Invalid("choose a program from the list", field="program") from None


@router.get("/certification/recertification", response_class=HTMLResponse)
def recertification_page(
    request: Request,
    program: str = Query("", max_length=64),
    ctx: PageContext = requires_page(P.CERTIFICATE_VIEW),
) -> Response:
    chosen = _program(program)
    now = datetime.now(UTC)
    programs = ctx.uow.scalars(select(Program).order_by(Program.name))
    values = {
        "page": ctx,
        "programs": programs,
        "chosen": chosen,
        "days": DAYS,
        "upcoming": recertification.upcoming(ctx.uow, now=now, days=DAYS, program_id=chosen),
        "recent": recertification.recent(ctx.uow, program_id=chosen),
        "labels": STEP_LABELS,
        "names": ctx.can(P.CANDIDATE_VIEW),
    }
    return render(request, "certification/recertification.html", values)
