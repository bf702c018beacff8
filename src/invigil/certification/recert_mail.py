"""The words of the recertification mails: reminders and the lapse notice
to the holder (in the holder's language), the lapse escalation to a group's
manager (in the manager's). The texts are templates/mail/recert_*.txt,
translated like the pages; the subjects are here (both are candidate
strings: every catalog translates them, see ``i18n.CANDIDATE_SOURCES``).

Each mail names the program, the certificate's number, its dates and what
to do; nothing in it is a link that grants anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from invigil import i18n
from invigil.i18n import N_
from invigil.web.pages import templates

REMINDER_SUBJECT = N_('Your certificate "%(program)s" expires on %(date)s')
LAPSED_SUBJECT = N_('Your certificate "%(program)s" has lapsed')
ESCALATION_SUBJECT = N_('Lapsed certificate: %(holder)s, "%(program)s"')


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str
    locale: str


@dataclass(frozen=True)
class About:
    """What every recertification mail names."""

    program: str
    number: str
    expires_at: datetime
    grace_ends_at: datetime
    recert_exam: bool  # the program has a recertification exam


def _render(template: str, locale: str, **context: object) -> str:
    found = templates.env.get_template(f"mail/{template}")
    return found.render(locale=locale, **context).strip("\n")


def days_until(now: datetime, then: datetime) -> int:
    """Whole days from ``now`` to ``then``, a started day counting (at least 0)."""
    seconds = (then - now).total_seconds()
    return max(0, int(-(-seconds // 86400)))


def reminder(
    about: About, name: str, locale: str, *, now: datetime, window_opens_at: datetime
) -> Composed:
    subject = i18n.gettext(locale, REMINDER_SUBJECT) % {
        "program": about.program,
        "date": i18n.local_date(about.expires_at, locale),
    }
    body = _render(
        "recert_reminder.txt",
        locale,
        name=name,
        program=about.program,
        number=about.number,
        expires=i18n.local_datetime(about.expires_at, locale),
        days=days_until(now, about.expires_at),
        grace_ends=i18n.local_date(about.grace_ends_at, locale),
        recert_exam=about.recert_exam,
        window_open=window_opens_at <= now,
        window_opens=i18n.local_date(window_opens_at, locale),
    )
    return Composed(subject[:300], body, locale)


def lapsed(about: About, name: str, locale: str) -> Composed:
    subject = i18n.gettext(locale, LAPSED_SUBJECT) % {"program": about.program}
    body = _render(
        "recert_lapsed.txt",
        locale,
        name=name,
        program=about.program,
        number=about.number,
        expired=i18n.local_date(about.expires_at, locale),
        grace_ended=i18n.local_date(about.grace_ends_at, locale),
    )
    return Composed(subject[:300], body, locale)


def escalation(
    about: About, manager: str, holder: str, holder_email: str, groups: list[str], locale: str
) -> Composed:
    subject = i18n.gettext(locale, ESCALATION_SUBJECT) % {
        "holder": holder,
        "program": about.program,
    }
    body = _render(
        "recert_escalation.txt",
        locale,
        name=manager,
        holder=holder,
        holder_email=holder_email,
        groups=", ".join(groups),
        program=about.program,
        number=about.number,
        expired=i18n.local_date(about.expires_at, locale),
        grace_ended=i18n.local_date(about.grace_ends_at, locale),
    )
    return Composed(subject[:300], body, locale)
