"""People and things by their names, for the audit log a person reads.

The log stores ids (a user's, an exam's); the audit log page shows names.
The log knows no domain, so each domain registers, when its package is
imported, a namer for the subject types it owns (``identity`` for users and
roles, ``content`` for banks, questions and exams, ``delivery`` for
candidates, invitations and attempts). :func:`resolve` asks each namer once
per page with every id of its type on the page: one query per type, never
one per row. An id no namer knows (deleted, or a type nobody names) is shown
as a short id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from invigil.db.uow import UnitOfWork
from invigil.i18n import N_

Namer = Callable[[UnitOfWork, Sequence[uuid.UUID]], Mapping[uuid.UUID, str]]
_namers: dict[str, Namer] = {}

# Actors that are not rows of any table.
FIXED_ACTORS = {"operator": N_("Operator"), "system": "Invigil"}  # N_: shown translated


def register(subject_type: str, namer: Namer) -> None:
    """``namer(uow, ids)`` answers {id: name} for the ids it finds."""
    _namers[subject_type] = namer


def registered() -> frozenset[str]:
    return frozenset(_namers)


def resolve(uow: UnitOfWork, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Names for (type, id) pairs, one namer call per type."""
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
        for ident, name in _namers[kind](uow, sorted(ids)).items():
            found[(kind, str(ident))] = name
    return found


def short(ident: str) -> str:
    """An id nobody could name, shortened for reading (the full id is a link away)."""
    return ident[:8] + "\u2026" if len(ident) > 12 else ident
