"""Identity's widgets on the home page (:mod:`invigil.web.home`): the
tenant's seats (users by status) and the recent security events of the
audit log (failed sign-ins, lock-outs, refusals, second factors removed,
roles given and taken), with people's addresses instead of ids.

The entries hold ids and keyed hashes only (docs/adr/0062): the e-mail,
network address and role name each line shows are read from the live rows
(users, the ``sign_in_failures`` row an entry names, roles); entries written
before that change still carry their own and are shown with them.

Security events are read from the audit log's (tenant, action, time) index,
:data:`EVENT_DAYS` days back and at most :data:`EVENTS` of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from invigil.audit import DENIED
from invigil.audit.models import AuditEvent
from invigil.i18n import N_
from invigil.identity.models import Role, SignInFailure, User
from invigil.security.permissions import Permission
from invigil.security.pseudonyms import PREFIX
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

    failures = _failures(ctx, events)
    roles = _roles(ctx, events)

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
                **_shown(e, emails, failures, roles),
                "payload": e.payload,
                "id": e.id,
            }
            for e in events
        ],
        "linked": ctx.can(Permission.AUDIT_VIEW),
    }


def _failures(ctx: PageContext, events: Sequence[AuditEvent]) -> dict[str, tuple[str, str]]:
    """The failed sign-ins the entries name: (e-mail typed, address) by id."""
    ids = {
        u
        for e in events
        for key in ("failure", "last_failure")
        if isinstance(e.payload, dict) and (u := _uuid(str(e.payload.get(key)))) is not None
    }
    if not ids:
        return {}
    rows = ctx.uow.session.execute(
        select(SignInFailure.id, SignInFailure.email_key, SignInFailure.address).where(
            SignInFailure.id.in_(ids)
        )
    )
    return {str(i): (email, address) for i, email, address in rows}


def _roles(ctx: PageContext, events: Sequence[AuditEvent]) -> dict[str, str]:
    """The roles the entries name by id (granted, taken, made, changed), by name."""
    ids = {u for e in events if (u := _uuid(_role_id(e))) is not None}
    if not ids:
        return {}
    rows = ctx.uow.session.execute(select(Role.id, Role.name).where(Role.id.in_(ids)))
    return {str(i): name for i, name in rows}


def _role_id(e: AuditEvent) -> str:
    if e.subject_type == "role":
        return e.subject_id
    return str(e.payload.get("role_id")) if isinstance(e.payload, dict) else ""


def _shown(
    e: AuditEvent,
    emails: dict[str, str],
    failures: dict[str, tuple[str, str]],
    roles: dict[str, str],
) -> dict[str, Any]:
    """Who the entry is about, from where, and which role, in words."""
    p = e.payload if isinstance(e.payload, dict) else {}
    subject = emails.get(e.subject_id, e.subject_id) if e.subject_type == "user" else e.subject_id
    failed = failures.get(str(p.get("failure") or p.get("last_failure")))
    address = p.get("address") if not str(p.get("address", "")).startswith(PREFIX) else None
    if failed is not None:
        address = failed[1]
        if e.subject_type == "sign_in":  # an e-mail that is no account's
            subject = failed[0]
        if e.action == "auth.throttled":
            subject = failed[1]
    elif e.subject_type in ("sign_in", "address") and e.subject_id.startswith(PREFIX):
        subject = N_("an address no longer on record")
    role = roles.get(_role_id(e)) or p.get("role") or p.get("name")
    return {"subject": subject, "address": address, "role": role}


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
