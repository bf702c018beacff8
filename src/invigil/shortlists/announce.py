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


def announce(uow: UnitOfWork, event: str, data: dict[str, Any]) -> None:
    """Hand ``data`` to every registered hook, in this transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown shortlist event {event!r}")
    for hook in list(HOOKS):
        hook(uow, event, data)
