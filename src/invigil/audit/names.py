"""People and things by their names, for the audit log a person reads.

The log stores ids (a user's, an exam's); the audit log page shows names.
The log knows no domain, so each domain registers, when its package is
imported, a namer for the subject types it owns (``identity`` for users and
roles, ``content`` for banks, questions and exams, ``delivery`` for
candidates, invitations and attempts). :func:`resolve` asks each namer once
per page with every id of its type on the page: one query per type, never
one per row. An id no namer knows (deleted, or a type nobody names) is shown
as a short id.

Names are read from the live rows at display time, never from the entry: the
log keeps ids (and keyed hashes), so a person's e-mail leaves the log when it
leaves their row. A namer may answer a name with a note (``(name, N_("..."))``:
a deactivated account, an account that no longer exists), shown in the
reader's language.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from invigil import i18n
from invigil.db.uow import UnitOfWork
from invigil.i18n import N_

# A name, or a name and a note (an N_ message) about it.
Named = str | tuple[str, str]
Namer = Callable[[UnitOfWork, Sequence[uuid.UUID]], Mapping[uuid.UUID, Named]]
_namers: dict[str, Namer] = {}

# Actors that are not rows of any table.
FIXED_ACTORS = {"operator": N_("Operator"), "system": "Invigil"}  # N_: shown translated


def register(subject_type: str, namer: Namer) -> None:
    """``namer(uow, ids)`` answers {id: name} for the ids it finds."""
    _namers[subject_type] = namer


def registered() -> frozenset[str]:
    return frozenset(_namers)


def resolve(
    uow: UnitOfWork, wanted: Iterable[tuple[str, str]], locale: str = i18n.DEFAULT
) -> dict[tuple[str, str], str]:
    """Names for (type, id) pairs, one namer call per type, notes in ``locale``."""
    by_type: dict[str, set[uuid.UUID]] = {}
    for kind, text in wanted:
        if kind not in _namers:
            continue
        try:
            by_type.setdefault(kind, set()).add(uuid.UUID(text))
        except ValueError:
            continue
    found: dict[tuple[str, str], str] = {}
    for kind, ids in by_type.items():
        for ident, named in _namers[kind](uow, sorted(ids)).items():
            found[(kind, str(ident))] = _words(named, locale)
    return found


def _words(named: Named, locale: str) -> str:
    if isinstance(named, str):
        return named
    name, note = named
    return f"{name} ({i18n.gettext(locale, note)})"


def short(ident: str) -> str:
    """An id nobody could name, shortened for reading (the full id is a link away)."""
    return ident[:8] + "\u2026" if len(ident) > 12 else ident
