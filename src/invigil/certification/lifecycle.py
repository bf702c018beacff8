"""A certificate's life: issue (or renew), and every change of its state.

States: ``issued`` -> ``suspended`` -> ``issued`` (reinstated) ...; any live
state -> ``expired`` (the daily pass, at the expiry) or ``revoked``
(terminal). Each change is a new row (never an edit) with its reason, actor
and time; the certificate's current state is updated in the same
transaction and must equal its last change. Issuing and each change write
their audit entry in that transaction, anchoring the record.

Dates: a certificate is valid from ``issued_at`` until ``expires_at``
(``validity_months`` later, or never). Renewing (a new certificate for a
holder whose previous one of the program is live, or expired within the
grace period) counts from the old expiry when the program says so, else
from now; the new certificate names the one it renews.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from invigil import audit
from invigil.audit.records import anchor
from invigil.certification import records
from invigil.certification.definition import Definition
from invigil.certification.models import Certificate, ProgramVersion, StateChange
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound

# state -> the states it may change to
MOVES: dict[str, tuple[str, ...]] = {
    "issued": ("suspended", "revoked", "expired"),
    "suspended": ("issued", "revoked", "expired"),
    "expired": ("revoked",),
    "revoked": (),
}
LIVE = ("issued", "suspended")


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus calendar months, the day clamped to the month's end."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def definition_of(version: ProgramVersion) -> Definition:
    return Definition.model_validate(version.definition)


def renewable(uow: UnitOfWork, program_id: uuid.UUID, holder_id: uuid.UUID,
              definition: Definition, now: datetime) -> Certificate | None:  # fmt: skip
    """The holder's latest certificate of the program that a new one renews:
    live, or expired no longer than the grace period ago."""
    latest = uow.session.scalars(
        select(Certificate)
        .where(Certificate.program_id == program_id, Certificate.holder_id == holder_id)
        .order_by(Certificate.issued_at.desc(), Certificate.id)
        .limit(1)
    ).first()
    if latest is None or latest.state == "revoked":
        return None
    if latest.state in LIVE:
        return latest
    if (
        latest.expires_at is not None
        and latest.expires_at + timedelta(days=definition.grace_days) >= now
    ):
        return latest
    return None


@dataclass(frozen=True)
class Issue:
    """What a new certificate rests on."""

    version: ProgramVersion
    holder_id: uuid.UUID
    basis: list[dict[str, Any]]
    issued_by: uuid.UUID | None = None
    approved_by: uuid.UUID | None = None


def _next_index(uow: UnitOfWork) -> int:
    # One issuer at a time per tenant takes the next index (and number).
    uow.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('invigil:certificate:' || :t, 0))"),
        {"t": str(uow.tenant)},
    )
    top = uow.session.scalar(select(func.max(Certificate.status_index)))
    return 0 if top is None else top + 1


def number_for(index: int, issued_at: datetime) -> str:
    """The certificate's number as printed: ``C-<year>-<index + 1, 6 digits>``."""
    return f"C-{issued_at.year}-{index + 1:06d}"


def issue(uow: UnitOfWork, req: Issue, *, now: datetime) -> Certificate:
    """Write a certificate (renewing the holder's previous one when it may),
    its first state change, and the audit entries anchoring both."""
    definition = definition_of(req.version)
    previous = renewable(uow, req.version.program_id, req.holder_id, definition, now)
    expires = None
    if definition.validity_months is not None:
        start = now
        if (
            previous is not None
            and definition.renew_from == "expiry"
            and previous.expires_at is not None
        ):
            start = previous.expires_at
        expires = add_months(start, definition.validity_months)
        if expires <= now:  # renewing long after the old expiry: count from now
            expires = add_months(now, definition.validity_months)
    index = _next_index(uow)
    cert = Certificate(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        number=number_for(index, now),
        program_id=req.version.program_id,
        program_version_id=req.version.id,
        holder_id=req.holder_id,
        issued_at=now,
        expires_at=expires,
        basis=req.basis,
        renews_id=previous.id if previous is not None else None,
        status_index=index,
        issued_by=req.issued_by,
        approved_by=req.approved_by,
        state="issued",
        state_seq=1,
        state_changed_at=now,
    )
    uow.add(cert)
    change = StateChange(
        tenant_id=uow.tenant, id=uuid.uuid4(), certificate_id=cert.id, seq=1, from_state=None,
        state="issued", reason="issued" if previous is None else f"renews {previous.number}",
        changed_by=req.issued_by or req.approved_by, changed_at=now,
    )  # fmt: skip
    uow.add(change)
    uow.flush()
    record = records.certificate(uow, cert.id)
    audit.record(
        uow,
        "certificate.issued",
        ("certificate", cert.id),
        {
            "number": cert.number,
            "program_id": str(cert.program_id),
            "program_version_id": str(cert.program_version_id),
            "holder_id": str(cert.holder_id),
            "renews": str(previous.id) if previous is not None else None,
            "anchor": anchor(record.kind, record.sha256),
        },
    )
    _record_change(uow, change)
    return cert


def _record_change(uow: UnitOfWork, change: StateChange) -> None:
    record = records.state_change(uow, change.id)
    audit.record(
        uow,
        "certificate.state_changed",
        ("certificate_state_change", change.id),
        {
            "certificate_id": str(change.certificate_id),
            "seq": change.seq,
            "from": change.from_state,
            "state": change.state,
            "anchor": anchor(record.kind, record.sha256),
        },
    )


def locked(uow: UnitOfWork, certificate_id: uuid.UUID) -> Certificate:
    cert = uow.session.scalars(
        select(Certificate).where(Certificate.id == certificate_id).with_for_update()
    ).first()
    if cert is None:
        raise NotFound("no such certificate")
    return cert


def change_state(
    uow: UnitOfWork,
    certificate_id: uuid.UUID,
    to: str,
    reason: str,
    *,
    now: datetime,
    by: uuid.UUID | None = None,
    expect_seq: int | None = None,
) -> StateChange:
    """Move a certificate to state ``to`` with a reason: a new change row,
    the current state updated, audited and anchored. ``expect_seq``: the
    change the caller saw (a page's form); another change since is a 409."""
    reason = reason.strip()
    if not reason:
        raise Invalid("say why the state changes", field="reason")
    if len(reason) > 1000:
        raise Invalid("the reason is at most 1000 characters", field="reason")
    cert = locked(uow, certificate_id)
    if expect_seq is not None and cert.state_seq != expect_seq:
        raise Conflict("the certificate changed since you saw it: load the page again")
    if to not in MOVES.get(cert.state, ()):
        raise Conflict(f"a certificate that is {cert.state} cannot become {to}", field="state")
    change = StateChange(
        tenant_id=uow.tenant, id=uuid.uuid4(), certificate_id=cert.id, seq=cert.state_seq + 1,
        from_state=cert.state, state=to, reason=reason, changed_by=by, changed_at=now,
    )  # fmt: skip
    uow.add(change)
    cert.state, cert.state_seq, cert.state_changed_at = to, change.seq, now
    try:
        uow.flush()
    except IntegrityError:
        raise Conflict("the certificate changed just now: load the page again") from None
    _record_change(uow, change)
    return change


def history(uow: UnitOfWork, certificate_id: uuid.UUID) -> list[StateChange]:
    return list(
        uow.session.scalars(
            select(StateChange)
            .where(StateChange.certificate_id == certificate_id)
            .order_by(StateChange.seq)
        )
    )
