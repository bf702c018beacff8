"""The audit log for people: filter entries, read one with its proof."""

from __future__ import annotations

import gettext
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.audit import checkpoints, names, service, wording
from invigil.audit.models import AuditEvent
from invigil.errors import Invalid, NotFound
from invigil.i18n import N_
from invigil.security.permissions import Permission
from invigil.web import table
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)


ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)*(\.\*|\*)?$")
ACTOR_KINDS = {"user": N_("Staff member"), "candidate": N_("Candidate"), "operator": N_("Operator"),
               "system": N_("Invigil (automatic)")}  # fmt: skip


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            N_("write a date or a date and time (2026-11-29 or 2026-11-29T14:30)")
        ) from None


def _action(value: str) -> None:
    if not ACTION.match(value):
        raise Invalid(N_("write an action such as user.created, or a family such as auth.*"))


def _matching(value: str) -> Any:
    # "auth.*" selects a family of actions
    if value.endswith("*"):
        return AuditEvent.action.startswith(value[:-1])
    return AuditEvent.action == value


def _first_upper(words: str) -> str:
    """The first letter upper case, the rest as written ("Beweis-Upload", not "Beweis-upload")."""
    return words[:1].upper() + words[1:]


def audit_table(locale: str = i18n.DEFAULT) -> table.Table:
    """The log, newest first; filters as the API's, plus sort and CSV. The
    subjects are listed in the reader's language, in its alphabetical order."""
    return table.Table(
        name="audit",
        path="/admin/audit",
        caption=N_("Audit entries"),
        columns=(
            table.Column("seq", "#", AuditEvent.seq, int, export=lambda r: r.event.seq),
            table.Column(
                "when",
                N_("When (UTC)"),
                AuditEvent.occurred_at,
                datetime.fromisoformat,
                export=lambda r: r.event.occurred_at.isoformat(),
            ),
            table.Column("actor", N_("Who"), export=lambda r: r.actor),
            table.Column(
                "action", N_("What happened"), AuditEvent.action, export=lambda r: r.words
            ),
            table.Column(
                "subject",
                N_("About"),
                AuditEvent.subject_type,
                export=lambda r: f"{r.subject_kind}: {r.subject}",
            ),
            table.Column("details", N_("Details"), export=lambda r: r.raw),
        ),
        id=AuditEvent.id,
        default_sort="-seq",
        filters=(
            table.Filter(
                "action",
                N_("Action"),
                None,
                lambda stmt, v: stmt.where(_matching(v)),
                check=_action,
                hint=N_("auth.* or user.created"),
            ),
            table.Filter(
                "actor_kind",
                N_("Who"),
                list(ACTOR_KINDS.items()),
                lambda stmt, v: stmt.where(AuditEvent.actor_kind == v),
                all_label=N_("Anyone"),
            ),
            table.Filter(
                "actor", N_("Actor id"), None, lambda stmt, v: stmt.where(AuditEvent.actor_id == v)
            ),
            table.Filter(
                "subject_type",
                N_("About"),
                sorted(
                    ((k, _first_upper(wording.subject_words(k, locale))) for k in wording.SUBJECTS),
                    key=lambda kv: kv[1],
                ),
                lambda stmt, v: stmt.where(AuditEvent.subject_type == v),
                all_label=N_("Anything"),
            ),
            table.Filter(
                "subject_id",
                N_("Subject id"),
                None,
                lambda stmt, v: stmt.where(AuditEvent.subject_id == v),
            ),
            table.Filter(
                "since",
                N_("From"),
                None,
                lambda stmt, v: stmt.where(AuditEvent.occurred_at >= _when(v)),
                check=_when,
                hint="2026-11-29",
            ),
            table.Filter(
                "until",
                N_("Until"),
                None,
                lambda stmt, v: stmt.where(AuditEvent.occurred_at < _when(v)),
                check=_when,
                hint="2026-11-30T12:00",
            ),
        ),
        empty=N_("The log is empty."),
        empty_filtered=N_("No entry matches these filters."),
    )


@dataclass(frozen=True)
class Readable:
    """An entry as a person reads it: names, words, a table of details."""

    event: AuditEvent
    actor: str
    words: str
    subject_kind: str
    subject: str
    details: list[tuple[str, str]]
    raw: str


SHORT = 40  # longer values (hashes, anchors) are cut here; the raw JSON has them whole
LISTED = 5


def _value(value: Any, locale: str = i18n.DEFAULT) -> str:
    """A detail as a person reads it, short: long hashes and nested records
    are cut (the raw JSON, a click away, keeps everything)."""
    words = i18n.translations(locale)
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return words.gettext("yes") if value else words.gettext("no")
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        if not value:
            return words.gettext("none")
        shown = ", ".join(_short(str(v)) for v in value[:LISTED])
        more = len(value) - LISTED
        return _more(words, shown, more)
    if isinstance(value, dict):
        parts = [
            f"{wording.detail_words(k)}: {_value(v, locale)}" for k, v in sorted(value.items())
        ]
        return _more(words, "; ".join(parts[:LISTED]), len(parts) - LISTED)
    if isinstance(value, list):
        return words.ngettext("%(n)s item", "%(n)s items", len(value)) % {"n": len(value)}
    return _short(str(value))


def _more(words: gettext.NullTranslations, shown: str, more: int) -> str:
    if more <= 0:
        return shown
    return words.ngettext("%(shown)s and %(n)s more", "%(shown)s and %(n)s more", more) % {
        "shown": shown,
        "n": more,
    }


def _short(text: str) -> str:
    return text if len(text) <= SHORT else text[: SHORT - 16] + "\u2026"


# Payload members that hold the id of something a namer knows: shown by its
# name from the live row (a user's e-mail, a session's address) when it still
# exists, since the entry itself keeps only the id (docs/adr/0062).
REFERENCES = {
    "user": "user",
    "user_id": "user",
    "session": "auth_session",
    "failure": "sign_in_failure",
    "last_failure": "sign_in_failure",
    "role_id": "role",
    "role_ids": "role",
}


def _payload(e: AuditEvent) -> dict[str, Any]:
    return e.payload if isinstance(e.payload, dict) else {"value": e.payload}


def _ids(value: Any) -> list[str]:
    """The ids a reference member holds: one, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return []


def _referenced(e: AuditEvent) -> set[tuple[str, str]]:
    return {
        (REFERENCES[k], ident)
        for k, v in _payload(e).items()
        if k in REFERENCES
        for ident in _ids(v)
    }


def _detail(
    key: str, value: Any, found: dict[tuple[str, str], str], locale: str
) -> tuple[str, str]:
    """A payload member as a label and a value; ids of things a namer knows
    by the names of their live rows."""
    label = wording.detail_words(key)
    ids = _ids(value) if key in REFERENCES else []
    if not any((REFERENCES[key], i) in found for i in ids):
        return label, _value(value, locale)
    return label, ", ".join(found.get((REFERENCES[key], i), names.short(i)) for i in ids)


def readable(uow: Any, events: list[AuditEvent], locale: str = i18n.DEFAULT) -> list[Readable]:
    """Each entry with its people and things named (one query per type for the
    page), its words in ``locale``."""
    wanted = {(e.actor_kind, e.actor_id) for e in events}
    wanted |= {(e.subject_type, e.subject_id) for e in events}
    wanted |= {ref for e in events for ref in _referenced(e)}
    found = names.resolve(uow, wanted, locale)
    out = []
    for e in events:
        actor = found.get((e.actor_kind, e.actor_id))
        if actor is None and e.actor_kind in names.FIXED_ACTORS:
            actor = i18n.gettext(locale, names.FIXED_ACTORS[e.actor_kind])
        if actor is None:
            actor = f"{wording.subject_words(e.actor_kind, locale)} {names.short(e.actor_id)}"
        elif e.actor_kind in names.FIXED_ACTORS and e.actor_id not in ("cli", "system"):
            actor = f"{actor} ({e.actor_id})"
        payload = _payload(e)
        out.append(
            Readable(
                event=e,
                actor=actor,
                words=wording.action_words(e.action, locale),
                subject_kind=wording.subject_words(e.subject_type, locale),
                subject=found.get((e.subject_type, e.subject_id)) or names.short(e.subject_id),
                details=[_detail(k, v, found, locale) for k, v in sorted(payload.items())],
                raw=json.dumps(e.payload, sort_keys=True),
            )
        )
    return out


def _render(request: Request, name: str, ctx: PageContext, **values: object) -> HTMLResponse:
    return render(request, f"audit/{name}", {"page": ctx, **values})


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(
    request: Request, ctx: PageContext = requires_page(Permission.AUDIT_VIEW)
) -> Response:
    locale = i18n.locale_of({"request": request})
    view = table.read(audit_table(locale), request.query_params)
    if view.csv:
        events = table.all_rows(ctx.uow, view, select(AuditEvent))
        return table.csv_response(view, readable(ctx.uow, events, locale))
    shown = table.fetch(ctx.uow, view, select(AuditEvent))
    return _render(
        request,
        "log.html",
        ctx,
        t=shown.with_rows(readable(ctx.uow, shown.rows, locale)),
        latest=checkpoints.latest(ctx.uow),
    )


@router.get("/admin/audit/{event_id}", response_class=HTMLResponse)
def audit_entry(
    request: Request, event_id: str, ctx: PageContext = requires_page(Permission.AUDIT_VIEW)
) -> HTMLResponse:
    try:
        ident = uuid.UUID(event_id)
    except ValueError:
        raise NotFound(f"audit entry {event_id} was not found") from None
    event = service.get_event(ctx.uow, ident)
    inclusion = service.inclusion(ctx.uow, event)
    pretty = json.dumps(json.loads(event.entry), indent=2, sort_keys=True)
    shown = readable(ctx.uow, [event], i18n.locale_of({"request": request}))[0]
    return _render(
        request, "entry.html", ctx, event=event, r=shown, inclusion=inclusion, pretty=pretty
    )
