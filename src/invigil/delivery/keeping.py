"""How long a candidate's data is kept, as delivery tells it
(docs/adr/0019-layers.md).

Retention, a domain above delivery, owns the tenant's retention policy;
delivery never imports it. It registers a keeper here (from
:mod:`invigil.retention.hooks`, when the retention package is imported; the
shell imports every domain at start-up). An attempt freezes the policy
version in force when it starts (``attempts.retention_version``), and the
consent text the candidate agrees to states that version's periods. With no
keeper registered the consent text is the one frozen at publish, and
nothing is frozen with the attempt.
"""

from __future__ import annotations

from typing import Protocol

from invigil.content.consent import Kept
from invigil.db.uow import UnitOfWork


class Keeper(Protocol):
    def version_in_force(self, uow: UnitOfWork) -> int:
        """The tenant's retention policy version in force now (0: the defaults)."""
        ...

    def kept(self, uow: UnitOfWork, version: int, preset: str) -> Kept:
        """The periods of ``version`` for an exam under ``preset``."""
        ...


_registered: list[Keeper] = []


def register(keeper: Keeper) -> None:
    """Set the keeper (a second registration replaces the first)."""
    _registered[:] = [keeper]


def version_in_force(uow: UnitOfWork) -> int | None:
    """The version an attempt starting now freezes; None with no keeper."""
    return _registered[0].version_in_force(uow) if _registered else None


def kept(uow: UnitOfWork, version: int | None, preset: str) -> Kept | None:
    """The periods the consent text states for ``version`` (None: no version
    is known, the text frozen at publish is told as it is)."""
    if version is None or not _registered:
        return None
    return _registered[0].kept(uow, version, preset)
