"""The README.txt of a person's export, in the person's language: it is
read by the person, not by staff (a candidate-facing text: every language
candidates are offered has it)."""

from __future__ import annotations

import textwrap
from datetime import datetime

from invigil import i18n
from invigil.i18n import N_

TITLE = N_("Your data from %(organisation)s")
PARAGRAPHS = (
    N_(
        "This archive is a copy of everything %(organisation)s keeps about you in Invigil, "
        "the system it uses for online exams. It was made on %(generated)s because you asked "
        "for it (request %(request)s)."
    ),
    N_("What is inside:"),
)
ITEMS = (
    N_(
        "person.json: the data itself, in sections: who you are (name, e-mail), the exams you "
        "were invited to and the mail sent about them, the consent texts you agreed to or "
        "declined, your attempts, your answers, your results as they were recorded, what the "
        "proctoring noticed during your exams and the flags it raised, the reviewers' decisions "
        "with their reasons, and your certificates. Dates and times are in UTC."
    ),
    N_(
        "evidence/: the recordings and pictures taken during your exams (webcam pictures, "
        "screen recordings, photos of your ID), as they were stored."
    ),
    N_(
        "manifest.json: every file of this archive with its size and SHA-256 fingerprint, so "
        "that you can check that nothing was changed. Evidence that was already erased is "
        "listed there as erased, with the date."
    ),
)
CLOSING = (
    N_(
        "What is not inside: the audit log, which records who did what and when. It holds "
        "identifiers and fingerprints, not your data, and is kept for as long as "
        "%(organisation)s uses Invigil."
    ),
    N_(
        "Questions about this export, or about what %(organisation)s does with your data, go "
        "to %(organisation)s, not to the makers of Invigil."
    ),
)


def readme(locale: str, *, organisation: str, generated: datetime, request: str) -> str:
    """The README in ``locale``, wrapped at 76 columns."""
    values = {
        "organisation": organisation,
        "generated": i18n.local_datetime(generated, locale),
        "request": request,
    }

    def say(message: str) -> str:
        return i18n.gettext(locale, message) % values

    title = say(TITLE)
    out = [title, "=" * len(title), ""]
    for text in PARAGRAPHS:
        out += [*textwrap.wrap(say(text), 76), ""]
    for text in ITEMS:
        out += [*textwrap.wrap(say(text), 76, initial_indent="- ", subsequent_indent="  "), ""]
    for text in CLOSING:
        out += [*textwrap.wrap(say(text), 76), ""]
    return "\n".join(out)
