"""Hooks run after a certificate is issued (or renewed), in the issuing
transaction: the certificate mail (:mod:`invigil.certification.mail`), the
renewal bookkeeping. Issuance calls :func:`issued` after every issue; a
hook that raises rolls the issue back with it."""

from __future__ import annotations

from collections.abc import Callable

from invigil.certification.models import Certificate
from invigil.db.uow import UnitOfWork

ISSUED: list[Callable[[UnitOfWork, Certificate], None]] = []


def issued(uow: UnitOfWork, certificate: Certificate) -> None:
    for hook in ISSUED:
        hook(uow, certificate)
