"""Who a viewer sees: the one rule for candidate identities in results.

A viewer holding ``candidate:view`` sees the candidate's name and email;
everyone else (a grader marking blind, a results viewer without it) sees a
stable pseudonym made from the attempt id, "Candidate 7F3A2C": the same
attempt always reads the same, and nothing in it names the person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from invigil import i18n
from invigil.delivery.models import Attempt, Candidate
from invigil.i18n import N_

PSEUDONYM = N_("Candidate %(code)s")


def code_of(attempt_id: uuid.UUID) -> str:
    """Six hexadecimal digits of the attempt id, upper case (ids are random,
    version 4 UUIDs, so these digits are too)."""
    return attempt_id.hex[:6].upper()


def pseudonym(attempt_id: uuid.UUID, locale: str = i18n.DEFAULT) -> str:
    """The pseudonym of an attempt's candidate in ``locale``."""
    return i18n.gettext(locale, PSEUDONYM) % {"code": code_of(attempt_id)}


@dataclass(frozen=True)
class Shown:
    code: str  # the pseudonym's code, shown to everyone (the attempt's)
    name: str | None  # None: the viewer may not see who it is
    email: str | None

    @property
    def pseudonymous(self) -> bool:
        return self.name is None

    def words(self, locale: str = i18n.DEFAULT) -> str:
        """The name, or the pseudonym in ``locale``."""
        if self.name is not None:
            return self.name
        return i18n.gettext(locale, PSEUDONYM) % {"code": self.code}


def candidate_shown(candidate: Candidate, attempt: Attempt, with_identity: bool) -> Shown:
    code = code_of(attempt.id)
    if not with_identity:
        return Shown(code, None, None)
    return Shown(code, candidate.name, candidate.email)
