"""The home page: what needs the signed-in person now, from every domain.

The page knows no domain. Each domain registers its widgets here when its
package is imported (its ``hooks.install()``); a widget names the one
permission a viewer must hold to see it, the template that draws it and a
function that loads its data from the request's unit of work. A viewer
sees exactly the widgets their permissions allow, in ``order``, so a new
role composed of permissions gets the matching home page with no code.

A widget's loader must answer in bounded time: a window of recent rows, a
count capped with ``LIMIT``, a short list (the page is the landing page of
every sign-in). See docs/architecture.md, "Home pages".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import pass_context
from jinja2.runtime import Context

from invigil import i18n
from invigil.security.permissions import Permission
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)

Loader = Callable[[PageContext], dict[str, Any]]


@dataclass(frozen=True)
class Widget:
    key: str  # unique; also the section's id on the page
    permission: Permission  # the one permission that shows it
    template: str  # under web/templates/, drawn with the loader's data
    load: Loader
    order: int = 50  # smaller first: what needs action before what informs
    wide: bool = False  # takes a whole row (a table, a chart over time)


_widgets: dict[str, Widget] = {}


def register(widget: Widget) -> None:
    """Add (or, by key, replace) a widget; called from the domains' hooks."""
    _widgets[widget.key] = widget


def registered() -> list[Widget]:
    return sorted(_widgets.values(), key=lambda w: (w.order, w.key))


def widgets_for_permissions(granted: Iterable[str]) -> list[Widget]:
    """The widgets a holder of these permissions sees, in page order."""
    held = {str(p) for p in granted}
    return [w for w in registered() if w.permission.value in held]


def widgets_for(ctx: PageContext) -> list[Widget]:
    return widgets_for_permissions(ctx.permissions)


def age(since: datetime | None, now: datetime | None = None, locale: str = i18n.DEFAULT) -> str:
    """How long something has waited, in words ("3 days", "5 hours"; "3 Tage")."""
    if since is None:
        return ""
    words = i18n.translations(locale)
    delta = (now or datetime.now(UTC)) - since
    days, hours, minutes = (int(delta.total_seconds() // s) for s in (86400, 3600, 60))
    if days >= 1:
        return words.ngettext("%(n)s day", "%(n)s days", days) % {"n": days}
    if hours >= 1:
        return words.ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    if minutes >= 1:
        return words.ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
    return words.gettext("less than a minute")


@pass_context
def _age(context: Context, since: datetime | None) -> str:
    return age(since, locale=i18n.locale_of(context))


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, ctx: PageContext = requires_page(Permission.ACCOUNT_SELF)) -> Any:
    shown = [(w, w.load(ctx)) for w in widgets_for(ctx)]
    return render(request, "home/index.html", {"page": ctx, "widgets": shown})


templates.env.filters["age"] = _age
