"""Who hears that a reviewer recorded an attempt's integrity outcome
(docs/adr/0019-layers.md).

Proctoring records review decisions; the domains above it (results
releases a result once the review is closed) register a listener here
from their ``hooks.py``. Listeners run in the deciding transaction, after
the attempt's ``review_outcome`` and ``review_final`` are set.
"""

from __future__ import annotations

from collections.abc import Callable

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt

Listener = Callable[[UnitOfWork, Attempt], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add (or, by name, replace) a listener; called from a domain's hooks."""
    _listeners[name] = listener


def decided(uow: UnitOfWork, attempt: Attempt) -> None:
    for name in sorted(_listeners):
        _listeners[name](uow, attempt)
