"""Demo invitations: a few candidates invited to ``standard-demo`` (idempotent:
a candidate who already has an invitation to it is left alone). Without SMTP
their mails land in the outbox (not sent); with SMTP none is queued, as the
addresses are not real. The links are kept nowhere: make a new one on the
Candidates page to open a demo invitation."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery import invitations
from invigil.delivery.candidates import find_by_email
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import Invitation

EXAM = "standard-demo"
CANDIDATES = (
    ("Ada Lovelace", "ada.lovelace", "HR-1001", 0),
    ("Alan Turing", "alan.turing", "HR-1002", 25),
    ("Grace Hopper", "grace.hopper", "HR-1003", 0),
)


def seed_invitations(db: Database, tenant_id: uuid.UUID, slug: str, kit: Kit) -> bool:
    created = False
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        exam, _ = invitations.published_exam(uow, EXAM)
        for name, local, ref, extra in CANDIDATES:
            email = f"{local}@candidates.{slug}.test"
            found = find_by_email(uow, email)
            if found is not None:
                already = uow.scalar(
                    select(Invitation.id).where(
                        Invitation.candidate_id == found.id, Invitation.exam_id == exam.id
                    )
                )
                if already is not None:
                    continue
            invitations.invite(
                uow,
                kit,
                InviteRequest(
                    name=name,
                    email=email,
                    exam=EXAM,
                    external_ref=ref,
                    extra_time_percent=extra,
                    valid_hours=30 * 24,
                    send_mail=not kit.smtp,
                ),
            )
            created = True
    return created
