"""Published exams and invitations for delivery tests (and the FACTORIES of
tests/identity/test_authorization.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from invigil.content import exams
from invigil.db.engine import Database
from invigil.delivery import invitations
from invigil.delivery.invitations import Invited, InviteRequest, Kit
from invigil.delivery.links import LinkKey
from invigil.evidence.master import LocalMasterKey
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.content.factories import make_exam


def kit_for(settings: Settings, *, smtp: bool = False, resendable: bool = False) -> Kit:
    """``resendable``: links are also kept sealed under the candidate's data key
    (the master key of ``settings``: the tenant's key must have been made with it)."""
    keys: Path = settings.keys_dir
    return Kit(
        LinkKey(keys / "guest-link.key"),
        SecretBox(keys / "secrets.key"),
        settings.issuer,
        settings.invitation_valid_hours,
        smtp,
        LocalMasterKey(keys) if resendable else None,
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


TYPES = (
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "essay",
    "ordering",
    "matching",
)


def exam_with_every_type(
    db: Database, tenant_id: uuid.UUID, *, settings: dict[str, Any] | None = None, **fields: Any
) -> uuid.UUID:
    """A published exam with one question of each type, in this order (no shuffling
    of questions; options are still shuffled per candidate unless told otherwise)."""
    from tests.content.factories import make_bank, make_question

    bank = make_bank(db, tenant_id)
    ids = [str(make_question(db, tenant_id, bank, kind)) for kind in TYPES]
    base = {"shuffle_questions": False, "proctoring_preset": "practice"}
    return published_exam(
        db,
        tenant_id,
        sections=[{"kind": "fixed", "title": "All types", "question_ids": ids}],
        settings=base | (settings or {}),
        **fields,
    )


def token_of(made: Invited) -> str:
    return made.link.split("/take/", 1)[1]


def attempt_factory(db: Database, tenant: Tenant) -> str:
    """A started attempt (clock running) of tenant ``tenant``."""
    import tempfile

    from invigil.delivery import attempts
    from invigil.delivery.landing import consent_text

    kit = kit_for(Settings(home=Path(tempfile.mkdtemp(prefix="invigil-at-"))))
    made = make_invitation(db, tenant.id, kit)
    with db.unit_of_work(tenant.id) as uow:
        version = attempts.version_of(uow, made.invitation.exam_id, made.invitation.exam_version)
        text = consent_text(version)
        started = attempts.start(
            uow,
            kit.key,
            made.invitation,
            version,
            consent_text=text,
            consent_language="en",
            shown_sha256=attempts.text_sha256(text),
            shown_language="en",
            browser=attempts.Browser(),
        )
        started.attempt.face_seen_at = datetime.now(UTC)  # as if the system check saw a face
        attempts.begin(uow, started.attempt, version, made.invitation)
        return str(started.attempt.id)
