"""The exam's own words in other languages: its title, description and
section titles.

The exam's ``title``, ``description`` and its sections' ``title`` are
written in the tenant's default language. ``text_translations`` holds the
same words in others: ``{"de": {"title": ..., "description": ...,
"sections": [one title per section, in section order]}}``. A translation
has exactly as many section titles as the exam has sections, or it is
refused naming the field (a section title of "" stays without a heading).

Publishing freezes the translations of every language the tenant enables
into the exam version (:func:`frozen`), covered by its content hash, so
what candidates read never changes after publish. A language without a
translation is not a refusal: its candidates read the words as written,
marked with the language they are written in (as untranslated questions
are), and the exam page tells staff before they publish.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from invigil import i18n
from invigil.errors import Invalid

MAX_TITLE = 200  # as the exam's title
MAX_DESCRIPTION = 20_000  # as the exam's description
MAX_SECTION_TITLE = 200  # as a section's title
MAX_SECTIONS = 50  # as the exam's sections


def check_translations(
    raw: Mapping[str, Any], default: str, section_count: int
) -> dict[str, dict[str, Any]]:
    """The translations as given by staff: each key a language Invigil
    speaks other than ``default``, each value a title (required unless
    everything is blank), a description and one section title per section.
    Blank translations are dropped. Problems name ``text_translations.<code>``
    and the part (``.title``, ``.description``, ``.sections``)."""
    if len(raw) > len(i18n.AVAILABLE):
        raise Invalid(
            f"give at most {len(i18n.AVAILABLE)} translations, one per language",
            field="text_translations",
        )
    out: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        field = f"text_translations.{str(key)[:35]}"
        code = i18n.check(str(key), field=field)
        if code == default:
            raise Invalid(
                f"{code} is the default language: its words are the exam's own", field=field
            )
        if not isinstance(value, Mapping):
            raise Invalid(
                'a translation is an object: {"title", "description", "sections"}', field=field
            )
        unknown = sorted(str(k) for k in value if k not in ("title", "description", "sections"))
        if unknown:
            raise Invalid(
                f"a translation has only title, description and sections, not {unknown[0]}",
                field=f"{field}.{unknown[0][:35]}",
            )
        title = _text(value.get("title", ""), f"{field}.title", MAX_TITLE)
        description = _text(value.get("description", ""), f"{field}.description", MAX_DESCRIPTION)
        sections = _sections(value.get("sections", []), f"{field}.sections", section_count)
        if not title.strip() and not description.strip() and not any(s.strip() for s in sections):
            continue
        if not title.strip():
            raise Invalid("a translation needs the exam's title", field=f"{field}.title")
        out[code] = {
            "title": title.strip(),
            "description": description,
            "sections": [s.strip() for s in sections],
        }
    return out


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise Invalid("give text here", field=field)
    if len(value) > limit:
        raise Invalid(f"at most {limit} characters (this has {len(value)})", field=field)
    return value


def _sections(value: Any, field: str, count: int) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_SECTIONS:
        raise Invalid(f"give a list of at most {MAX_SECTIONS} section titles", field=field)
    titles = [_text(v, f"{field}.{n}", MAX_SECTION_TITLE) for n, v in enumerate(value)]
    if not titles:  # no section titles given: every section keeps none
        return [""] * count
    if len(titles) != count:
        raise Invalid(
            f"the exam has {count} sections, the translation {len(titles)} section titles; "
            f"give exactly {count}, in the exam's order",
            field=field,
        )
    return titles


def recheck(translations: Mapping[str, Any], section_count: int) -> list[str]:
    """The languages whose section titles no longer fit the exam's sections
    (sections were added or removed after they were translated)."""
    return sorted(
        code
        for code, t in translations.items()
        if len(t.get("sections", [])) not in (0, section_count)
    )


def frozen(
    translations: Mapping[str, Any], languages: Sequence[str], section_count: int
) -> dict[str, dict[str, Any]]:
    """What publishing freezes: the translations of the enabled ``languages``
    whose section titles fit the exam's sections."""
    out = {}
    for code in sorted(translations):
        t = translations[code]
        if code not in languages or len(t.get("sections", [])) != section_count:
            continue
        out[code] = {
            "title": t["title"],
            "description": t.get("description", ""),
            "sections": list(t["sections"]),
        }
    return out


def missing(
    translations: Mapping[str, Any], languages: Sequence[str], default: str, section_count: int
) -> list[str]:
    """The enabled languages that would read the exam's words as written."""
    have = frozen(translations, languages, section_count)
    return [c for c in languages if c != default and c not in have]


@dataclass(frozen=True)
class Said:
    """Some of the exam's words and the language they are in."""

    text: str
    lang: str

    def __str__(self) -> str:  # a template writes the words
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    @property
    def dir(self) -> str:
        return i18n.direction(self.lang)

    @property
    def attr(self) -> str:
        """The ``lang`` attribute value (BCP 47)."""
        return self.lang.replace("_", "-")


@dataclass(frozen=True)
class Words:
    """The exam's words for a candidate reading one language."""

    title: Said
    description: Said
    sections: tuple[Said, ...]

    def section(self, n: int) -> Said:
        return self.sections[n] if 0 <= n < len(self.sections) else Said("", self.title.lang)


def words(version: Any, locale: str | None, written_in: str) -> Words:
    """``version``'s title, description and section titles in ``locale``
    when it froze a translation for it, else as written (in ``written_in``,
    the language frozen with them, else the tenant's default)."""
    texts: dict[str, Any] = dict(getattr(version, "text_translations", None) or {})
    authored = str(getattr(version, "text_language", None) or written_in)
    own = [str(s.get("title") or "") for s in version.sections]
    t = texts.get(locale or "")
    if locale and t is not None and len(t.get("sections", [])) == len(own):
        sections = tuple(
            Said(x, locale) if x.strip() or not o.strip() else Said(o, authored)
            for x, o in zip(t["sections"], own, strict=True)
        )
        description = (
            Said(t["description"], locale)
            if t.get("description", "").strip() or not version.description.strip()
            else Said(version.description, authored)
        )
        return Words(Said(t["title"], locale), description, sections)
    return Words(
        Said(version.title, authored),
        Said(version.description, authored),
        tuple(Said(o, authored) for o in own),
    )
