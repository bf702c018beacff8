"""Who hears that grading issued a result revision: every answer has its
final mark, or a regrade changed one (docs/adr/0019-layers.md).

Results issues graded revisions (:func:`invigil.results.grading.issue_revision`,
the one place); the domains above it (certification evaluates the holder
once a result is final) register a listener here from their ``hooks.py``.
Listeners run in the grading transaction, after the revision is stored and
released: what they write commits or rolls back with it, so they should
only queue work (a job) rather than do it.
"""

from __future__ import annotations

from collections.abc import Callable

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, AttemptResult

Listener = Callable[[UnitOfWork, Attempt, AttemptResult], None]

_listeners: dict[str, Listener] = {}


def register(name: str, listener: Listener) -> None:
    """Add (or, by name, replace) a listener; called from a domain's hooks."""
    _listeners[name] = listener


def issued(uow: UnitOfWork, attempt: Attempt, result: AttemptResult) -> None:
    for name in sorted(_listeners):
        _listeners[name](uow, attempt, result)
