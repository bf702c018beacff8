"""Who hears that an attempt was submitted (docs/adr/0019-layers.md).

Delivery submits and scores; the domains above it (results releases a
result the moment it is submitted when the exam says so) register a
listener here from their ``hooks.py``. Listeners run in the submitting
transaction, after the first result is stored: what they write commits or
rolls back with the submission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from invigil.db.uow import UnitOfWork

if TYPE_CHECKING:
    from invigil.delivery.models import Attempt, AttemptResult

Listener = Callable[[UnitOfWork, "Attempt", "AttemptResult"], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add (or, by name, replace) a listener; called from a domain's hooks."""
    _listeners[name] = listener


def submitted(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> None:
    for name in sorted(_listeners):
        _listeners[name](uow, attempt, result)
