"""The attempt lifecycle as proctoring hears it (docs/adr/0019-layers.md).

Delivery runs attempts; proctoring, a domain above it, watches them and
imports delivery. Delivery never imports proctoring: it tells the proctor
registered here (by :mod:`invigil.proctoring.hooks`, when the proctoring
package is imported; the shell imports every domain at start-up). With no
proctor registered, a save, a heartbeat or a submission fails: a missing
proctor is an error, never an unproctored exam. (The policy frozen with an attempt is read in
proctoring's policy language, which delivery may import: it imports no
domain; see the contract in pyproject.toml.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork

if TYPE_CHECKING:
    from invigil.delivery.models import Attempt
    from invigil.proctoring.policy import Policy


class Proctor(Protocol):
    def policy_of(self, attempt: Attempt) -> Policy:
        """The policy frozen with the attempt (what the player's detectors run)."""
        ...

    def genesis(self, attempt_id: uuid.UUID) -> str:
        """The hash the attempt's event chain starts from (the player's boot state)."""
        ...

    def captures(self, attempt: Attempt) -> tuple[str, ...]:
        """What the policy frozen with the attempt captures (for consents
        recorded before they listed their captures)."""
        ...

    def heard(self, uow: UnitOfWork, attempt: Attempt, now: datetime) -> None:
        """The browser was heard from (a save, a heartbeat): ends a silence."""
        ...

    def evaluate(self, uow: UnitOfWork, attempt: Attempt, now: datetime) -> list[Any]:
        """Decide on episodes still open; the actions taken."""
        ...

    def submitted(self, uow: UnitOfWork, attempt: Attempt) -> None:
        """The attempt was just submitted, in this transaction: seal its events."""
        ...

    def swept(self, db: Database) -> None:
        """Due attempts were closed (the periodic job): notice silent browsers."""
        ...


_registered: list[Proctor] = []


def register(proctor: Proctor) -> None:
    """Called once by the proctoring domain (a second call replaces the first)."""
    _registered[:] = [proctor]


def proctor() -> Proctor:
    if not _registered:
        raise RuntimeError("no proctor registered: the proctoring domain was not loaded")
    return _registered[0]
