"""The translation machinery itself: negotiation, formats, the catalogs
(sound, complete for what the sources mark, `make translations` check),
the templates' gettext (escaping, plurals) and the player's subset."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import DictLoader, Environment

from invigil import i18n
from invigil.proctoring import presets

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("chosen", "invitation", "default", "header", "expected"),
    [
        (None, None, None, None, "en"),
        (None, None, None, "de-DE,de;q=0.9", "de"),
        (None, None, "en", "de-DE,de;q=0.9", "en"),  # the tenant's default beats the browser
        (None, "de", "en", "en", "de"),  # the invitation beats the default
        ("en", "de", "de", "de", "en"),  # the candidate's own choice beats everything
        ("fr", "fr", "fr", "fr", "en"),  # nothing offered: the first enabled language
        (None, "DE-at", None, None, "de"),  # a regional variant of an offered language
        (None, None, None, "fr;q=1, de;q=0.5, en;q=0.7", "en"),  # q-values order the browser's
    ],
)
def test_negotiation_order(
    chosen: str | None,
    invitation: str | None,
    default: str | None,
    header: str | None,
    expected: str,
) -> None:
    got = i18n.negotiate(
        enabled=["en", "de"],
        chosen=chosen,
        invitation=invitation,
        tenant_default=default,
        accept_language=header,
    )
    assert got == expected


def test_only_enabled_languages_are_chosen() -> None:
    # German everywhere, but the tenant enables English only.
    kwargs = {"chosen": "de", "invitation": "de", "tenant_default": "de", "accept_language": "de"}
    assert i18n.negotiate(enabled=["en"], **kwargs) == "en"
    assert i18n.negotiate(enabled=["de"], accept_language="en") == "de"
    assert i18n.negotiate(enabled=[], accept_language="de") == "en"  # never empty-handed


@given(st.text(max_size=3000))
def test_any_accept_language_header_gives_an_enabled_language(header: str) -> None:
    assert i18n.negotiate(enabled=["en", "de"], accept_language=header) in ("en", "de")


def test_direction_follows_the_script() -> None:
    for code in ("ar", "he", "fa", "ur", "ar_EG"):
        assert i18n.direction(code) == "rtl", code
    for code in ("en", "de", "fr", "ja", "nonsense", ""):
        assert i18n.direction(code) == "ltr", code


def test_formats_follow_the_locale() -> None:
    at = datetime(2026, 12, 6, 18, 5, tzinfo=UTC)
    assert i18n.local_datetime(at, "en") == "Dec 6, 2026, 18:05 UTC"
    assert i18n.local_datetime(at, "de") == "06.12.2026, 18:05 UTC"
    assert i18n.local_number(1234.5, "en") == "1,234.5"
    assert i18n.local_number(1234.5, "de") == "1.234,5"
    assert i18n.local_percent(42.5, "en") == "42.5%"
    assert i18n.local_percent(42.5, "de") == "42,5\xa0%"
    assert i18n.local_duration(timedelta(minutes=45), "en") == "45 minutes"
    assert i18n.local_duration(2700, "de") == "45 Minuten"
    assert i18n.local_datetime(None, "de", "nie") == "nie"


def test_every_catalog_is_sound() -> None:
    assert i18n.AVAILABLE[0] == "en" and "de" in i18n.AVAILABLE
    for code in i18n.AVAILABLE:
        assert i18n.problems(code) == [], code
    assert i18n.main(["check"]) == 0


def _write(tmp: Path, code: str, body: str) -> None:
    folder = tmp / code / "LC_MESSAGES"
    folder.mkdir(parents=True)
    header = (
        'msgid ""\nmsgstr ""\n"Language: de\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n'
        '"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    )
    (folder / "messages.po").write_text(header + body, encoding="utf-8")


@pytest.mark.parametrize(
    ("body", "finding"),
    [
        ('#, fuzzy\nmsgid "Start exam"\nmsgstr "Prüfung starten"\n', "fuzzy"),
        ('msgid "Start exam"\nmsgstr ""\n', "not translated"),
        ('#, python-format\nmsgid "%(n)s left"\nmsgstr "%(m)s übrig"\n', "placeholder"),
        ('msgid "Start exam"\nmsgstr "unterminated\n', "not a valid .po line"),
        ('msgid "A"\nmsgstr "B"\n\nmsgid "A"\nmsgstr "C"\n', "duplicates"),
        ('what is this\nmsgid "A"\nmsgstr "B"\n', "cannot be read"),
    ],
)
def test_the_check_finds_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, finding: str
) -> None:
    _write(tmp_path, "de", body)
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    found = i18n.problems("de")
    assert found and any(finding in p for p in found), found


def test_staff_languages_must_translate_everything_others_only_the_candidates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A staff string left empty is a finding in a staff language (German)
    and none in a candidate-only language (French); a candidate's string
    left empty is a finding in both."""
    staff_only = (
        '#: src/invigil/web/templates/identity/users.html\nmsgid "Invite user"\nmsgstr ""\n'
    )
    candidate = '#: src/invigil/web/templates/delivery/take.html\nmsgid "Start exam"\nmsgstr ""\n'
    python_candidate = '#: src/invigil/delivery/landing.py\nmsgid "Custom"\nmsgstr ""\n'
    for code in ("de", "fr"):
        _write(tmp_path, code, staff_only + "\n" + candidate + "\n" + python_candidate)
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    assert "de" in i18n.STAFF_LANGUAGES and "fr" not in i18n.STAFF_LANGUAGES
    untranslated = {
        code: {p.split(": ")[1] for p in i18n.problems(code) if p.endswith("not translated")}
        for code in ("de", "fr")
    }
    assert untranslated["de"] == {"'Invite user'", "'Start exam'", "'Custom'"}
    assert untranslated["fr"] == {"'Start exam'", "'Custom'"}


def test_the_candidate_sources_exist() -> None:
    """A candidate-facing source renamed or moved would silently leave its
    strings optional in the candidate-only languages."""
    for source in i18n.CANDIDATE_SOURCES:
        assert (ROOT / source).exists(), source
    assert i18n.candidate_facing([("src/invigil/web/templates/mail/invitation.txt", None)])
    assert not i18n.candidate_facing([("src/invigil/web/templates/identity/users.html", None)])


def test_the_catalogs_hold_every_marked_string(tmp_path: Path) -> None:
    """What `make translations` extracts today is what the catalogs hold:
    a string marked (or changed) without updating them fails here."""
    out = tmp_path / "messages.pot"
    # The same extraction as `make translations`, through Babel's own command
    # line interface in this process (no executable to find).
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "--add-location=file",
         "--omit-header", "-o", str(out), str(ROOT)]
    )  # fmt: skip
    with out.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    assert "I agree" in extracted and "Submit now" in extracted  # templates, JS
    assert "Custom" in extracted  # Python's N_
    for code in i18n.AVAILABLE:
        catalog = i18n.catalog(code)
        assert catalog is not None
        held = {m.id for m in catalog if m.id}
        assert extracted - held == set(), f"{code}: run `make translations`"


ENV_TEMPLATES = {
    "page.html": (
        '{{ _("Hello %(name)s", name=who) }}|'
        "{% trans count=n %}{{ count }} attempt allowed{% pluralize %}"
        '{{ count }} attempts allowed{% endtrans %}|{{ _("I agree") }}|'
        "{{ at | local_datetime }}|{{ 0.5 | local_number }}"
    )
}


def _env() -> Environment:
    env = Environment(loader=DictLoader(ENV_TEMPLATES), autoescape=True)
    i18n.install(env)
    return env


def test_templates_translate_escape_and_pluralise() -> None:
    page = _env().get_template("page.html")
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    de = page.render(locale="de", who="<b>", n=2, at=at)
    assert de.split("|") == [
        "Hello &lt;b&gt;",  # no translation: the source, the variable escaped
        "2 Versuche erlaubt",
        "Ich stimme zu",
        "02.01.2026, 03:04 UTC",
        "0,5",
    ]
    en = page.render(who="x", n=1, at=at)  # no locale and no request: English
    assert en.split("|")[1:3] == ["1 attempt allowed", "I agree"]


def test_the_player_gets_only_its_own_strings() -> None:
    messages = i18n.player_messages("de")
    assert messages["Submit now"] == "Jetzt abgeben"
    assert "I agree" not in messages  # a page's string, not the player's
    assert i18n.player_messages("en") == {}  # English: the source strings


def test_the_player_gets_the_built_in_warnings_translated() -> None:
    """A built-in policy's warning reaches the player as written (English);
    the player shows it from these, in the candidate's language."""
    messages = i18n.player_messages("de")
    warnings = {
        rule.message
        for policy in presets.PRESETS.values()
        for rule in policy.rules
        if rule.action == "warn"
    }
    assert warnings and all(isinstance(messages.get(w), str) and messages[w] for w in warnings)
    assert messages["Keep your face in view of the camera."] == (
        "Bleiben Sie mit Ihrem Gesicht im Bild der Kamera."
    )
    assert "Text was copied." not in messages  # a reviewer's words, not the candidate's


def test_make_translations_is_a_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntranslations:" in makefile and "invigil.i18n check" in makefile
    assert shutil.which("make") is None or "babel.cfg" in makefile


TEMPLATES = ROOT / "src" / "invigil" / "web" / "templates"
NOT_WORDS = {"Invigil"}  # the product's name


def unmarked_words(source: str) -> set[str]:
    """Words a person reads that are outside _() and {% trans %}."""
    source = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
    source = re.sub(r"{#.*?#}|{{.*?}}|{%.*?%}", " ", source, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S | re.I)
    source = html.unescape(re.sub(r"<[^>]+>", " ", source))
    source = re.sub(r'[\w-]+="[^"]*"', " ", source)  # attribute fragments between tags
    return set(re.findall(r"[^\W\d_]{2,}", source)) - NOT_WORDS


def test_every_template_marks_every_word() -> None:
    """Every template, page or part, HTML or mail text, has no visible word
    outside _() or {% trans %}: a new sentence added anywhere unmarked fails
    here. And every page declares itself translated, so its <html lang> and
    dir follow the reader's language."""
    templates = sorted([*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")])
    assert len(templates) > 60
    for path in templates:
        assert unmarked_words(path.read_text()) == set(), path.relative_to(TEMPLATES)
    pages = [p for p in templates if re.search(r'{% extends "base.html" %}', p.read_text())]
    assert len(pages) > 30
    for path in pages:
        declared = re.search(r"^{% set translated = true %}$", path.read_text(), re.M)
        assert declared, f"{path.relative_to(TEMPLATES)} does not declare itself translated"
    assert unmarked_words("<p>{{ _('Start') }} Weiter</p>") == {"Weiter"}


PLAYER = ROOT / "src" / "invigil" / "web" / "static"


def test_arabic_has_all_six_plural_forms() -> None:
    """Arabic's CLDR categories, in the order of its gettext forms; every plural
    entry of its catalog has a form for each, and the player receives them."""
    assert i18n.plural_categories("ar") == ["zero", "one", "two", "few", "many", "other"]
    found = i18n.catalog("ar")
    assert found is not None and found.num_plurals == 6
    plurals = [m for m in found if m.id and not isinstance(m.id, str)]
    assert plurals
    for message in plurals:
        # A staff string may stay untranslated in Arabic (English is shown),
        # but never half-translated; a candidate's string has every form.
        assert len(message.string) == 6, message.id
        assert all(message.string) or not any(message.string), message.id
        if i18n.candidate_facing(message.locations):
            assert all(message.string), message.id
    points = i18n.player_messages("ar")["%(n)s point"]
    assert isinstance(points, dict)
    assert list(points) == ["zero", "one", "two", "few", "many", "other"]
    assert points["one"] == "درجة واحدة" and points["few"] == "%(n)s درجات"


def test_every_language_is_offered_with_its_direction_and_digits() -> None:
    assert i18n.AVAILABLE == ("en", "ar", "de", "es", "fr")
    assert [i18n.direction(c) for c in i18n.AVAILABLE] == ["ltr", "rtl", "ltr", "ltr", "ltr"]
    # Latin digits everywhere: Babel's default for Arabic, and what the player is told.
    assert {i18n.numbering_system(c) for c in i18n.AVAILABLE} == {"latn"}
    assert i18n.local_number(1234.5, "ar") == "1,234.5"
    assert i18n.local_number(1234.5, "fr") == "1\u202f234,5"
    assert i18n.gettext("ar", "Submit exam") == "تسليم الاختبار"


def test_french_keeps_its_spaces_with_their_words() -> None:
    """French puts a space before : ; ? ! and inside « »; Invigil's is always the
    narrow no-break space (U+202F), so no line ever starts with the sign."""
    found = i18n.catalog("fr")
    assert found is not None
    for message in found:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            bare = re.sub(r"<[^>]+>|https?://\S+|%\(\w+\)s", "", text)
            assert not re.search(r"[ \u00a0][:;?!»]|«[ \u00a0]|\S[;?!»]", bare), text
            assert not re.search(r"\S:(?!//)", bare.replace("\u202f:", "")), text


# Parts of translated pages that cannot declare it themselves (the frame, macros, includes).
TRANSLATED_PARTS = [
    "base.html",
    "_staff_nav.html",
    "_table.html",
    "_error_summary.html",
    "charts.html",
    "identity/_link.html",
    "identity/_messages.html",
    "identity/_permissions.html",
    "identity/home_seats.html",
    "identity/home_security.html",
]


def test_the_staff_frame_and_the_identity_and_audit_pages_are_translated() -> None:
    """Every identity and audit page declares itself translated (so the
    word check above covers it), and the parts every staff page shares mark
    every word."""
    declared = {
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*.html")
        if re.search(r"^{% set translated = true %}$", p.read_text(), re.M)
    }
    pages = {
        str(p.relative_to(TEMPLATES))
        for folder in ("identity", "audit", "home")
        for p in (TEMPLATES / folder).glob("*.html")
        if not p.name.startswith(("_", "home_"))
    }
    assert pages and pages <= declared, pages - declared
    assert {"error.html", "home.html"} <= declared
    for name in TRANSLATED_PARTS:
        assert unmarked_words((TEMPLATES / name).read_text()) == set(), name


def test_a_macro_imported_without_context_speaks_the_page_language() -> None:
    """`{% from "_table.html" import ... %}` gives the macro no request and
    no locale; it speaks the language of the page that renders it."""
    env = Environment(
        loader=DictLoader(
            {
                "macro.html": '{% macro m() %}{{ _("I agree") }}|{{ "I agree" | translate }}{% endmacro %}',
                "page.html": '{% from "macro.html" import m %}{{ m() }}',
            }
        ),
        autoescape=True,
    )
    i18n.install(env)
    assert env.get_template("page.html").render(locale="de") == "Ich stimme zu|Ich stimme zu"
    assert env.get_template("page.html").render() == "I agree|I agree"
