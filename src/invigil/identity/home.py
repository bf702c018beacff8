"""Identity's widgets on the home page (:mod:`invigil.web.home`): the
tenant's seats (users by status) and the recent security events of the
audit log (failed sign-ins, lock-outs, refusals, second factors removed,
roles given and taken), with people's addresses instead of ids.

Security events are read from the audit log's (tenant, action, time) index,
:data:`EVENT_DAYS` days back and at most :data:`EVENTS` of them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from invigil.audit import DENIED
from invigil.audit.models import AuditEvent
from invigil.i18n import N_
from invigil.identity.models import User
from invigil.security.permissions import Permission
from invigil.web import home
from invigil.web.session import PageContext

EVENTS = 10
EVENT_DAYS = 30
# What a security-minded administrator wants to hear about; the words for
# each are in templates/identity/home_security.html.
SECURITY_ACTIONS = (
    "auth.sign_in_failed",
    "auth.locked_out",
    "auth.throttled",
    "auth.sessions_revoked",
    DENIED,
    "user.mfa_disabled",
    "user.deactivated",
    "user.reactivated",
    "role.granted",
    "role.revoked",
    "role.created",
    "role.updated",
    "role.deleted",
)
STATUSES = ("active", "invited", "deactivated")


def seats(ctx: PageContext) -> dict[str, Any]:
    counts = dict(
        ctx.uow.session.execute(select(User.status, func.count()).group_by(User.status)).all()
    )
    return {"by_status": [(s, int(counts.get(s, 0))) for s in STATUSES]}


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def security_events(ctx: PageContext) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(days=EVENT_DAYS)
    events = ctx.uow.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(SECURITY_ACTIONS), AuditEvent.occurred_at >= since)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.seq.desc())
        .limit(EVENTS)
    ).all()
    ids = {
        u
        for e in events
        for kind, value in ((e.actor_kind, e.actor_id), (e.subject_type, e.subject_id))
        if kind == "user" and (u := _uuid(value)) is not None
    }
    emails: dict[str, str] = {}
    if ids:
        emails = {
            str(i): email
            for i, email in ctx.uow.session.execute(
                select(User.id, User.email).where(User.id.in_(ids))
            )
        }

    def who(kind: str, value: str) -> str:
        if kind == "user":
            return emails.get(value, N_("a former user"))
        # Words the widget shows in the reader's language (marked here, translated there).
        return {"operator": N_("an operator"), "system": "Invigil"}.get(
            kind, N_("someone not signed in")
        )

    return {
        "days": EVENT_DAYS,
        "events": [
            {
                "at": e.occurred_at,
                "action": e.action,
                "actor": who(e.actor_kind, e.actor_id),
                "subject": emails.get(e.subject_id, e.subject_id)
                if e.subject_type == "user"
                else e.subject_id,
                "payload": e.payload,
                "id": e.id,
            }
            for e in events
        ],
        "linked": ctx.can(Permission.AUDIT_VIEW),
    }


def install() -> None:
    home.register(home.Widget("seats", Permission.USER_VIEW, "identity/home_seats.html", seats, 30))
    home.register(
        home.Widget(
            "security-events",
            Permission.AUDIT_VIEW,
            "identity/home_security.html",
            security_events,
            35,
        )
    )
