"""Telling systems outside Invigil (an applicant tracking system) that a
shortlist run completed (``shortlist.completed``) or an entry changed stage
(``stage.changed``), in the transaction of the change: a hook that writes
to an outbox then sends only what committed.

The payloads are docs/formats/shortlist-events.md: ids, counts, ranks,
stages, who and when; never a name, an email, a note or evidence. Hooks
are registered at start-up (none by default); each is called in order
with the unit of work, the event name and the payload.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from invigil.db.uow import UnitOfWork

EVENTS = ("shortlist.completed", "stage.changed")
Hook = Callable[[UnitOfWork, str, dict[str, Any]], None]
HOOKS: list[Hook] = []


def register(hook: Hook) -> None:
    """Add ``hook`` (once: registering it again changes nothing)."""
    if hook not in HOOKS:
        HOOKS.append(hook)


def unregister(hook: Hook) -> None:
    if hook in HOOKS:
        HOOKS.remove(hook)


def people(data: dict[str, Any]) -> list[uuid.UUID]:
    """The candidates a payload is about: the entry's (``stage.changed``) or
    every shortlisted entry's (``shortlist.completed``), for the outbox to
    find when one of them is erased."""
    found = [data.get("candidate_id")]
    found += [e.get("candidate_id") for e in data.get("entries") or () if isinstance(e, dict)]
    return sorted({uuid.UUID(str(c)) for c in found if c})


def announce(uow: UnitOfWork, event: str, data: dict[str, Any]) -> None:
    """Hand ``data`` to every registered hook, in this transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown shortlist event {event!r}")
    for hook in list(HOOKS):
        hook(uow, event, data)
