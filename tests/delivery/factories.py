"""Published exams and invitations for delivery tests (and the FACTORIES of
tests/identity/test_authorization.py)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from invigil.content import exams
from invigil.db.engine import Database
from invigil.delivery import invitations
from invigil.delivery.invitations import Invited, InviteRequest, Kit
from invigil.delivery.links import LinkKey
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.content.factories import make_exam


def kit_for(settings: Settings, *, smtp: bool = False) -> Kit:
    keys: Path = settings.keys_dir
    return Kit(
        LinkKey(keys / "guest-link.key"),
        SecretBox(keys / "secrets.key"),
        settings.issuer,
        settings.invitation_valid_hours,
        smtp,
    )


def published_exam(db: Database, tenant_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    exam_id = make_exam(db, tenant_id, **fields)
    with db.unit_of_work(tenant_id) as uow:
        exams.publish_exam(uow, exam_id)
    return exam_id


def make_invitation(
    db: Database,
    tenant_id: uuid.UUID,
    kit: Kit,
    exam_id: uuid.UUID | None = None,
    **changes: Any,
) -> Invited:
    exam_id = exam_id or published_exam(db, tenant_id)
    fields: dict[str, Any] = {
        "name": "Cand Idate",
        "email": f"c{uuid.uuid4().hex[:10]}@example.org",
        "exam": str(exam_id),
    } | changes
    with db.unit_of_work(tenant_id) as uow:
        return invitations.invite(uow, kit, InviteRequest(**fields))


def invitation_factory(db: Database, tenant: Tenant) -> str:
    import tempfile

    kit = kit_for(Settings(home=Path(tempfile.mkdtemp(prefix="invigil-gl-"))))
    return str(make_invitation(db, tenant.id, kit).invitation.id)
