"""Translations and locale-aware formats: what every page and mail says in
the reader's language.

The guarantees, and why:

- A catalog is read from its ``.po`` file (``invigil/translations/<lang>/
  LC_MESSAGES/messages.po``) and compiled in memory the first time it is
  used, so there is no build step to forget and no ``.mo`` file that can
  disagree with its source; ``make translations`` checks the sources.
- Only languages that have a catalog are offered (:data:`AVAILABLE`);
  anything else — a tenant setting, an invitation, a cookie, a browser
  header — falls back rather than failing, and a malformed
  ``Accept-Language`` is simply ignored.
- One function, :func:`negotiate`, decides a candidate's language, in one
  order: the candidate's own choice for this link, the invitation's
  language, the tenant's default, the browser's ``Accept-Language``, then
  the first language the tenant enables.
- Staff pages speak the signed-in user's language (``users.language``),
  but only among :data:`STAFF_LANGUAGES`: the languages whose catalog
  translates every string, staff pages included. Other catalogs need only
  the candidate's strings (those with a location in
  :data:`CANDIDATE_SOURCES`); a staff string left empty there falls back to
  English, and is never shown to staff in that language.
- Templates read the locale from the request (``request.state.locale``) or
  an explicit ``locale`` in their context; the gettext callables and the
  ``local_*`` filters are installed once on the shared Jinja environment
  by :func:`install`.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale
from babel.dates import format_date, format_skeleton, format_timedelta, get_datetime_format
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, Template, pass_context
from jinja2.runtime import Context

from invigil.errors import Invalid

DEFAULT = "en"
TRANSLATIONS = Path(__file__).parent / "translations"
# Where the player's strings live, as paths appear in a catalog's locations:
# its JavaScript, and the built-in policies' warnings (marked N_()), which the
# server sends as written and the player shows in the candidate's language.
PLAYER_SOURCES = (
    "src/invigil/web/static/player/",
    "src/invigil/web/static/player.js",
    "src/invigil/proctoring/presets.py",
)
# The languages staff pages are complete in: only these are offered on /account,
# and their catalogs must translate every string (see problems()).
STAFF_LANGUAGES: tuple[str, ...] = ("en", "de")
# Where the strings a candidate reads come from (templates, mail, the player,
# the Python that words a candidate's page), as paths appear in a catalog's
# locations. Every other catalog must translate these, and may leave the rest.
_TEMPLATES = "src/invigil/web/templates/"
CANDIDATE_SOURCES: tuple[str, ...] = (
    *PLAYER_SOURCES,
    _TEMPLATES + "base.html",
    _TEMPLATES + "error.html",
    _TEMPLATES + "mail/",
    _TEMPLATES + "delivery/take.html",
    _TEMPLATES + "delivery/declined.html",
    _TEMPLATES + "delivery/take_unavailable.html",
    _TEMPLATES + "delivery/done.html",
    _TEMPLATES + "delivery/player.html",
    _TEMPLATES + "delivery/error.html",
    _TEMPLATES + "delivery/_language_switcher.html",
    _TEMPLATES + "results/result.html",
    _TEMPLATES + "results/_result_body.html",
    _TEMPLATES + "retention/portal.html",  # the candidate portal's pages
    _TEMPLATES + "retention/portal_attempt.html",
    _TEMPLATES + "retention/portal_request.html",
    _TEMPLATES + "retention/portal_unavailable.html",
    _TEMPLATES + "results/result_unavailable.html",
    "src/invigil/content/consent.py",
    "src/invigil/delivery/landing.py",
    "src/invigil/delivery/error_pages.py",
    "src/invigil/delivery/mail.py",
    "src/invigil/certification/recert_mail.py",
    "src/invigil/results/result_link.py",
    "src/invigil/retention/portal.py",
    "src/invigil/retention/portal_pages.py",
    "src/invigil/retention/portal_links.py",
    "src/invigil/proctoring/disclosure.py",
    "src/invigil/retention/export_readme.py",  # the README of a person's data export
)
MAX_ACCEPT_LANGUAGE = 1000  # characters of the header looked at; the rest is ignored


def _discover() -> tuple[str, ...]:
    found = {
        p.parent.parent.name
        for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")
        if p.parent.parent.name.isascii()
    }
    return tuple(sorted(found | {DEFAULT}, key=lambda c: (c != DEFAULT, c)))


# The languages Invigil can speak: English, and every language with a catalog.
AVAILABLE: tuple[str, ...] = _discover()


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined (a table of
    labels); it is translated where it is shown, with ``_(value)``."""
    return message


def NC_(context: str, message: str) -> str:
    """Marks a word whose translation depends on where it stands (its
    ``msgctxt``); it is translated where it is shown, with
    ``pgettext(context, value)``."""
    return message


def NP_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a plural pair for extraction where it is defined; it is
    translated where it is shown, with :func:`ngettext`."""
    return singular, plural


def normalise(code: str | None) -> str | None:
    """``"de-DE"`` / ``"de_de"`` / ``"DE"`` -> ``"de"`` if Invigil speaks it, else None."""
    if not code or len(code) > 35:
        return None
    code = code.strip().replace("-", "_")
    if code in AVAILABLE:
        return code
    base = code.split("_", 1)[0].lower()
    return base if base in AVAILABLE else None


def check(code: str, field: str = "language", offered: Sequence[str] | None = None) -> str:
    """A language given by staff: one Invigil speaks (among ``offered``), or :class:`Invalid`."""
    offered = AVAILABLE if offered is None else offered
    found = normalise(code)
    if found is None or found not in offered:
        raise Invalid(
            f"the language {code[:35]!r} is not offered; choose one of {', '.join(offered)}",
            field=field,
        )
    return found


def staff_language(code: str | None) -> str:
    """The language of a staff user's pages: their preference if staff pages
    are complete in it (:data:`STAFF_LANGUAGES`), else English."""
    found = normalise(code)
    return found if found in STAFF_LANGUAGES else DEFAULT


def candidate_facing(locations: Iterable[tuple[str, int | None]]) -> bool:
    """Whether a catalog entry (by its locations) is read by candidates."""
    return any(path.startswith(CANDIDATE_SOURCES) for path, _ in locations)


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, best first. Malformed
    parts (and anything past :data:`MAX_ACCEPT_LANGUAGE` characters) are skipped."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35 or not all(c.isalnum() or c == "-" for c in tag):
            continue
        q = 1.0
        params = params.strip()
        if params:
            name, _, value = params.partition("=")
            if name.strip().lower() != "q":
                continue
            try:
                q = float(value)
            except ValueError:
                continue
            if not 0 < q <= 1:
                continue
        weighted.append((-q, index, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    *,
    enabled: Sequence[str],
    chosen: str | None = None,
    invitation: str | None = None,
    tenant_default: str | None = None,
    accept_language: str | None = None,
) -> str:
    """The one place a candidate's language is decided (see the module doc).
    Every candidate is checked against ``enabled`` (the tenant's languages,
    themselves limited to :data:`AVAILABLE`)."""
    allowed = [c for c in (normalise(e) for e in enabled) if c] or [DEFAULT]
    for candidate in (chosen, invitation, tenant_default):
        code = normalise(candidate)
        if code in allowed:
            return code
    browser = negotiate_locale(accepted(accept_language), allowed, sep="_")
    if browser:
        return normalise(browser) or allowed[0]
    return allowed[0]


def direction(code: str) -> str:
    """``"rtl"`` for right-to-left scripts (Arabic, Hebrew, Persian, Urdu...), else ``"ltr"``."""
    try:
        order = Locale.parse(code.replace("-", "_")).character_order
    except (UnknownLocaleError, ValueError, TypeError):
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def display_name(code: str) -> str:
    """A language in its own words ("Deutsch"), as a switcher shows it."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code
    return name[:1].upper() + name[1:]


# -- catalogs -------------------------------------------------------------------------


def catalog_path(code: str) -> Path:
    return TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"


@cache
def catalog(code: str) -> Catalog | None:
    path = catalog_path(code)
    if code not in AVAILABLE or not path.exists():
        return None
    with path.open("rb") as f:
        return read_po(f, locale=code)


@cache
def translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalog of ``code`` (English answers the source strings).
    Fuzzy entries are left out, as ``msgfmt`` does."""
    found = catalog(code)
    if found is None:
        return _gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, found, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


@cache
def player_messages(code: str) -> dict[str, str | dict[str, str]]:
    """The translated strings of the player's JavaScript, for ``t("...")``
    and ``tn("...", "...", n)`` (only those, not the whole catalog).

    A plural entry is keyed by its singular and maps CLDR plural categories
    ("one", "other", ...) to its forms: the gettext forms are in the order
    Babel writes the catalog's Plural-Forms (the language's categories in
    CLDR order, "other" last), and the browser picks one with Intl.PluralRules.
    """
    found = catalog(code)
    if found is None:
        return {}
    out: dict[str, str | dict[str, str]] = {}
    tags = plural_categories(code)
    for message in found:
        if not message.id or message.fuzzy:
            continue
        if not any(path.startswith(PLAYER_SOURCES) for path, _ in message.locations):
            continue
        if isinstance(message.id, str):
            if isinstance(message.string, str) and message.string:
                out[message.id] = message.string
        elif (
            isinstance(message.string, (list, tuple))
            and all(message.string)
            and len(message.string) == len(tags)
        ):
            out[message.id[0]] = dict(zip(tags, message.string, strict=True))
    return out


def plural_categories(code: str) -> list[str]:
    """The CLDR plural categories of a language, in its gettext forms' order."""
    from babel.plural import _plural_tags

    present = set(Locale.parse(code).plural_form.tags)
    return [tag for tag in _plural_tags if tag in present or tag == "other"]


def gettext(code: str, message: str) -> str:
    # An empty message would answer the catalog's header.
    return translations(code).gettext(message) if message else message


def ngettext(code: str, singular: str, plural: str, n: int) -> str:
    return translations(code).ngettext(singular, plural, n)


# -- formats --------------------------------------------------------------------------


def _babel(code: str) -> Locale:
    return Locale.parse(normalise(code) or DEFAULT)


def numbering_system(code: str) -> str:
    """The digits the ``local_*`` filters write ``code``'s numbers with: the
    locale's CLDR default ("latn" for Arabic as for English: 1,234.5). The
    player formats with the same system, whatever the browser's own default."""
    return str(_babel(code).default_numbering_system)


def local_datetime(value: datetime | None, code: str, empty: str = "") -> str:
    """Date and time in UTC, the way ``code`` writes them ("6. Dez. 2026, 18:00 UTC")."""
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    locale = _babel(code)
    day = format_date(value.astimezone(UTC).date(), format="medium", locale=locale)
    time = format_skeleton("Hm", value, tzinfo=UTC, locale=locale)
    pattern = str(get_datetime_format("medium", locale=locale))
    return pattern.replace("{1}", day).replace("{0}", time) + " UTC"


def local_date(value: date | datetime | None, code: str, empty: str = "") -> str:
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return format_date(value, format="medium", locale=_babel(code))


def local_time(value: datetime | None, code: str, empty: str = "") -> str:
    if value is None:
        return empty
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_skeleton("Hm", value, tzinfo=UTC, locale=_babel(code)) + " UTC"


Number = float | int | Decimal | str  # result documents keep decimals as strings ("4.08")


def _decimal(value: Number) -> Decimal | None:
    try:
        found = Decimal(str(value))
    except ArithmeticError:
        return None
    return found if found.is_finite() else None


def local_number(value: Number | None, code: str, empty: str = "") -> str:
    if value is None:
        return empty
    number = _decimal(value)
    return str(value) if number is None else format_decimal(number, locale=_babel(code))


def local_percent(value: Number | None, code: str, empty: str = "") -> str:
    """``value`` is a percentage (42.5 -> "42,5 %" in German), as Invigil stores them."""
    if value is None:
        return empty
    # The locale's own pattern ("42 %" in German, "42%" in English), every decimal given kept.
    number = _decimal(value)
    if number is None:
        return str(value)
    share = number / 100
    return format_percent(share, locale=_babel(code), decimal_quantization=False)


def local_duration(value: timedelta | float | int | None, code: str, empty: str = "") -> str:
    """A length of time in words ("45 minutes", "45 Minuten"); numbers are seconds."""
    if value is None:
        return empty
    delta = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
    return format_timedelta(delta, threshold=1.5, format="long", locale=_babel(code))


# -- templates ------------------------------------------------------------------------


# The locale of the page being rendered, for the templates that cannot see
# its context: a macro imported without context (``_table.html``) reads this.
_rendering: ContextVar[str | None] = ContextVar("invigil_rendering_locale", default=None)


def locale_of(context: Context | dict[str, Any]) -> str:
    """The locale a template renders in: an explicit ``locale`` in its
    context, else the request's, else the page being rendered, else English."""
    explicit = context.get("locale")
    if isinstance(explicit, str) and explicit in AVAILABLE:
        return explicit
    request = context.get("request")
    state = getattr(request, "state", None)
    found = getattr(state, "locale", None)
    if isinstance(found, str) and found in AVAILABLE:
        return found
    outer = _rendering.get()
    return outer if outer in AVAILABLE else DEFAULT


class _Template(Template):
    """A template that, while it renders, makes its locale the one its
    imported macros speak (they are imported without the page's context)."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        token = _rendering.set(locale_of(dict(*args, **kwargs)))
        try:
            return super().render(*args, **kwargs)
        finally:
            _rendering.reset(token)


@pass_context
def _current_locale(context: Context) -> str:
    return locale_of(context)


@pass_context
def _t_gettext(context: Context, message: str) -> str:
    return gettext(locale_of(context), message)


@pass_context
def _t_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return ngettext(locale_of(context), singular, plural, n)


@pass_context
def _t_pgettext(context: Context, ctx: str, message: str) -> str:
    return translations(locale_of(context)).pgettext(ctx, message)


@pass_context
def _t_npgettext(context: Context, ctx: str, singular: str, plural: str, n: int) -> str:
    return translations(locale_of(context)).npgettext(ctx, singular, plural, n)


@pass_context
def _translate(context: Context, message: str) -> str:
    """A string marked with N_ where it is defined, in the page's language
    (no placeholders substituted: the text is shown as the catalog gives it)."""
    return gettext(locale_of(context), message)


# What a page shows where staff's words about a person were: the retention
# purge empties them with the person's identity (ADR 0063), and '' is a
# value the services never accept where the words are required.
REMOVED = N_("(removed under the retention policy)")


@pass_context
def _said(context: Context, value: Any) -> str:
    """Staff's words as written; once removed (''), a note saying so; None
    (no words were asked for) shows nothing."""
    if value is None:
        return ""
    return str(value) or gettext(locale_of(context), REMOVED)


def _filter(fn: Any) -> Any:
    @pass_context
    def apply(context: Context, value: Any, empty: str = "") -> str:
        return str(fn(value, locale_of(context), empty))

    return apply


def install(env: Environment) -> None:
    """``_``, ``gettext``, ``ngettext`` (new-style: ``_("%(n)s left", n=3)``
    substitutes and escapes), ``{% trans %}``, and the ``local_*`` filters."""
    env.template_class = _Template
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts them
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _t_gettext, _t_ngettext, newstyle=True, pgettext=_t_pgettext, npgettext=_t_npgettext
    )
    env.globals["text_direction"] = direction
    env.globals["language_name"] = display_name
    env.globals["current_locale"] = _current_locale
    env.filters["translate"] = _translate
    env.filters["said"] = _said
    for name, fn in (
        ("local_datetime", local_datetime),
        ("local_date", local_date),
        ("local_time", local_time),
        ("local_number", local_number),
        ("local_percent", local_percent),
        ("local_duration", local_duration),
    ):
        env.filters[name] = _filter(fn)


def all_languages() -> Iterable[tuple[str, str]]:
    """(code, name in its own words) of every language Invigil speaks."""
    return ((c, display_name(c)) for c in AVAILABLE)


def staff_languages() -> Iterable[tuple[str, str]]:
    """(code, name in its own words) of every language staff pages are complete in."""
    return ((c, display_name(c)) for c in STAFF_LANGUAGES if c in AVAILABLE)


# -- checks (`make translations`, tests) -----------------------------------------------


def template_path() -> Path:
    return TRANSLATIONS / "messages.pot"


# A line of a .po file: blank, a comment, or a keyword and/or one whole quoted string.
_PO_LINE = re.compile(
    r'^(\s*|#.*|(msgctxt|msgid|msgid_plural|msgstr(\[\d+\])?)\s+"(\\.|[^"\\])*"\s*|"(\\.|[^"\\])*"\s*)$'
)


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(TRANSLATIONS.parent.parent.parent))
    except ValueError:
        return str(path)


def _syntax(path: Path, where: str, messages: int) -> list[str]:
    """What Babel's reader forgives: an unterminated string (it drops the last
    character), a stray line, a message given twice (the last one wins)."""
    out: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not _PO_LINE.match(line):
            out.append(f"{where}:{number}: not a valid .po line: {line[:60]!r}")
    entries = sum(1 for line in lines if line.startswith("msgid ") and line != 'msgid ""')
    if entries != messages:
        out.append(f"{where}: {entries} entries but {messages} distinct messages (duplicates?)")
    return out


def problems(code: str) -> list[str]:
    """What is wrong with one catalog: unreadable, a fuzzy entry, a
    placeholder or plural form that does not match its source, a string of
    the template (messages.pot) missing, or a string left untranslated that
    must be translated: every string in a staff language but English, only
    the candidate's (:data:`CANDIDATE_SOURCES`) in any other. An empty
    list: the catalog is sound."""
    path = catalog_path(code)
    try:
        with path.open("rb") as f:
            found = read_po(f, locale=code, abort_invalid=True)
    except Exception as exc:  # any parse failure is the finding
        return [f"{path}: cannot be read: {exc}"]
    out: list[str] = []
    where = _shown_path(path)
    out += _syntax(path, where, len(found))
    for message in found:
        if not message.id:
            continue
        shown = message.id if isinstance(message.id, str) else message.id[0]
        line = f"{where}:{message.lineno}: {shown[:60]!r}"
        if message.fuzzy:
            out.append(f"{line}: fuzzy (check the translation, then remove the fuzzy flag)")
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        required = code in STAFF_LANGUAGES or candidate_facing(message.locations)
        if code != DEFAULT and required and not all(strings):
            out.append(f"{line}: not translated")
    for message, errors in found.check():
        for error in errors:
            out.append(f"{where}:{message.lineno}: {str(message.id)[:60]!r}: {error}")
    if template_path().exists():
        with template_path().open("rb") as f:
            template = read_po(f)
        missing = [m.id for m in template if m.id and m.id not in found]
        for msgid in missing:
            shown = msgid if isinstance(msgid, str) else msgid[0]
            out.append(f"{where}: {shown[:60]!r}: missing (run `make translations`)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m invigil.i18n check``: every catalog's problems; exit 1 if any."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["check"]:
        print("usage: python -m invigil.i18n check", file=sys.stderr)
        return 2
    found = [p for code in AVAILABLE if catalog_path(code).exists() for p in problems(code)]
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"catalogs sound: {', '.join(AVAILABLE)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
