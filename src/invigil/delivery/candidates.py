"""Candidates: one per email (case-folded) per tenant."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import Invalid
from invigil.identity.service import normalise_email


def find_by_email(uow: UnitOfWork, email: str) -> Candidate | None:
    """Case-insensitively. The address as stored is tried first: ``lower()``
    is not leakproof, so under row-level security no index serves it and it
    reads every candidate of the tenant; ``ix_candidates_email`` (0036) finds
    an exact match at once (the recertification pass invites holders by the
    address on their record)."""
    exact = uow.scalar(select(Candidate).where(Candidate.email == email))
    if exact is not None:
        return exact
    return uow.scalar(select(Candidate).where(func.lower(Candidate.email) == email.lower()))


def find_or_create(uow: UnitOfWork, *, name: str, email: str, external_ref: str = "") -> Candidate:
    """The tenant's candidate with this email; a new one when there is none.
    An existing candidate keeps their name; a missing external reference is filled in."""
    email = normalise_email(email)
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("a candidate's name needs 1-200 characters")
    if len(external_ref) > 200:
        raise Invalid("an external reference has at most 200 characters")
    found = find_by_email(uow, email)
    if found is not None:
        if external_ref and not found.external_ref:
            found.external_ref = external_ref.strip()
        return found
    candidate = Candidate(
        tenant_id=uow.tenant, name=name, email=email, external_ref=external_ref.strip()
    )
    try:
        with uow.session.begin_nested():  # two invitations of a new email at once
            uow.add(candidate)
            uow.flush()
    except IntegrityError:
        raced = find_by_email(uow, email)
        if raced is None:
            raise
        return raced
    # The candidate's id is the subject: the log holds no name, e-mail or reference.
    audit.record(
        uow, "candidate.created", candidate, {"external_ref": bool(candidate.external_ref)}
    )
    return candidate
