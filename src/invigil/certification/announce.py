"""Who hears that a certificate was issued (mail to the holder, renewal
bookkeeping, ...). Issuance calls :func:`issued` after every certificate it
writes, in the issuing transaction: what a hook writes (an outbox mail, a
notice) commits or rolls back with the certificate. A hook must not commit
and must not fail for a reason the issue itself would not."""

from __future__ import annotations

from collections.abc import Callable

from invigil.certification.models import Certificate
from invigil.db.uow import UnitOfWork

Hook = Callable[[UnitOfWork, Certificate], None]

ISSUED: list[Hook] = []


def register(hook: Hook) -> None:
    """Add a hook (idempotent: importing twice registers once)."""
    if hook not in ISSUED:
        ISSUED.append(hook)


def issued(uow: UnitOfWork, certificate: Certificate) -> None:
    for hook in list(ISSUED):
        hook(uow, certificate)
