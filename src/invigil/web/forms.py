"""Form errors, one way on every staff page: a summary at the top of the
page (``_error_summary.html``, included by ``base.html``) that links to
each field in error, focus moved to it (``static/staff/errors.js``), and
each such field marked ``aria-invalid`` and described by its message.

Pages hand their errors to the template under the names they already use:
``error`` (a sentence), ``problems`` (``{"field", "message"}`` items),
and per form section ``<section>_error`` / ``<section>_problems``
(``{"field" or "where", "message"}``). :func:`summary` gathers them all, so
no error can be shown only out of view. A problem's link goes to its
field's element id (``field_ids["<section>.<field>"]`` or ``field_ids[field]``
if the page gives one, else
``<prefix><field>``); a page-wide ``error`` to ``form_anchor``; a section's
error to ``<section>_field`` if given, else to its heading ``<section>-h``.

A message that the catalogs hold (marked ``N_`` where it is written) is
shown in the page's language; any other stays as written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from invigil import i18n

# The element id prefix of each section's fields (a page's own convention).
SECTION_PREFIX = {"settings": "s-", "details": "d-", "pool": "pool-", "fixed": "fixed-"}
# Where a section's error without a field points, when not its heading.
SECTION_ANCHOR = {"image": "image-file", "import": "import-file", "search": "questions-h"}
ERROR_KEYS = ("error", "problems")


def _items(value: Any) -> list[Mapping[str, Any]]:
    if not value:
        return []
    if isinstance(value, str):
        return [{"message": value}]
    return [p if isinstance(p, Mapping) else {"message": str(p)} for p in value]


def _where(item: Mapping[str, Any], message: str) -> str:
    where = str(item.get("where") or "")
    return f"{where[:1].upper()}{where[1:]}: {message}" if where else message


@pass_context
def summary(ctx: Context) -> list[dict[str, str]]:
    """Every error of the page as ``{"message", "href"}`` (href may be empty)."""
    ids: Mapping[str, str] = ctx.get("field_ids") or {}
    main_anchor = str(ctx.get("form_anchor") or "")
    locale = i18n.locale_of(ctx)
    out: list[dict[str, str]] = []
    for key in sorted(ctx.get_all()):
        if key in ERROR_KEYS:
            section, prefix = "", str(ctx.get("field_prefix") or "f-")
        elif key.endswith("_error") or key.endswith("_problems"):
            section = key.rsplit("_", 1)[0]
            prefix = SECTION_PREFIX.get(section, f"{section}-")
        else:
            continue
        if callable(ctx.get(key)):
            continue
        for item in _items(ctx.get(key)):
            field = str(item.get("field") or "")
            if field:
                href = "#" + (ids.get(f"{section}.{field}") or ids.get(field) or prefix + field)
            elif section:
                anchor = ctx.get(f"{section}_field") or SECTION_ANCHOR.get(section)
                href = "#" + str(anchor or f"{section}-h")
            else:
                href = f"#{main_anchor}" if main_anchor else ""
            message = i18n.gettext(locale, str(item.get("message", "")))
            out.append({"message": _where(item, message), "href": href})
    return out


@pass_context
def invalid(ctx: Context, element_id: str, hint: str = "") -> Markup:
    """`` aria-invalid="true" aria-describedby="<id>-err"`` on a field the
    summary links to (its message is ``error_message(id)``), else nothing;
    ``hint``, the id of the field's own hint, stays in ``aria-describedby``."""
    described = [hint] if hint else []
    bad = any(p["href"] == f"#{element_id}" for p in summary(ctx))
    if bad:
        described.append(f"{element_id}-err")
    attrs = Markup(' aria-invalid="true"') if bad else Markup("")
    if described:
        attrs += Markup(' aria-describedby="{}"').format(" ".join(described))
    return attrs


@pass_context
def field_error(ctx: Context, element_id: str) -> Markup:
    """The field's own message(s), next to it, with the id ``aria_invalid`` points at."""
    found = [p["message"] for p in summary(ctx) if p["href"] == f"#{element_id}"]
    if not found:
        return Markup("")
    text = " ".join(_sentence(m) for m in found)
    return Markup('<p class="err" id="{}-err">{}</p>').format(element_id, text)


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    return message[0].upper() + message[1:] + ("" if message[-1] in ".!?" else ".")


def install(env: Any) -> None:
    env.globals.update(error_summary=summary, aria_invalid=invalid, error_message=field_error)
