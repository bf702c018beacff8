"""The consent text a candidate agrees to, in the candidate's language.

A consent text is the exam author's own words (optional) followed by
sentences generated from the exam's proctoring policy: what is recorded,
how long it is kept, and "I agree...". The generated sentences come from
the catalog of the language asked for, with its plural forms and number
format; the author's words come from the exam (``consent_text`` in the
tenant's default language, ``consent_translations`` for the others).

Publishing freezes the complete text for every language the tenant enables
(:func:`frozen_texts`), so what a candidate agrees to never changes after
publish, not even when a catalog is corrected. An author who wrote words of
their own must have written them in every enabled language: otherwise
publishing is refused, naming each missing language, because a candidate
must never agree to a text of which part is in a language they did not
choose (docs/adr/0026-consent-frozen-per-language.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from invigil import i18n
from invigil.errors import Invalid
from invigil.i18n import N_, NC_, NP_
from invigil.proctoring import disclosure
from invigil.proctoring.policy import Policy
from invigil.proctoring.policy import resolve as resolve_policy

MAX_TEXT = 20_000  # characters of the author's consent text, in each language


@dataclass(frozen=True)
class Disclosure:
    """What the candidate is told is captured, derived from one policy
    (:mod:`invigil.proctoring.disclosure`): the consent text, the landing
    page and the system check all read it."""

    label: str
    captures: tuple[str, ...]
    recorded: tuple[str, ...]  # each capture in (English) words, in the same order
    kept_days: int | None  # how long the recordings are kept (None: the organisation's records)
    snapshot_seconds: int = 0  # how often the camera takes a snapshot (the page words it itself)
    preset: str = "standard"  # the preset whose label and retention are told ("custom" for none)
    kept_from: str = "attempt_submitted"  # the event the days are counted from

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        """(capture, in words) pairs, for the page."""
        return tuple(zip(self.captures, self.recorded, strict=True))

    @property
    def needs(self) -> frozenset[str]:
        """What the browser must provide before the clock starts (the system check)."""
        return frozenset(d for d, on in self.requirements().items() if on)

    def requirements(self) -> dict[str, bool]:
        return disclosure.requirements(self.captures)

    @classmethod
    def of(
        cls,
        policy: Policy,
        label: str,
        kept_days: int | None,
        preset: str = "standard",
        kept_from: str = "attempt_submitted",
    ) -> Disclosure:
        captured = disclosure.captures(policy)
        recorded = tuple(disclosure.describe(c, policy) for c in captured)
        return cls(
            label, captured, recorded, kept_days, policy.snapshot_interval_seconds, preset,
            kept_from,
        )  # fmt: skip


@dataclass(frozen=True)
class Period:
    """How long one class of a candidate's data is kept: ``days`` (None:
    for as long as the organisation keeps its records) after ``start``,
    then ``then`` (delete or anonymise)."""

    days: int | None
    start: str
    then: str


@dataclass(frozen=True)
class Kept:
    """The periods of the retention policy version a consent text states
    (provided by the retention domain through ``invigil.delivery.keeping``):
    the evidence's for the exam's preset, the answers', the result's and
    the candidate's identity's."""

    version: int
    evidence: Period
    answers: Period
    results: Period
    identity: Period


# The label and how long recordings are kept, by the exam's preset: the
# days of the documented retention defaults, frozen at publish; the page and
# the consent text state the days of the tenant's retention policy in force
# instead (``Kept``, through ``invigil.delivery.keeping``). A custom policy
# keeps its preset's retention and is called "custom".
# The words are marked with N_ and translated where a page shows them.
PRESET_LABELS = {
    "practice": (N_("Practice"), 30),
    "standard": (N_("Standard"), 90),
    "strict": (N_("Strict"), 180),
    "high_stakes": (N_("High stakes"), 365),
}
CUSTOM_LABEL = N_("Custom")
# The same labels inside a sentence of the consent text ("uses standard
# proctoring"): a level's name, translated apart from the same words elsewhere.
LEVEL = "proctoring level"
IN_SENTENCE = {
    "practice": NC_("proctoring level", "practice"),
    "standard": NC_("proctoring level", "standard"),
    "strict": NC_("proctoring level", "strict"),
    "high_stakes": NC_("proctoring level", "high stakes"),
    "custom": NC_("proctoring level", "custom"),
}

# The generated sentences, in the order they are read.
USES_RECORDED = N_(
    "This exam uses %(label)s proctoring. While I take it, the following is recorded: %(items)s."
)
USES_NOTHING = N_(
    "This exam uses %(label)s proctoring. While I take it, nothing is recorded beyond my answers."
)
ITEM_SEPARATOR = N_("; ")
KEPT = NP_(
    "The recordings are kept for %(count)s day after the exam and then erased.",
    "The recordings are kept for %(count)s days after the exam and then erased.",
)
USED_FOR = N_(
    "They are used only to check that the exam was taken fairly; a person reviews anything "
    "flagged before a result that depends on it is final."
)
I_AGREE = N_("I agree to take this exam under these conditions.")
# The recordings' period when it is not counted from the exam, or has no end.
KEPT_AFTER_RELEASE = NP_(
    "The recordings are kept for %(count)s day after my result is released and then erased.",
    "The recordings are kept for %(count)s days after my result is released and then erased.",
)
KEPT_ALWAYS = N_("The recordings are kept for as long as the organisation keeps its records.")
# When a period starts, inside the sentences below.
AFTER = {
    "attempt_submitted": N_("after the exam"),
    "result_released": N_("after my result is released"),
    "certificate_expired": N_("after my certificate expires"),
    "candidate_last_active": N_("after my last activity"),
}
ANSWERS_KEPT = NP_(
    "My answers are kept for %(count)s day %(after)s and then deleted.",
    "My answers are kept for %(count)s days %(after)s and then deleted.",
)
ANSWERS_ALWAYS = N_("My answers are kept for as long as the organisation keeps its records.")
# What the results class does at the end of its period (docs/adr/0058):
# "anonymise" keeps the scores and removes the answers a result repeats;
# "delete" deletes the result (revisions, releases, grading).
RESULT_KEPT = {
    "anonymise": NP_(
        "My result is kept for %(count)s day %(after)s; then the answers it repeats "
        "are removed from it, and the scores stay.",
        "My result is kept for %(count)s days %(after)s; then the answers it repeats "
        "are removed from it, and the scores stay.",
    ),
    "delete": NP_(
        "My result is kept for %(count)s day %(after)s and then deleted.",
        "My result is kept for %(count)s days %(after)s and then deleted.",
    ),
}
RESULT_ALWAYS = N_("My result is kept for as long as the organisation keeps its records.")
IDENTITY_KEPT = NP_(
    "My name and e-mail address are kept for %(count)s day %(after)s and then removed.",
    "My name and e-mail address are kept for %(count)s days %(after)s and then removed.",
)
IDENTITY_ALWAYS = N_(
    "My name and e-mail address are kept for as long as the organisation keeps its records."
)


def preset_of(settings: Mapping[str, Any]) -> str:
    """The proctoring preset whose retention an exam's recordings follow
    (a custom policy keeps its preset's)."""
    preset = str(settings.get("proctoring_preset", "standard"))
    return preset if preset in PRESET_LABELS else "standard"


def disclosure_of(
    settings: Mapping[str, Any], policy: Policy | None = None, kept: Kept | None = None
) -> Disclosure:
    """What ``policy`` captures, told in the words of the settings' preset;
    ``policy`` defaults to the settings' effective policy (what an attempt
    freezes at start). ``kept``: the retention periods to tell (None: the
    preset's documented default days)."""
    if policy is None:
        policy = resolve_policy(dict(settings))
    preset = str(settings.get("proctoring_preset", "standard"))
    if preset not in PRESET_LABELS:
        preset = "standard"
    label, days = PRESET_LABELS[preset]
    if settings.get("proctoring_policy") is not None:
        label, preset = CUSTOM_LABEL, "custom"
    if kept is None:
        return Disclosure.of(policy, label, days, preset)
    return Disclosure.of(policy, label, kept.evidence.days, preset, kept.evidence.start)


def _period(locale: str, plural: tuple[str, str], always: str, period: Period) -> str:
    if period.days is None:
        return i18n.gettext(locale, always)
    after = i18n.gettext(locale, AFTER.get(period.start, AFTER["attempt_submitted"]))
    return i18n.ngettext(locale, *plural, period.days) % {
        "count": i18n.local_number(period.days, locale),
        "after": after,
    }


def _evidence(locale: str, days: int | None, start: str) -> str:
    if days is None:
        return i18n.gettext(locale, KEPT_ALWAYS)
    plural = KEPT_AFTER_RELEASE if start == "result_released" else KEPT
    return i18n.ngettext(locale, *plural, days) % {"count": i18n.local_number(days, locale)}


def kept_paragraph(locale: str, kept: Kept) -> str:
    """The consent text's paragraph on how long things are kept, in
    ``locale``: the recordings (what they are used for), the answers, the
    result and the candidate's identity."""
    results = RESULT_KEPT.get(kept.results.then, RESULT_KEPT["anonymise"])
    return " ".join(
        [
            _evidence(locale, kept.evidence.days, kept.evidence.start),
            i18n.gettext(locale, USED_FOR),
            _period(locale, ANSWERS_KEPT, ANSWERS_ALWAYS, kept.answers),
            _period(locale, results, RESULT_ALWAYS, kept.results),
            _period(locale, IDENTITY_KEPT, IDENTITY_ALWAYS, kept.identity),
        ]
    )


def restate(frozen: str, locale: str, kept: Kept) -> str:
    """A consent text frozen at publish, with its paragraph on how long
    things are kept stated from ``kept`` (the retention policy version in
    force for the candidate). The generated paragraphs are the text's last
    three (after the author's words, whatever they hold): the second of
    them is the one on keeping."""
    paragraphs = frozen.split("\n\n")
    if len(paragraphs) < 3:  # pragma: no cover - every frozen text ends with the three
        return frozen
    paragraphs[-2] = kept_paragraph(locale, kept)
    return "\n\n".join(paragraphs)


def generated(settings: Mapping[str, Any], locale: str) -> list[str]:
    """The paragraphs generated from the proctoring policy, in ``locale``."""
    d = disclosure_of(settings)
    policy = resolve_policy(dict(settings))
    label = i18n.translations(locale).pgettext(LEVEL, IN_SENTENCE[d.preset])
    if d.captures:
        sep = i18n.gettext(locale, ITEM_SEPARATOR)
        items = sep.join(disclosure.describe(c, policy, locale) for c in d.captures)
        uses = i18n.gettext(locale, USES_RECORDED) % {"label": label, "items": items}
    else:
        uses = i18n.gettext(locale, USES_NOTHING) % {"label": label}
    kept = _evidence(locale, d.kept_days, d.kept_from)
    return [uses, kept + " " + i18n.gettext(locale, USED_FOR), i18n.gettext(locale, I_AGREE)]


def text(author_text: str, settings: Mapping[str, Any], locale: str) -> str:
    """The exact text a candidate reading ``locale`` agrees to: the author's
    words (already in ``locale``), then the generated paragraphs."""
    parts = [author_text.strip()] if author_text.strip() else []
    return "\n\n".join([*parts, *generated(settings, locale)])


def check_translations(raw: Mapping[str, Any], default: str) -> dict[str, str]:
    """The author's consent translations as given by staff: each key a
    language Invigil speaks (not the tenant's default, whose text is the
    exam's ``consent_text``), each value a bounded text; blank ones dropped.
    Problems name ``consent_translations.<code>``."""
    if len(raw) > len(i18n.AVAILABLE):
        raise Invalid(
            f"give at most {len(i18n.AVAILABLE)} consent translations, one per language",
            field="consent_translations",
        )
    out: dict[str, str] = {}
    for key, value in raw.items():
        field = f"consent_translations.{str(key)[:35]}"
        code = i18n.check(str(key), field=field)
        if code == default:
            raise Invalid(
                f"{code} is the default language: its consent text is the exam's consent text",
                field=field,
            )
        if not isinstance(value, str):
            raise Invalid("a consent translation is text", field=field)
        if len(value) > MAX_TEXT:
            raise Invalid(f"a consent text has at most {MAX_TEXT} characters", field=field)
        if value.strip():
            out[code] = value
    return out


def frozen_texts(
    consent_text: str,
    translations: Mapping[str, str],
    settings: Mapping[str, Any],
    languages: Sequence[str],
    default: str,
) -> dict[str, str]:
    """The complete consent text for every language in ``languages`` (the
    tenant's enabled ones), as publishing freezes it. The author's words in
    the default language are ``consent_text``; in another, its translation.
    Refused (naming each missing language) when the author wrote words of
    their own and left an enabled language without them."""
    own = {code: t for code, t in translations.items() if t.strip()}
    if consent_text.strip():
        own[default] = consent_text
    missing = [c for c in languages if own and c not in own]
    if missing:
        first = missing[0]
        field = "consent_text" if first == default else f"consent_translations.{first}"
        named = [f"{i18n.display_name(c)} ({c})" for c in missing]
        raise Invalid(
            "the consent text is written in "
            + ", ".join(f"{i18n.display_name(c)} ({c})" for c in sorted(own))
            + " but not in "
            + ", ".join(named)
            + ", which this organisation offers its candidates; add it in every offered "
            "language, or remove the custom consent text",
            field=field,
            missing=missing,
        )
    return {code: text(own.get(code, ""), settings, code) for code in languages}
